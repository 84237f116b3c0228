import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { startHub, type Hub } from '../../src/server/app';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { createTestDatabase, type TestDatabase } from './database';

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface TestHub {
  url: string;
  hub: Hub;
  adminToken: string;
  /** The hub's ID-number key: a second process on the same database needs the same one. */
  idNumberKey: Buffer;
  database: TestDatabase;
  /** Every line the hub logged, for tests that check what never reaches a log. */
  logLines: string[];
  /** Runs a typed operation over HTTP, as a client would. */
  request<R, V>(doc: TypedDocumentNode<R, V>, variables?: V, token?: string): Promise<GraphQLResponse<R>>;
  /** Like request, but fails the test on any error and returns data. */
  ok<R, V>(doc: TypedDocumentNode<R, V>, variables?: V, token?: string): Promise<R>;
  stop(): Promise<void>;
}

/** A hub on a fresh database, listening on a free port. */
export async function startTestHub(env: Record<string, string> = {}): Promise<TestHub> {
  const database = await createTestDatabase();
  const adminToken = `admin_${randomBytes(24).toString('hex')}`;
  const idNumberKey = randomBytes(32);
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      // TEST_HUB_LOG=1: the hub's log on stderr too, for finding out why a test failed.
      if (process.env.TEST_HUB_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  // Rate limits are tested on their own (test/server/rate-limit.api.test.ts); elsewhere they would only make tests flaky.
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    HUB_EXPIRY_SWEEP: '1h',
    HUB_RATE_LIMIT_PER_MINUTE: '10000000',
    HUB_RATE_LIMIT_BURST: '10000000',
    ...env,
  });
  const hub = await startHub({
    config,
    logger: createLogger(config.logLevel, sink),
    databaseUrl: database.url,
    adminToken,
    idNumberKey,
  });
  const request = async <R, V>(doc: TypedDocumentNode<R, V>, variables?: V, token?: string) => {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: print(doc), variables }),
    });
    return (await res.json()) as GraphQLResponse<R>;
  };
  return {
    url: hub.url,
    hub,
    adminToken,
    idNumberKey,
    database,
    logLines,
    request,
    async ok(doc, variables, token) {
      const res = await request(doc, variables, token);
      if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
      return res.data!;
    },
    async stop() {
      await hub.stop();
      await database.stop();
    },
  };
}

/**
 * Another hub process on the same database (same administrator token and
 * ID-number key), as a second instance behind a load balancer would be. Stop
 * it before the first hub, which owns the database.
 */
export async function startAnotherHub(first: TestHub, env: Record<string, string> = {}): Promise<Hub> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    HUB_EXPIRY_SWEEP: '1h',
    HUB_RATE_LIMIT_PER_MINUTE: '10000000',
    HUB_RATE_LIMIT_BURST: '10000000',
    ...env,
  });
  return startHub({
    config,
    logger: createLogger(config.logLevel),
    databaseUrl: first.database.url,
    adminToken: first.adminToken,
    idNumberKey: first.idNumberKey,
  });
}

/** The contract's error code of the first error. */
export function codeOf(res: GraphQLResponse<unknown>): unknown {
  return res.errors?.[0]?.extensions?.code;
}
