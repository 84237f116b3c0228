import { Field, Int, ObjectType } from 'type-graphql';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { PageInfo } from '../shared/page-info';
import { decodeKeysetCursor, encodeCursor, pageSize } from '../shared/relay';
import { Referral } from './referral.entity';
import { ReferralDirection, type ReferralFilter } from './referral.input';
import { referralLoaders } from './referral.loaders';

@ObjectType()
export class ReferralEdge {
  @Field()
  cursor!: string;

  @Field(() => Referral)
  node!: Referral;
}

@ObjectType()
export class ReferralConnection {
  @Field(() => [ReferralEdge])
  edges!: ReferralEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

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
  const limit = pageSize(first);
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => `$${params.push(v)}`;
  if (actor.kind === 'account') {
    const me = p(actor.agencyId);
    const direction = filter?.direction ?? ReferralDirection.ANY;
    if (direction === ReferralDirection.INCOMING) where.push(`r.to_agency_id = ${me}`);
    else if (direction === ReferralDirection.OUTGOING) where.push(`(r.requested_by_id = ${me} OR r.from_agency_id = ${me})`);
    else where.push(`${me} IN (r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id)`);
  }
  if (filter?.status?.length) where.push(`r.status = ANY(${p(filter.status)}::referral_status[])`);
  if (filter?.kind?.length) where.push(`r.kind = ANY(${p(filter.kind)}::referral_kind[])`);
  const base = where.length ? where.join(' AND ') : 'TRUE';
  const countParams = [...params];
  let page = base;
  if (after) {
    const { at, id } = decodeKeysetCursor(after);
    page += ` AND (r.created_at, r.id) < (${p(at)}::timestamptz, ${p(id)}::uuid)`;
  }
  const [ids, [{ n }]] = await Promise.all([
    ctx.db.query(
      `SELECT r.id, r.created_at::text AS at FROM referral r WHERE ${page} ORDER BY r.created_at DESC, r.id DESC LIMIT ${limit + 1}`,
      params,
    ) as Promise<{ id: string; at: string }[]>,
    ctx.db.query(`SELECT count(*)::int AS n FROM referral r WHERE ${base}`, countParams) as Promise<{ n: number }[]>,
  ]);
  const page1 = ids.slice(0, limit);
  const loaded = (await referralLoaders(ctx).referral.loadMany(page1.map((r) => r.id))) as Referral[];
  const edges = loaded.map((node, i) => ({ cursor: encodeCursor([page1[i].at, node.id]), node }));
  return { edges, pageInfo: { hasNextPage: ids.length > limit, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: n };
}
