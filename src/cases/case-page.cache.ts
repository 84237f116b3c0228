import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import {
  BREAK,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { auditEntriesOf, readsOf } from '../audit/audit.service';
import { AgencyKind } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { CaseStatus } from './case.enums';
import type { RescueCase } from './rescue-case.entity';

/**
 * The station page cache: a station's dashboard — its newest open cases with their persons, custodians and
 * referrals — answered again without running its resolvers, as long as nothing it shows has changed (issue 7: the
 * page is open all day on many screens, and building its ~50 KB answer is most of what a request costs the hub).
 *
 * Never stale, because it asks PostgreSQL every time. Every change writes its audit entry in its own transaction
 * (DOMAIN.md §6), and each entry carries its transaction's id (migration 1796500000000-AuditTransaction). A page
 * remembers the snapshot its statement read with; before it is given again, ONE statement asks whether any change
 * committed since that snapshot touched a person with a case at this station (or anything not about a person: an
 * agency, an account) — and, in the same statement, writes the reads' audit entries the answer stands for, exactly
 * the ones the page wrote the first time. Changed: nothing is written, the page is built afresh. So the answer is
 * what a fresh read at the revalidating statement's snapshot would have given; a change that commits a moment later
 * is seen by the next request, as it would be without the cache.
 *
 * Only what this proof covers is cached: a query whose one root field is `cases`, by a station's account over HTTP
 * (where reads are audited by the reading statement), selecting only the fields of CACHEABLE_FIELDS — columns of
 * cases, persons, custody, referrals and agencies, nothing that depends on the caller beyond their agency and role
 * (the key holds both) or on the clock beyond `overdue` (an entry ends when a case on it becomes overdue).
 * Not a filter on `overdue` (membership moves with the clock), not a page with errors.
 */

/** Type.field pairs a cached page may select (and `__typename` anywhere). */
const CACHEABLE_FIELDS = new Set([
  'Query.cases',
  'RescueCaseConnection.edges',
  'RescueCaseConnection.pageInfo',
  'RescueCaseConnection.totalCount',
  'RescueCaseEdge.cursor',
  'RescueCaseEdge.node',
  'PageInfo.endCursor',
  'PageInfo.hasNextPage',
  ...['id', 'caseNumber', 'status', 'openedAt', 'rescuePeriodEndsAt', 'overdue', 'intakeChannel', 'outcome', 'closedAt']
    .concat(['ageGroupAtOpening', 'person', 'referrals', 'station', 'broughtBy'])
    .map((f) => `RescueCase.${f}`),
  // Not ageGroup: it moves with the calendar.
  ...['id', 'name', 'gender', 'birthYear', 'custodian'].map((f) => `Person.${f}`),
  ...['id', 'name', 'kind', 'regionCode', 'shortCode'].map((f) => `Agency.${f}`),
  // Not availableActions: it is the caller's, read from the transition table with their role.
  ...[
    'id',
    'kind',
    'status',
    'createdAt',
    'updatedAt',
    'respondBy',
    'version',
    'fromAgency',
    'toAgency',
    'escortAgency',
    'requestedBy',
  ].map((f) => `Referral.${f}`),
]);

/**
 * An entry not asked for in this long is dropped rather than revalidated (memory, not correctness: revalidation
 * reads at most SCANNED_MAX changes, whatever the entry's age).
 */
const MAX_UNCHECKED_MS = 5 * 60_000;

/**
 * Revalidation reads at most this many change entries from the snapshot's xmin on (committed before the snapshot
 * or not: an old snapshot, or one taken while a long transaction ran, has an old xmin) and at most CHANGES_MAX of
 * those the snapshot did not see; reaching either counts as changed. A page rebuilt is cheaper than a long read,
 * and never wrong.
 */
const SCANNED_MAX = 5_000;
const CHANGES_MAX = 500;

interface Entry {
  data: Record<string, unknown>;
  stationId: string;
  /** pg_current_snapshot() of the statement that last read or revalidated the page. */
  snapshot: string;
  checkedAt: number;
  /** When the first open case on the page becomes overdue (ms since the epoch), or Infinity. */
  validUntil: number;
  /** The persons whose 'person.read' the answer stands for. */
  personsRead: string[];
}

/** What listCases tells the cache about a page it read (noteCasePage). */
export interface CasePageFacts {
  snapshot: string;
  cases: readonly RescueCase[];
  /** A filter on `overdue`: the page's members move with the clock. */
  clockFiltered: boolean;
}

/** Counters for operators and for the tests that show the cache answers (and refuses) as it says. */
export const casePageCacheStats = { hits: 0, stale: 0, stored: 0 };

const WATCH = Symbol('casePageCache.watch');

/** Whether the page cache waits for what this request's `cases` reads (listCases then asks for its snapshot). */
export function casePageWatched(ctx: RequestContext): boolean {
  return ctx.memo.has(WATCH);
}

export function noteCasePage(ctx: RequestContext, facts: CasePageFacts): void {
  (ctx.memo.get(WATCH) as CasePageFacts[] | undefined)?.push(facts);
}

/** Whether this operation of this document selects only what the cache can prove unchanged; remembered per parsed document. */
const decided = new WeakMap<DocumentNode, Map<string, boolean>>();

function cacheableOperation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const name = operation.name?.value ?? '';
  let byName = decided.get(document);
  const known = byName?.get(name);
  if (known !== undefined) return known;
  const root = operation.selectionSet.selections;
  let ok = operation.operation === 'query' && root.length === 1 && root[0].kind === Kind.FIELD && root[0].name.value === 'cases';
  if (ok) {
    // The whole document: fragments are checked even where this operation does not spread them (stricter, simpler).
    const typeInfo = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          if (node.name.value === '__typename') return;
          if (!CACHEABLE_FIELDS.has(`${typeInfo.getParentType()?.name}.${node.name.value}`)) {
            ok = false;
            return BREAK;
          }
        },
        Directive(node) {
          if (node.name.value !== 'skip' && node.name.value !== 'include') {
            ok = false;
            return BREAK;
          }
        },
      }),
    );
  }
  if (!byName) decided.set(document, (byName = new Map()));
  byName.set(name, ok);
  return ok;
}

