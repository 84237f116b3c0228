import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { perRequest, type RequestContext } from '../auth/context';
import { Account } from './account.entity';
import type { Now } from '../db/known-loader';
import { agenciesById, cachedAgency } from './agency.cache';
import type { Agency } from './agency.entity';

/** Values in key order, same length, null for misses (DataLoader's contract). */
export function byId<T extends { id: string }>(keys: readonly string[], rows: T[]): (T | null)[] {
  const map = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => map.get(k) ?? null);
}

/** Agencies are not personal data: every authenticated caller may read any agency. */
export const agencyLoaders = perRequest(Symbol('agencies'), (ctx: RequestContext) => ({
  agency: new DataLoader<string, Agency | null>((ids) => agenciesById(ctx.db, ids)),
  account: new DataLoader<string, Account | null>(async (ids) =>
    byId(ids, await ctx.db.getRepository(Account).findBy({ id: In([...ids]) })),
  ),
}));

/** An agency, at once when this process has it cached (nearly always: agencies never change), else batched. */
export function agencyNow(ctx: RequestContext, id: string): Now<Agency | null> {
  return cachedAgency(ctx.db, id) ?? agencyLoaders(ctx).agency.load(id);
}

/** An agency a row refers to (a foreign key: it exists). */
export function requiredAgency(ctx: RequestContext, id: string): Now<Agency> {
  return agencyNow(ctx, id) as Now<Agency>;
}
