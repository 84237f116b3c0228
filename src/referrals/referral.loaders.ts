import DataLoader from 'dataloader';
import { perRequest, type RequestContext } from '../auth/context';
import { rowsById, rowsGroupedBy } from '../db/rows';
import { KnownLoader } from '../db/known-loader';
import { BedAssignment, Diagnosis, Referral, ReferralEvent } from './referral.entity';

export const referralLoaders = perRequest(Symbol('referrals'), (ctx: RequestContext) => ({
  referral: new DataLoader<string, Referral | null>((ids) => rowsById(ctx.db, Referral, ids)),
  /** Newest first. */
  byCase: new KnownLoader<string, Referral[]>((caseIds) =>
    rowsGroupedBy(ctx.db, Referral, 'case_id', caseIds, 't.created_at DESC, t.id DESC'),
  ),
  eventsByReferral: new DataLoader<string, ReferralEvent[]>((ids) => rowsGroupedBy(ctx.db, ReferralEvent, 'referral_id', ids, 't.seq')),
  diagnosesByReferral: new DataLoader<string, Diagnosis[]>((ids) =>
    rowsGroupedBy(ctx.db, Diagnosis, 'referral_id', ids, 't.diagnosed_at DESC, t.id DESC'),
  ),
  diagnosesByPerson: new DataLoader<string, Diagnosis[]>((ids) =>
    rowsGroupedBy(ctx.db, Diagnosis, 'person_id', ids, 't.diagnosed_at DESC, t.id DESC'),
  ),
  bedsByReferral: new DataLoader<string, BedAssignment[]>((ids) =>
    rowsGroupedBy(ctx.db, BedAssignment, 'referral_id', ids, 't.assigned_at DESC, t.id DESC'),
  ),
}));

/** A referral is visible exactly when its person is (DOMAIN.md §6). */
export async function loadVisibleReferral(ctx: RequestContext, id: string): Promise<Referral | null> {
  const r = await referralLoaders(ctx).referral.load(id);
  if (!r) return null;
  // A party to the referral is party to its person (PARTY_SQL): no statement needed for it.
  if (ctx.access.isPartyToReferral(ctx, r)) return r;
  return (await ctx.access.visiblePersons(ctx, [r.personId])).has(r.personId) ? r : null;
}
