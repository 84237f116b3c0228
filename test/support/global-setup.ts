import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { startEmbedded } from '../../src/db/embedded';

/**
 * One PostgreSQL server for the whole run: TEST_DATABASE_URL when set, else
 * a throwaway embedded server. Each test file then creates its own database
 * on it (test/support/database.ts), so files run in parallel without sharing rows.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) return;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hub-test-pg-'));
  const server = await startEmbedded({ dataDir, persistent: false, database: 'postgres' });
  (globalThis as { __hubTestPg?: typeof server }).__hubTestPg = server;
  process.env.TEST_DATABASE_URL = server.url;
}
