import { PARTY_SQL } from '../access/access.policy';
import { auditEntriesOf, markReadAudited } from '../audit/audit.service';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { GraphQLResolveInfo } from 'graphql';
import type { RequestContext } from '../auth/context';
import { pageSize, uuidOf } from '../shared/relay';
import { connectionTypes } from '../shared/page-info';
import { keysetPage, SqlFilter } from '../db/keyset';
import { withPersonAndOpenCustody } from '../custody/custody.resolver';
import { caseLoaders } from './case.loaders';
import { casePageWatched, noteCasePage } from './case-page.cache';
import type { CaseFilter } from './case.input';
import { RescueCase } from './rescue-case.entity';

export const { Connection: RescueCaseConnection } = connectionTypes('RescueCase', RescueCase);
export type RescueCaseConnection = InstanceType<typeof RescueCaseConnection>;

/** What a module below this one reads for a whole page of cases (given the page and the query's selection of it). */
export type CasePagePrefetch = (ctx: RequestContext, cases: readonly RescueCase[], info: GraphQLResolveInfo) => Promise<unknown> | null;

const prefetches: CasePagePrefetch[] = [];

/**
 * Modules that add fields to RescueCase (referrals: referral.resolver.ts) register here what those fields read,
 * and `cases` reads it for the whole page before it answers: the statement is the one the fields' loader would
 * have batched anyway, but every field below the page then answers with a value instead of a promise (each
 * promise costs graphql-js a microtask and its object a promiseForObject; issue 7). Registered, not imported,
 * because imports point from those modules to this one.
 */
export function prefetchForCasePages(prefetch: CasePagePrefetch): void {
  prefetches.push(prefetch);
}

/** Runs the registered prefetches for a page; answers once they have read what they need. */
export async function prefetchCasePage(
  ctx: RequestContext,
  page: RescueCaseConnection,
  info: GraphQLResolveInfo,
): Promise<RescueCaseConnection> {
  const cases = page.edges.map((e) => e.node);
  if (cases.length > 0) await Promise.all(prefetches.map((p) => p(ctx, cases, info)));
  return page;
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
  withPersons = false,
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
  const ownStation = actor.kind === 'account' && actor.agencyKind === AgencyKind.RESCUE_STATION;
  // Over HTTP, the page's statement itself writes the read of each person it shows (as access.policy.ts does for
  // persons read by id): the request's last round trip, the audit INSERT at its end, is gone (issue 7).
  const inline = ctx.readsAuditedInline === true;
  // The station page cache (case-page.cache.ts) wants to know from which snapshot this page was read.
  const watched = ownStation && casePageWatched(ctx);
  const page = await keysetPage(ctx.db, {
    entity: RescueCase,
    alias: 'c',
    timeColumn: 'opened_at',
    filter: f,
    first: first_,
    after,
    with: ownStation && withPersons ? personsOfOwnCases(ctx, inline) : undefined,
    write: ownStation && withPersons && inline ? personsReadAudit(ctx) : undefined,
    snapshot: watched,
  });
  if (watched)
    noteCasePage(ctx, { snapshot: page.snapshot!, cases: page.edges.map((e) => e.node), clockFiltered: filter?.overdue != null });
  const loader = caseLoaders(ctx).case;
  for (const { node } of page.edges) loader.prime(node.id, node);
  return page;
}

/**
 * A station's dashboard lists its own cases with their persons: each person
 * and their open custody record are read in the page's own statement (one
 * round trip and ~1,300 buffer pages fewer for 50 cases than the
 * need-to-know check that would otherwise read them), and what the station
 * may see of them is known from the case itself (access.policy.ts).
 */
function personsOfOwnCases(ctx: RequestContext, audited: boolean) {
  const read = withPersonAndOpenCustody(ctx, 'c.person_id');
  return {
    select: read.select,
    joins: read.joins,
    onRow(row: Record<string, unknown>, c: RescueCase) {
      read.prime(row, c.personId);
      ctx.access.stationCase(ctx, c.personId, c.stationId);
      if (audited) markReadAudited(ctx, 'person.read', c.personId);
    },
  };
}

/**
 * The 'person.read' entry of every person on the page, written by the page's statement. Only when the query asks
 * for the persons (selectsPath, which reads @skip and @include): an entry says the record was shown, and every
 * person on a station's own page is shown to it (access.stationCase).
 */
function personsReadAudit(ctx: RequestContext) {
  return (n: number, shown: string) =>
    auditEntriesOf(
      n,
      ctx,
      { action: 'person.read', subjectType: 'Person' },
      { subject: 's."personId"', from: `(SELECT DISTINCT "personId" FROM ${shown} x) s` },
    );
}
