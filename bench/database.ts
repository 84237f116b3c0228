import 'reflect-metadata';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbedded, type EmbeddedDatabase } from '../src/db/embedded';
import { createDataSource } from '../src/db/data-source';
import { ENTITIES } from '../src/server/entities';

export interface BenchDatabase {
  url: string;
  /** What the results should say about the server. */
  description: string;
  stop(): Promise<void>;
}

/**
 * Settings for the embedded server, applied with ALTER SYSTEM and a restart:
 * the defaults (128 MB shared buffers, 1 GB of WAL between checkpoints) are
 * for a laptop, not for a server of this size. Durability stays on
 * (fsync, synchronous_commit): every write the hub makes pays its commit.
 */
export const EMBEDDED_SETTINGS: Record<string, string> = {
  shared_buffers: '2GB',
  effective_cache_size: '8GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  max_connections: '300',
  // No replicas: bulk loads into tables emptied in the same transaction then skip the WAL (bench/generate.ts).
  wal_level: 'minimal',
  max_wal_senders: '0',
  ...(process.env.BENCH_PG_STATEMENTS === '1' ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : {}),
};

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * BENCH_DATABASE_URL (or DATABASE_URL) set: a fresh database hub_bench_<random>
 * on that server (the role needs CREATEDB), dropped afterwards unless
 * BENCH_KEEP=1. Otherwise an embedded PostgreSQL in a temporary folder,
 * deleted afterwards.
 */
export async function startBenchDatabase(log: (msg: string) => void): Promise<BenchDatabase> {
  const serverUrl = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL;
  const keep = process.env.BENCH_KEEP === '1';
  if (serverUrl) {
    const name = `hub_bench_${crypto.randomBytes(4).toString('hex')}`;
    await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const version = await withClient(url.toString(), async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string);
    log(`database: ${name} on ${url.host} (PostgreSQL ${version})`);
    return {
      url: url.toString(),
      description: `PostgreSQL ${version} at ${url.host} (BENCH_DATABASE_URL)`,
      stop: async () => {
        if (keep) return log(`kept database ${name} (BENCH_KEEP=1)`);
        await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
      },
    };
  }
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hub-bench-pg-'));
  const quiet = () => {};
  let db: EmbeddedDatabase = await startEmbedded({ dataDir, persistent: true, log: quiet });
  await withClient(db.url, async (c) => {
    for (const [k, v] of Object.entries(EMBEDDED_SETTINGS)) await c.query(`ALTER SYSTEM SET ${k} = '${v}'`);
  });
  await db.stop();
  db = await startEmbedded({ dataDir, persistent: true, log: quiet });
  const version = await withClient(db.url, async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string);
  const settings = Object.entries(EMBEDDED_SETTINGS)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  log(`database: embedded PostgreSQL ${version} in ${dataDir} (port ${db.port}; ${settings})`);
  return {
    url: db.url,
    description: `embedded PostgreSQL ${version}${db.socketDir ? ' through its Unix socket' : ''}, durable (fsync and synchronous_commit on), ${settings}`,
    stop: async () => {
      await db.stop();
      if (keep) return log(`kept ${dataDir} (BENCH_KEEP=1)`);
      await fsp.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The hub's own migrations, as startHub would apply them. */
export async function migrate(url: string): Promise<number> {
  const ds = createDataSource({ url, entities: ENTITIES, poolSize: 1, applicationName: 'hub-bench-migrate' });
  await ds.initialize();
  try {
    return (await ds.runMigrations({ transaction: 'each' })).length;
  } finally {
    await ds.destroy();
  }
}