/** The earliest moment a case on the page turns overdue (the `overdue` field compares with the clock). */
function validUntilOf(cases: readonly RescueCase[], now: number): number {
  let until = Infinity;
  for (const c of cases) {
    const ends = c.rescuePeriodEndsAt.getTime();
    if (c.status === CaseStatus.OPEN && ends >= now && ends < until) until = ends;
  }
  return until;
}

/**
 * One round trip: has anything the page shows changed since `entry.snapshot`? If not, the reads the answer
 * stands for are audited by the same statement. Answers the new snapshot, or null if the page must be rebuilt.
 */
async function revalidate(ctx: RequestContext, entry: Entry): Promise<string | null> {
  const audit = auditEntriesOf(
    3,
    ctx,
    { action: 'person.read', subjectType: 'Person' },
    { subject: 's.id', from: `unnest($8::uuid[]) s(id) WHERE NOT (SELECT changed FROM seen)` },
  );
  const rows: { changed: boolean; snapshot: string }[] = await ctx.db.query(
    // audit_changes_since (migration 1796500000001): the partial index's range, never a scan of the whole log.
    `WITH scanned AS MATERIALIZED (SELECT * FROM audit_changes_since($1::pg_snapshot, ${SCANNED_MAX})),
     since AS (
       SELECT c.subject_type, c.subject_id FROM scanned c
        WHERE NOT pg_visible_in_snapshot(c.xact::text::xid8, $1::pg_snapshot)
        LIMIT ${CHANGES_MAX}),
     seen AS MATERIALIZED (
       SELECT (SELECT count(*) FROM scanned) >= ${SCANNED_MAX}
              OR count(*) >= ${CHANGES_MAX}
              OR coalesce(bool_or(c.subject_type <> 'Person'
                 OR EXISTS (SELECT 1 FROM rescue_case k WHERE k.person_id = c.subject_id AND k.station_id = $2::uuid)), false) AS changed
         FROM since c),
     written AS (${audit.sql})
     SELECT (SELECT changed FROM seen) AS changed, pg_current_snapshot()::text AS snapshot`,
    [entry.snapshot, entry.stationId, ...audit.params, entry.personsRead],
  );
  return rows[0].changed ? null : rows[0].snapshot;
}

