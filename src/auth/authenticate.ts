import type { DataSource } from 'typeorm';
import type { Actor } from './actor';
import { AccountRole, AgencyKind } from './actor';
import { timingSafeEqual } from 'node:crypto';
import { configuredTokenHash, hashToken } from './token';
import type { TokenCache } from './token-cache';
import { unauthenticated } from '../shared/errors';

/**
 * Turns a bearer token into an Actor. No token: anonymous (introspection
 * and `viewer` decide what that may see). An unknown or revoked token is
 * UNAUTHENTICATED at once, so a client with a bad token learns it on its
 * first call.
 */
export async function authenticate(
  db: DataSource,
  adminToken: string | undefined,
  token: string | undefined,
  cache?: TokenCache,
): Promise<Actor> {
  if (token === undefined) return { kind: 'anonymous' };
  const hash = hashToken(token);
  if (adminToken !== undefined && timingSafeEqual(hash, configuredTokenHash(adminToken))) return { kind: 'admin' };
  const key = hash.toString('base64');
  const known = cache?.get(key);
  if (known) return known;
  const generation = cache?.begin() ?? 0;
  const rows: { account_id: string; role: AccountRole; agency_id: string; kind: AgencyKind; region_code: string }[] = await db.query(
    `SELECT a.id AS account_id, a.role, g.id AS agency_id, g.kind, g.region_code
         FROM account a JOIN agency g ON g.id = a.agency_id
        WHERE a.token_hash = $1 AND a.revoked_at IS NULL`,
    [hash],
  );
  const row = rows[0];
  if (!row) throw unauthenticated('Unknown or revoked token.');
  const actor: Actor = {
    kind: 'account',
    accountId: row.account_id,
    role: row.role,
    agencyId: row.agency_id,
    agencyKind: row.kind,
    agencyRegionCode: row.region_code,
  };
  cache?.keep(key, actor, generation);
  return actor;
}

/** Of the given accounts, those whose token still authenticates (not revoked): one query for any number. */
export async function activeAccountIds(db: DataSource, accountIds: string[]): Promise<Set<string>> {
  if (accountIds.length === 0) return new Set();
  const rows: { id: string }[] = await db.query(`SELECT id FROM account WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`, [accountIds]);
  return new Set(rows.map((r) => r.id));
}
