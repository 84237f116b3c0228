import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { connectionTypes } from '../shared/page-info';
import { pageSize } from '../shared/relay';
import { keysetPage, SqlFilter } from '../db/keyset';
import { Referral } from './referral.entity';
import { ReferralDirection, type ReferralFilter } from './referral.input';
import { referralLoaders } from './referral.loaders';

export const { Connection: ReferralConnection } = connectionTypes('Referral', Referral);
export type ReferralConnection = InstanceType<typeof ReferralConnection>;

/**
 * Relative to the caller's agency: INCOMING (it is asked), OUTGOING (it asked
 * or sent), ANY (any party, the escort included). Newest first, keyset on
 * (created_at, id). The administrator sees all.
 */
export async function listReferrals(
  ctx: RequestContext,
  filter: ReferralFilter | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<ReferralConnection> {
  const actor = requireAuthenticated(ctx.actor);
  const first_ = pageSize(first);
  const f = new SqlFilter();
  if (actor.kind === 'account') {
    const me = f.param(actor.agencyId);
    const direction = filter?.direction ?? ReferralDirection.ANY;
    if (direction === ReferralDirection.INCOMING) f.and(`r.to_agency_id = ${me}`);
    else if (direction === ReferralDirection.OUTGOING) f.and(`(r.requested_by_id = ${me} OR r.from_agency_id = ${me})`);
    else f.and(`${me} IN (r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id)`);
  }
  if (filter?.status?.length) f.and(`r.status = ANY(${f.param(filter.status)}::referral_status[])`);
  if (filter?.kind?.length) f.and(`r.kind = ANY(${f.param(filter.kind)}::referral_kind[])`);
  const page = await keysetPage(ctx.db, { entity: Referral, alias: 'r', timeColumn: 'created_at', filter: f, first: first_, after });
  const loader = referralLoaders(ctx).referral;
  for (const { node } of page.edges) loader.prime(node.id, node);
  return page;
}
