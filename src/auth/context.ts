import { inTransaction } from '../db/transaction';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../shared/config';
import type { Actor } from './actor';

/** Settings and keys that services need, fixed at start. */
export interface HubSettings {
  config: Config;
  /** 32-byte key: ID-number encryption and the keyed lookup hash. */
  idNumberKey: Buffer;
  /** Ends an account's open WebSockets in this process once its token is revoked; plugged in by the server. */
  closeConnectionsOf?: (accountId: string) => void;
  /** Forgets an account's token in this process's cache (token-cache.ts) once its revocation has committed. */
  forgetAccount?: (accountId: string) => void;
}

/**
 * Need to know (DOMAIN.md §6), decided in one place (src/access) and plugged
 * in by the server, so that modules below it ask without knowing the rules.
 */
export interface AccessPolicy {
  /** The subset of `personIds` the caller may see (party to one of the person's cases or referrals). */
  visiblePersons(ctx: RequestContext, personIds: readonly string[]): Promise<Set<string>>;
  /**
   * visiblePersons for persons about to be shown, each visible one's read audited ('person.read'): in the
   * checking statement itself where the request allows it (`readsAuditedInline`), else at the end of the request.
   */
  readVisiblePersons(ctx: RequestContext, personIds: readonly string[]): Promise<Set<string>>;
  /**
   * readVisiblePersons for one person whose rights this request already knows (a station's own page, a
   * person checked earlier in the request), answered at once: true or false as it would answer, the read
   * noted for the audit alike. Undefined when the rights are not known yet: ask readVisiblePersons.
   */
  readVisiblePersonNow(ctx: RequestContext, personId: string): boolean | undefined;
  /** Whether the caller may see this person's ID number whole (police, the holding station, the origin office of a return). */
  mayRevealIdNumber(ctx: RequestContext, personId: string): Promise<boolean>;
  /** Whether the caller may see this person's diagnoses (the station and the hospital, 精神卫生法 第四条). */
  maySeeDiagnoses(ctx: RequestContext, personId: string): Promise<boolean>;
  /**
   * In memory, without a statement: whether the caller is requester, sender, receiver or escort of this
   * referral (the administrator: always), which is enough to see its person. False is no answer: ask
   * `visiblePersons`.
   */
  isPartyToReferral(ctx: RequestContext, referral: ReferralParties): boolean;
  /**
   * In memory, without a statement: a case read with its station tells what that station may see of the
   * case's person (party, ID number whole, diagnoses), so a page of its own cases needs no check. For any
   * other caller it tells nothing and changes nothing.
   */
  stationCase(ctx: RequestContext, personId: string, stationId: string): void;
}

/** The agencies a referral row names (Referral's columns). */
export interface ReferralParties {
  requestedById: string;
  fromAgencyId: string;
  toAgencyId: string;
  escortAgencyId: string | null;
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
  access: AccessPolicy;
  /** Per-request memo: each module keeps its DataLoaders here (see `perRequest`). */
  memo: Map<symbol, unknown>;
  /**
   * An HTTP request's own: reads of persons may be audited by the statement that reads them. Never set for a
   * WebSocket operation, whose payloads may be executed once for several subscribers (shared-execution.ts).
   */
  readsAuditedInline?: boolean;
}

const LOADER_KEYS = new Set<symbol>();

/** A value created once per request on first use, e.g. a module's loaders. */
export function perRequest<T>(key: symbol, create: (ctx: RequestContext) => T): (ctx: RequestContext) => T {
  LOADER_KEYS.add(key);
  return (ctx) => {
    let v = ctx.memo.get(key) as T | undefined;
    if (v === undefined) {
      v = create(ctx);
      ctx.memo.set(key, v);
    }
    return v;
  };
}

/**
 * Forgets what this request's loaders cached. A mutation calls it after its
 * transaction (see inRequestTransaction): the record it returns must show the
 * state it just committed, not what a check read before the change.
 */
export function freshLoaders(ctx: RequestContext): void {
  for (const key of LOADER_KEYS) ctx.memo.delete(key);
}

/** inTransaction for a request: one transaction, then fresh loaders for reading the result. */
export async function inRequestTransaction<T>(ctx: RequestContext, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await inTransaction(ctx.db, work);
  } finally {
    freshLoaders(ctx);
  }
}
