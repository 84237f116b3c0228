import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateToken } from '../auth/token';

/**
 * A secret kept in the data folder: generated on first start (mode 0600),
 * reused afterwards. Only for the embedded database, whose data lives in the
 * same folder anyway.
 */
function kept(dataDir: string, file: string, create: () => string): { value: string; created: boolean } {
  const p = path.join(dataDir, file);
  if (existsSync(p)) return { value: readFileSync(p, 'utf8').trim(), created: false };
  mkdirSync(dataDir, { recursive: true });
  const value = create();
  writeFileSync(p, value + '\n', { mode: 0o600 });
  return { value, created: true };
}

export const keptAdminToken = (dataDir: string) => kept(dataDir, 'admin-token', generateToken);
export const keptIdNumberKey = (dataDir: string) => kept(dataDir, 'id-number-key', () => randomBytes(32).toString('hex'));
