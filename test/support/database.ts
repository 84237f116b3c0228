import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbedded } from '../../src/db/embedded';

export interface TestDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * TEST_DATABASE_URL set: a fresh, uniquely named database (hub_test_<random>)
 * on that server, dropped on stop. Otherwise: a throwaway embedded server in
 * a temporary folder, deleted on stop.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) return createOnServer(serverUrl);

  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hub-test-pg-'));
  const db = await startEmbedded({ dataDir, persistent: false });
  return { url: db.url, stop: () => db.stop() };
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function createOnServer(serverUrl: string): Promise<TestDatabase> {
  const name = `hub_test_${crypto.randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`create database ${c.escapeIdentifier(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let stopping: Promise<void> | undefined;
  return {
    url: url.toString(),
    stop: () =>
      (stopping ??= withClient(serverUrl, async (c) => {
        // FORCE: a pool the test forgot to close must not keep the database alive.
        await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
      })),
  };
}
