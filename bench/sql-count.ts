import 'reflect-metadata';
import crypto from 'node:crypto';
import pg from 'pg';
import { startHub } from '../src/server/app';
import { loadConfig } from '../src/shared/config';
import { createLogger } from '../src/shared/logger';
import { bearer, requestBody } from './client';

/**
 * SQL statements per request, counted exactly: the hub runs in this process
 * once, with pg's Client.prototype.query wrapped (TypeORM and the hub's own
 * queries all go through it), and each request is sent alone. Needs no
 * pg_stat_statements (shared_preload_libraries is not available on every server).
 */

export interface SqlCount {
  label: string;
  statements: number;
  /** Rows of the page (dashboard) or 1 (person). */
  rows: number;
  bytes: number;
  /** First words of each statement, in order: the evidence. */
  heads: string[];
  /**
   * Buffer pages (8 KB, shared hits + reads) the request's reading statements touched, by EXPLAIN (ANALYZE,
   * BUFFERS) of each with its own parameters afterwards: the same at any scale when every read is an index
   * lookup bounded by the page, and growing with history when something scans.
   */
  pages: number;
}

export interface CountedRequest {
  label: string;
  token: string;
  query: string;
  variables: Record<string, unknown>;
  rows: (data: unknown) => number;
}

type QueryFn = (...args: unknown[]) => unknown;

export async function countStatements(databaseUrl: string, requests: CountedRequest[]): Promise<SqlCount[]> {
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  let log: { text: string; values: unknown[] }[] | null = null;
  proto.query = function (this: unknown, ...args: unknown[]) {
    if (log) {
      const q = args[0] as string | { text?: string; values?: unknown[] };
      const text = typeof q === 'string' ? q : (q?.text ?? '?');
      const values = (typeof q === 'string' ? args[1] : q?.values) as unknown[] | undefined;
      log.push({ text, values: Array.isArray(values) ? values : [] });
    }
    return original.apply(this, args);
  };
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    HUB_EXPIRY_SWEEP: '1h',
    HUB_RATE_LIMIT_PER_MINUTE: '10000000',
    HUB_RATE_LIMIT_BURST: '10000000',
    // What building the page costs: with the page cache the second of two identical requests would be answered
    // from it, in one statement (test/cases/page-cache.api.test.ts), whatever the page's size.
    HUB_PAGE_CACHE_ENTRIES: '0',
  });
  const hub = await startHub({
    config,
    logger: createLogger('warn'),
    databaseUrl,
    idNumberKey: crypto.randomBytes(32),
    adminToken: crypto.randomBytes(24).toString('hex'),
  });
  try {
    const out: SqlCount[] = [];
    for (const r of requests) {
      // The second of two identical requests: the first may warm caches (prepared metadata, loaders' modules).
      let result: SqlCount | undefined;
      for (let i = 0; i < 2; i++) {
        log = [];
        const res = await fetch(hub.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...bearer(r.token) },
          body: requestBody(r.query, r.variables),
        });
        const text = await res.text();
        await new Promise((done) => setTimeout(done, 50)); // anything the request still does after its answer counts too
        const statements = log;
        log = null;
        const json = JSON.parse(text) as { data?: unknown; errors?: unknown[] };
        if (json.errors?.length) throw new Error(`${r.label}: ${JSON.stringify(json.errors).slice(0, 300)}`);
        result = {
          label: r.label,
          statements: statements.length,
          rows: r.rows(json.data),
          bytes: Buffer.byteLength(text),
          heads: statements.map((q) => q.text.replace(/\s+/g, ' ').trim().slice(0, 90)),
          pages: i === 1 ? await pagesTouched(databaseUrl, statements) : 0,
        };
      }
      out.push(result!);
    }
    return out;
  } finally {
    proto.query = original;
    await hub.stop();
  }
}

/**
 * Buffer pages the reading statements (SELECT, WITH) touch. A bare write (the dashboard's audit INSERT) is not
 * re-run; a reading statement that also writes (a person read with its audit entry, a data-modifying CTE) is
 * re-run in a transaction that is rolled back, so that the count leaves nothing behind.
 */
async function pagesTouched(databaseUrl: string, statements: { text: string; values: unknown[] }[]): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    let pages = 0;
    for (const q of statements) {
      if (!/^\s*(SELECT|WITH)\b/i.test(q.text)) continue;
      const writes = /\b(INSERT|UPDATE|DELETE)\b/i.test(q.text);
      if (writes) await client.query('BEGIN');
      try {
        const res = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.text}`, q.values);
        const plan = (res.rows[0] as { 'QUERY PLAN': { Plan: Record<string, number> }[] })['QUERY PLAN'][0].Plan;
        pages += (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
      } finally {
        if (writes) await client.query('ROLLBACK');
      }
    }
    return pages;
  } finally {
    await client.end();
  }
}
