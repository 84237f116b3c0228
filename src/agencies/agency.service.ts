import type { DataSource } from 'typeorm';
import { appendAudit } from '../audit/audit.service';
import { AccountRole, AgencyKind, requireAdmin } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { generateToken, hashToken } from '../auth/token';
import { ACCOUNT_REVOKED_CHANNEL } from '../auth/token-cache';
import { badInput, notFound } from '../shared/errors';
import { isRegionCode } from '../shared/region-code';
import { uuidOf } from '../shared/relay';
import { checkStorableText, codePointLength } from '../shared/text';
import { Account } from './account.entity';
import { Agency } from './agency.entity';
import type { CreateAgencyInput, IssueAccessTokenInput } from './agency.input';

/** Trimmed, 1..max characters (code points, as varchar(n) counts them); the rejection names the field (nothing silently cut). */
export function requiredText(field: string, raw: string, max: number): string {
  const v = checkStorableText(field, raw).trim();
  if (v.length === 0) throw badInput(field, `${field} must not be empty.`);
  if (codePointLength(v) > max) throw badInput(field, `${field} must be at most ${max} characters.`);
  return v;
}

export function checkRegionCode(field: string, raw: string): string {
  if (!isRegionCode(raw)) {
    throw badInput(field, 'A region code is six digits whose first two are a province code (GB/T 2260).');
  }
  return raw;
}

export async function createAgency(ctx: RequestContext, input: CreateAgencyInput): Promise<Agency> {
  requireAdmin(ctx.actor);
  const name = requiredText('input.name', input.name, 100);
  const regionCode = checkRegionCode('input.regionCode', input.regionCode);
  const shortCode = input.shortCode ?? `S${regionCode}`;
  if (!/^[A-Z][A-Z0-9]{1,7}$/.test(shortCode)) {
    throw badInput('input.shortCode', 'shortCode is 2-8 capital letters or digits, starting with a letter.');
  }
  return inRequestTransaction(ctx, async (tx) => {
    const agency = await tx.getRepository(Agency).save(tx.getRepository(Agency).create({ kind: input.kind, name, regionCode, shortCode }));
    await appendAudit(tx, ctx, [{ action: 'agency.create', subjectType: 'Agency', subjectId: agency.id }]);
    return agency;
  });
}

export async function issueAccessToken(ctx: RequestContext, input: IssueAccessTokenInput): Promise<{ token: string; account: Account }> {
  requireAdmin(ctx.actor);
  const agencyId = uuidOf('Agency', input.agencyId, 'input.agencyId');
  const displayName = requiredText('input.displayName', input.displayName, 100);
  return inRequestTransaction(ctx, async (tx) => {
    const agency = await tx.getRepository(Agency).findOneBy({ id: agencyId });
    if (!agency) throw badInput('input.agencyId', 'No such agency.');
    const token = generateToken();
    const account = await tx
      .getRepository(Account)
      .save(
        tx
          .getRepository(Account)
          .create({ agencyId, displayName, role: input.role ?? AccountRole.STAFF, tokenHash: hashToken(token), revokedAt: null }),
      );
    await appendAudit(tx, ctx, [{ action: 'account.issueToken', subjectType: 'Account', subjectId: account.id }]);
    return { token, account };
  });
}

/**
 * `regionCode` follows GB/T 2260's hierarchy: 430406 is one county, 430400
 * the whole prefecture, 430000 the whole province.
 */
export async function listAgencies(db: DataSource, kind: AgencyKind | undefined, regionCode: string | undefined): Promise<Agency[]> {
  const qb = db.getRepository(Agency).createQueryBuilder('a').orderBy('a.name').addOrderBy('a.id');
  if (kind) qb.andWhere('a.kind = :kind', { kind });
  if (regionCode !== undefined) {
    checkRegionCode('regionCode', regionCode);
    const prefix = regionCode.endsWith('0000') ? regionCode.slice(0, 2) : regionCode.endsWith('00') ? regionCode.slice(0, 4) : regionCode;
    qb.andWhere('a.region_code LIKE :prefix', { prefix: `${prefix}%` });
  }
  return qb.getMany();
}

/**
 * Revokes an account's token. This process refuses it from the commit on and
 * closes the account's open WebSockets; every other process does the same
 * when the revocation's NOTIFY reaches it (milliseconds later), or at the
 * latest at its next re-check (HUB_WS_ACCOUNT_RECHECK) and its token cache's
 * bound (HUB_TOKEN_CACHE). Revoking twice keeps the first time.
 */
export async function revokeAccessToken(ctx: RequestContext, accountId: string): Promise<Account> {
  requireAdmin(ctx.actor);
  const uuid = uuidOf('Account', accountId, 'accountId');
  const account = await inRequestTransaction(ctx, async (tx) => {
    const revoked = await tx
      .createQueryBuilder()
      .update(Account)
      .set({ revokedAt: () => 'now()' })
      .where('id = :uuid AND revoked_at IS NULL', { uuid })
      .execute();
    const account = await tx.getRepository(Account).findOneBy({ id: uuid });
    if (!account) throw notFound('Account');
    if (revoked.affected) {
      await appendAudit(tx, ctx, [{ action: 'account.revokeToken', subjectType: 'Account', subjectId: uuid }]);
      // Delivered to every hub process at the commit: each forgets the token it may have cached and closes the
      // account's WebSockets (token-cache.ts). Revocations are rare; the NOTIFY's commit-order lock costs nothing here.
      await tx.query('SELECT pg_notify($1, $2)', [ACCOUNT_REVOKED_CHANNEL, uuid]);
    }
    return account;
  });
  ctx.settings.forgetAccount?.(uuid);
  ctx.settings.closeConnectionsOf?.(uuid);
  return account;
}

export async function getAccount(db: DataSource, uuid: string): Promise<Account> {
  const account = await db.getRepository(Account).findOneBy({ id: uuid });
  if (!account) throw notFound('Account');
  return account;
}
