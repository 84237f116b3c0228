import DataLoader from 'dataloader';
import { AgencyKind } from '../auth/actor';
import { perRequest, type AccessPolicy, type RequestContext } from '../auth/context';
import { markReadAudited, noteRead } from '../audit/audit.service';
import { withPersonAndOpenCustody } from '../custody/custody.resolver';
import { KnownLoader } from '../db/known-loader';

/**
 * Need to know (DOMAIN.md §6), in one place. An agency is party to a person
 * while it is or was: the station of one of their cases, the police station
 * that brought them, a holder in the custody ledger, or the requester,
 * sender, receiver or escort of one of their referrals. Every read path
 * (person, node, nested fields, connections, findPersons, subscriptions)
 * asks here, batched per request.
 *
 * The subqueries' aliases are prefixed (party_c, ...) so that they never
 * shadow the caller's: with `c.person_id` passed in from a query over
 * `rescue_case c`, an inner alias `c` made the test `c.person_id = c.person_id`,
 * always true, and listed every case to any police station that had brought anyone in.
 */
export const PARTY_SQL = (person: string, agency: string) => `(
  EXISTS (SELECT 1 FROM rescue_case party_c WHERE party_c.person_id = ${person}
          AND (party_c.station_id = ${agency} OR party_c.brought_by_id = ${agency}))
  OR EXISTS (SELECT 1 FROM referral party_r WHERE party_r.person_id = ${person}
             AND ${agency} IN (party_r.requested_by_id, party_r.from_agency_id, party_r.to_agency_id, party_r.escort_agency_id))
  OR EXISTS (SELECT 1 FROM custody_record party_k WHERE party_k.person_id = ${person} AND party_k.holder_id = ${agency}))`;

interface PersonRights {
  visible: boolean;
  revealIdNumber: boolean;
  diagnoses: boolean;
}

type RightsRow = { id: string; visible: boolean; holds_case: boolean; origin_return: boolean; hospital: boolean } & Record<string, unknown>;

/**
 * The rights of the caller's agency to each person, and (the same statement) each person's row and open custody
 * record, primed into their loaders: checking who may see a page of persons and reading them is one round trip,
 * not three. With `auditReads`, the statement also writes the 'person.read' audit entry of every visible person
 * (a data-modifying CTE): a request that reads one person costs one statement, not two.
 */
async function loadRights(ctx: RequestContext, ids: readonly string[], auditReads: boolean): Promise<PersonRights[]> {
  const actor = ctx.actor;
  if (actor.kind !== 'account') {
    // The administrator administers; it sees records (for audits) but no ID numbers or diagnoses.
    const admin = actor.kind === 'admin';
    return ids.map(() => ({ visible: admin, revealIdNumber: false, diagnoses: false }));
  }
  const read = withPersonAndOpenCustody(ctx, 'p.id');
  const check = `SELECT p.id,
              ${PARTY_SQL('p.id', '$2::uuid')} AS visible,
              EXISTS (SELECT 1 FROM rescue_case c WHERE c.person_id = p.id AND c.station_id = $2::uuid) AS holds_case,
              EXISTS (SELECT 1 FROM referral r WHERE r.person_id = p.id AND r.kind = 'RETURN_TO_ORIGIN' AND r.to_agency_id = $2::uuid) AS origin_return,
              EXISTS (SELECT 1 FROM referral r WHERE r.person_id = p.id AND r.kind = 'PSYCHIATRIC_EVALUATION' AND r.to_agency_id = $2::uuid) AS hospital,
              ${read.select}
         FROM unnest($1::uuid[]) AS p(id) ${read.joins}`;
  const rows: RightsRow[] = auditReads
    ? await ctx.db.query(
        `WITH rights AS MATERIALIZED (${check}),
              audit AS (INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
                        SELECT $3::uuid, $2::uuid, 'person.read', 'Person', r.id, $4 FROM rights r WHERE r.visible)
         SELECT * FROM rights`,
        [ids, actor.agencyId, actor.accountId, ctx.requestId],
      )
    : await ctx.db.query(check, [ids, actor.agencyId]);
  for (const row of rows) read.prime(row, row.id);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => {
    const r = byId.get(id);
    if (!r?.visible) return { visible: false, revealIdNumber: false, diagnoses: false };
    if (auditReads) markReadAudited(ctx, 'person.read', id);
    const kind = actor.agencyKind;
    return {
      visible: true,
      revealIdNumber: kind === AgencyKind.POLICE_STATION || r.holds_case || r.origin_return,
      // 精神卫生法 第四条: a patient's records stay with those treating and caring for them.
      diagnoses: (kind === AgencyKind.RESCUE_STATION && r.holds_case) || (kind === AgencyKind.PSYCHIATRIC_HOSPITAL && r.hospital),
    };
  });
}

