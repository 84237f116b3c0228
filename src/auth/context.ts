import type { DataSource } from 'typeorm';
import type { Config } from '../shared/config';
import type { Actor } from './actor';

/** Settings and keys that services need, fixed at start. */
export interface HubSettings {
  config: Config;
  /** 32-byte key: ID-number encryption and the keyed lookup hash. */
  idNumberKey: Buffer;
}

/**
 * What every resolver receives: built fresh for each HTTP request and each
 * WebSocket operation, so that loaders (kept in `memo`) never carry one
 * agency's data into another's request.
 */
export interface RequestContext {
  actor: Actor;
  requestId: string;
  db: DataSource;
  settings: HubSettings;
  /** Per-request memo: each module keeps its DataLoaders here (see `perRequest`). */
  memo: Map<symbol, unknown>;
}

/** A value created once per request on first use, e.g. a module's loaders. */
export function perRequest<T>(key: symbol, create: (ctx: RequestContext) => T): (ctx: RequestContext) => T {
  return (ctx) => {
    let v = ctx.memo.get(key) as T | undefined;
    if (v === undefined) {
      v = create(ctx);
      ctx.memo.set(key, v);
    }
    return v;
  };
}
