import { Field, Int, ObjectType } from 'type-graphql';
import { PARTY_SQL } from '../access/access.policy';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { decodeKeysetCursor, encodeCursor, pageSize, uuidOf } from '../shared/relay';
import { PageInfo } from '../shared/page-info';
import { caseLoaders } from './case.loaders';
import type { CaseFilter } from './case.input';
import { RescueCase } from './rescue-case.entity';

@ObjectType()
export class RescueCaseEdge {
  @Field()
  cursor!: string;

  @Field(() => RescueCase)
  node!: RescueCase;
}

@ObjectType()
export class RescueCaseConnection {
  @Field(() => [RescueCaseEdge])
  edges!: RescueCaseEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

/**
 * Newest first, keyset-paginated on (opened_at, id) so pages stay stable
 * while cases are opened. A station sees its own cases; other agencies the
 * cases of persons they are party to; the administrator all.
 */
export async function listCases(
  ctx: RequestContext,
  filter: CaseFilter | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<RescueCaseConnection> {
  const actor = requireAuthenticated(ctx.actor);
  const limit = pageSize(first);
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => `$${params.push(v)}`;
  if (actor.kind === 'account') {
    if (actor.agencyKind === AgencyKind.RESCUE_STATION) where.push(`c.station_id = ${p(actor.agencyId)}`);
    else where.push(PARTY_SQL('c.person_id', p(actor.agencyId)));
  }
  if (filter?.stationId) where.push(`c.station_id = ${p(uuidOf('Agency', filter.stationId, 'filter.stationId'))}`);
  if (filter?.status) where.push(`c.status = ${p(filter.status)}`);
  if (filter?.overdue === true) where.push(`c.status = 'OPEN' AND c.rescue_period_ends_at < now()`);
  if (filter?.overdue === false) where.push(`NOT (c.status = 'OPEN' AND c.rescue_period_ends_at < now())`);
  const base = where.length ? where.join(' AND ') : 'TRUE';
  const countParams = [...params];
  let page = base;
  if (after) {
    const { at, id } = decodeKeysetCursor(after);
    page += ` AND (c.opened_at, c.id) < (${p(at)}::timestamptz, ${p(id)}::uuid)`;
  }
  const [ids, [{ n }]] = await Promise.all([
    ctx.db.query(
      `SELECT c.id, c.opened_at::text AS at FROM rescue_case c WHERE ${page} ORDER BY c.opened_at DESC, c.id DESC LIMIT ${limit + 1}`,
      params,
    ) as Promise<{ id: string; at: string }[]>,
    ctx.db.query(`SELECT count(*)::int AS n FROM rescue_case c WHERE ${base}`, countParams) as Promise<{ n: number }[]>,
  ]);
  // The cursor keeps the database's own microsecond timestamp: a JS Date would round it and skip rows.
  const page1 = ids.slice(0, limit);
  const loaded = (await caseLoaders(ctx).case.loadMany(page1.map((r) => r.id))) as RescueCase[];
  const edges = loaded.map((node, i) => ({ cursor: encodeCursor([page1[i].at, node.id]), node }));
  return { edges, pageInfo: { hasNextPage: ids.length > limit, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: n };
}
