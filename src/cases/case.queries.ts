import { PARTY_SQL } from '../access/access.policy';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { pageSize, uuidOf } from '../shared/relay';
import { connectionTypes } from '../shared/page-info';
import { keysetPage, SqlFilter } from '../db/keyset';
import { caseLoaders } from './case.loaders';
import type { CaseFilter } from './case.input';
import { RescueCase } from './rescue-case.entity';

export const { Connection: RescueCaseConnection } = connectionTypes('RescueCase', RescueCase);
export type RescueCaseConnection = InstanceType<typeof RescueCaseConnection>;

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
  const first_ = pageSize(first);
  const f = new SqlFilter();
  if (actor.kind === 'account') {
    if (actor.agencyKind === AgencyKind.RESCUE_STATION) f.and(`c.station_id = ${f.param(actor.agencyId)}`);
    else f.and(PARTY_SQL('c.person_id', f.param(actor.agencyId)));
  }
  if (filter?.stationId != null) f.and(`c.station_id = ${f.param(uuidOf('Agency', filter.stationId, 'filter.stationId'))}`);
  if (filter?.status) f.and(`c.status = ${f.param(filter.status)}`);
  if (filter?.overdue === true) f.and(`c.status = 'OPEN' AND c.rescue_period_ends_at < now()`);
  if (filter?.overdue === false) f.and(`NOT (c.status = 'OPEN' AND c.rescue_period_ends_at < now())`);
  const page = await keysetPage(ctx.db, { entity: RescueCase, alias: 'c', timeColumn: 'opened_at', filter: f, first: first_, after });
  const loader = caseLoaders(ctx).case;
  for (const { node } of page.edges) loader.prime(node.id, node);
  return page;
}