/** The caller's rights to each person; `peek` tells those this request already knows (loaded or primed). */
const rights = perRequest(
  Symbol('access'),
  (ctx: RequestContext) => new KnownLoader<string, PersonRights>((ids) => loadRights(ctx, ids, false)),
);

/** rights, for persons about to be shown: the same statement audits each visible one's read (HTTP requests). */
const readRights = perRequest(Symbol('access.read'), (ctx: RequestContext) => {
  return new DataLoader<string, PersonRights>(async (ids) => {
    const out = await loadRights(ctx, ids, true);
    ids.forEach((id, i) => rights(ctx).prime(id, out[i]));
    return out;
  });
});

/** loadMany without losing a failure: a check that could not be made is an error, never a silent "not visible". */
async function loadAll(loader: DataLoader<string, PersonRights>, ids: readonly string[]): Promise<PersonRights[]> {
  const all = await loader.loadMany(ids);
  const failed = all.find((r): r is Error => r instanceof Error);
  if (failed) throw failed;
  return all as PersonRights[];
}

export const accessPolicy: AccessPolicy = {
  async visiblePersons(ctx, personIds) {
    // A failed check (the database is away, the pool timed out) is an error, never a false NOT_FOUND.
    const all = await loadAll(rights(ctx), personIds);
    return new Set(personIds.filter((_, i) => all[i].visible));
  },
  async readVisiblePersons(ctx, personIds) {
    // Inline only over HTTP: a subscription's payload is executed once for several subscribers, and each one's
    // read is audited under its own account (copyReads), which one statement under one account cannot do.
    const inline = ctx.readsAuditedInline === true && ctx.actor.kind === 'account';
    const known = rights(ctx);
    const fresh = inline ? personIds.filter((id) => known.peek(id) === undefined) : [];
    if (fresh.length > 0) await loadAll(readRights(ctx), fresh);
    const visible = await this.visiblePersons(ctx, personIds);
    // Reads whose rights were known before (e.g. a station's own page) are audited at the end of the request.
    for (const id of visible) noteRead(ctx, 'person.read', id);
    return visible;
  },
  readVisiblePersonNow(ctx, personId) {
    const known = rights(ctx).peek(personId);
    if (!known) return undefined;
    // As readVisiblePersons with rights known before: the read is audited at the end of the request.
    if (known.visible) noteRead(ctx, 'person.read', personId);
    return known.visible;
  },
  async mayRevealIdNumber(ctx, personId) {
    return (await rights(ctx).load(personId)).revealIdNumber;
  },
  async maySeeDiagnoses(ctx, personId) {
    return (await rights(ctx).load(personId)).diagnoses;
  },
  stationCase(ctx, personId, stationId) {
    const actor = ctx.actor;
    if (actor.kind !== 'account' || actor.agencyKind !== AgencyKind.RESCUE_STATION || actor.agencyId !== stationId) return;
    // What the statement above answers for a station with a case of the person (holds_case): PARTY_SQL's first
    // clause makes it party; holding a case reveals the ID number; and 精神卫生法 第四条 lets the station caring for
    // the person see the diagnoses.
    rights(ctx).prime(personId, { visible: true, revealIdNumber: true, diagnoses: true });
  },
  // PARTY_SQL's referral clause, on a row already read; the administrator's `visible` above is always true.
  isPartyToReferral(ctx, r) {
    const actor = ctx.actor;
    if (actor.kind === 'admin') return true;
    if (actor.kind !== 'account') return false;
    const agency = actor.agencyId;
    return r.requestedById === agency || r.fromAgencyId === agency || r.toAgencyId === agency || r.escortAgencyId === agency;
  },
};
