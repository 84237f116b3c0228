import { Field, Int, ObjectType } from 'type-graphql';
import { PARTY_SQL } from '../access/access.policy';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { decodeKeysetCursor, encodeCursor, pageSize, uuidOf } from '../shared/relay';
import { PageInfo } from '../shared/page-info';
import { rowShape } from '../db/rows';
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
  if (filter?.stationId != null) where.push(`c.station_id = ${p(uuidOf('Agency', filter.stationId, 'filter.stationId'))}`);
  if (filter?.status) where.push(`c.status = ${p(filter.status)}`);
  if (filter?.overdue === true) where.push(`c.status = 'OPEN' AND c.rescue_period_ends_at < now()`);
  if (filter?.overdue === false) where.push(`NOT (c.status = 'OPEN' AND c.rescue_period_ends_at < now())`);
  const base = where.length ? where.join(' AND ') : 'TRUE';
  let page = base;
  if (after) {
    const { at, id } = decodeKeysetCursor(after);
    page += ` AND (c.opened_at, c.id) < (${p(at)}::timestamptz, ${p(id)}::uuid)`;
  }
  // One statement: the count and the page with whole rows (an empty page still brings its count).
  const shape = rowShape(ctx.db, RescueCase);
  const rows: Record<string, unknown>[] = await ctx.db.query(
    `SELECT t.total_count, pg.*
       FROM (SELECT count(*)::int AS total_count FROM rescue_case c WHERE ${base}) t
       LEFT JOIN LATERAL (
         SELECT ${shape.select('c')}, c.opened_at::text AS cursor_at
           FROM rescue_case c WHERE ${page}
          ORDER BY c.opened_at DESC, c.id DESC LIMIT ${limit + 1}) pg ON TRUE`,
    params,
  );
  const found = rows.filter((r) => r.id != null);
  const loader = caseLoaders(ctx).case;
  // The cursor keeps the database's own microsecond timestamp: a JS Date would round it and skip rows.
  const edges = found.slice(0, limit).map((row) => {
    const node = shape.map(row)!;
    loader.prime(node.id, node);
    return { cursor: encodeCursor([row.cursor_at as string, node.id]), node };
  });
  const n = Number(rows[0].total_count);
  return { edges, pageInfo: { hasNextPage: found.length > limit, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: n };
}