/**
 * The Apollo plugin; `maxEntries` 0 turns the cache off. Entries are kept per agency, role, document, operation
 * and variables, the least recently used dropped first.
 */
export function casePageCachePlugin(maxEntries: number): ApolloServerPlugin<RequestContext> {
  const entries = new Map<string, Entry>();
  return {
    async requestDidStart(): Promise<GraphQLRequestListener<RequestContext> | void> {
      if (maxEntries === 0) return;
      let key: string | undefined;
      let stationId = '';
      /** Before the page is read: a case that turns overdue after this may show either way, so it ends the entry. */
      let startedAt = 0;
      let reads: [string, string][] = [];
      return {
        async responseForOperation(rc) {
          const ctx = rc.contextValue;
          const actor = ctx.actor;
          if (actor.kind !== 'account' || actor.agencyKind !== AgencyKind.RESCUE_STATION || ctx.readsAuditedInline !== true) return null;
          if (!rc.operation || !rc.queryHash || !cacheableOperation(rc.schema, rc.document, rc.operation)) return null;
          // Per agency and role, not per account: what these fields show is the agency's to see (access.policy.ts),
          // so the station's screens share a page; each answer still audits its reads as its own account's.
          key = `${actor.agencyId}\n${actor.role}\n${rc.queryHash}\n${rc.operationName ?? ''}\n${JSON.stringify(rc.request.variables ?? {})}`;
          stationId = actor.agencyId;
          const entry = entries.get(key);
          const now = (startedAt = Date.now());
          if (entry && now < entry.validUntil && now - entry.checkedAt <= MAX_UNCHECKED_MS) {
            let fresh: string | null = null;
            try {
              fresh = await revalidate(ctx, entry);
            } catch {
              // The database is the one to say what is wrong (SERVICE_UNAVAILABLE and the like): the page is built
              // the ordinary way, and fails there with the ordinary answer.
            }
            entries.delete(key);
            if (fresh) {
              entry.snapshot = fresh;
              entry.checkedAt = now;
              entries.set(key, entry); // most recently used last
              casePageCacheStats.hits++;
              key = undefined; // nothing to store
              return { http: rc.response.http, body: { kind: 'single', singleResult: { data: entry.data } } };
            }
            casePageCacheStats.stale++;
          } else if (entry) entries.delete(key);
          ctx.memo.set(WATCH, [] as CasePageFacts[]);
          return null;
        },
        async executionDidStart(rc) {
          return {
            async executionDidEnd() {
              // Before the end of the request flushes the reads noted for it.
              if (key) reads = readsOf(rc.contextValue);
            },
          };
        },
        async willSendResponse(rc) {
          if (!key) return;
          const pages = rc.contextValue.memo.get(WATCH) as CasePageFacts[] | undefined;
          const body = rc.response.body;
          if (!pages || pages.length !== 1 || pages[0].clockFiltered) return;
          if (body.kind !== 'single' || body.singleResult.errors || !body.singleResult.data) return;
          // Only reads the revalidating statement knows how to write again.
          if (reads.some(([action]) => action !== 'person.read')) return;
          entries.set(key, {
            data: body.singleResult.data,
            stationId,
            snapshot: pages[0].snapshot,
            checkedAt: Date.now(),
            validUntil: validUntilOf(pages[0].cases, startedAt),
            personsRead: reads.map(([, personId]) => personId),
          });
          casePageCacheStats.stored++;
          if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
        },
      };
    },
  };
}
