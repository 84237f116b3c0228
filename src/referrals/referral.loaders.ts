import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { byId } from '../agencies/agency.loaders';
import { perRequest, type RequestContext } from '../auth/context';
import { groupBy } from '../cases/case.loaders';
import { BedAssignment, Diagnosis, Referral, ReferralEvent } from './referral.entity';

export const referralLoaders = perRequest(Symbol('referrals'), (ctx: RequestContext) => ({
  referral: new DataLoader<string, Referral | null>(async (ids) =>
    byId(ids, await ctx.db.getRepository(Referral).findBy({ id: In([...ids]) })),
  ),
  /** Newest first. */
  byCase: new DataLoader<string, Referral[]>(async (caseIds) =>
    groupBy(
      caseIds,
      await ctx.db.getRepository(Referral).find({ where: { caseId: In([...caseIds]) }, order: { createdAt: 'DESC', id: 'DESC' } }),
      (r) => r.caseId!,
    ),
  ),
  eventsByReferral: new DataLoader<string, ReferralEvent[]>(async (ids) =>
    groupBy(
      ids,
      await ctx.db.getRepository(ReferralEvent).find({ where: { referralId: In([...ids]) }, order: { seq: 'ASC' } }),
      (e) => e.referralId,
    ),
  ),
  diagnosesByReferral: new DataLoader<string, Diagnosis[]>(async (ids) =>
    groupBy(
      ids,
      await ctx.db.getRepository(Diagnosis).find({ where: { referralId: In([...ids]) }, order: { diagnosedAt: 'DESC', id: 'DESC' } }),
      (d) => d.referralId,
    ),
  ),
  diagnosesByPerson: new DataLoader<string, Diagnosis[]>(async (ids) =>
    groupBy(
      ids,
      await ctx.db.getRepository(Diagnosis).find({ where: { personId: In([...ids]) }, order: { diagnosedAt: 'DESC', id: 'DESC' } }),
      (d) => d.personId,
    ),
  ),
  bedsByReferral: new DataLoader<string, BedAssignment[]>(async (ids) =>
    groupBy(
      ids,
      await ctx.db.getRepository(BedAssignment).find({ where: { referralId: In([...ids]) }, order: { assignedAt: 'DESC', id: 'DESC' } }),
      (b) => b.referralId,
    ),
  ),
}));

/** A referral is visible exactly when its person is (DOMAIN.md §6). */
export async function loadVisibleReferral(ctx: RequestContext, id: string): Promise<Referral | null> {
  const r = await referralLoaders(ctx).referral.load(id);
  if (!r) return null;
  return (await ctx.access.visiblePersons(ctx, [r.personId])).has(r.personId) ? r : null;
}
