import DataLoader from 'dataloader';
import { AgencyKind } from '../auth/actor';
import { perRequest, type AccessPolicy, type RequestContext } from '../auth/context';
import { withPersonAndOpenCustody } from '../custody/custody.resolver';

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

const rights = perRequest(Symbol('access'), (ctx: RequestContext) => {
  const actor = ctx.actor;
  return new DataLoader<string, PersonRights>(async (ids) => {
    if (actor.kind !== 'account') {
      const admin = actor.kind === 'admin';
      // The administrator administers; it sees records (for audits) but no ID numbers or diagnoses.
      return ids.map(() => ({ visible: admin, revealIdNumber: false, diagnoses: false }));
    }
    // The same statement brings the person's row and open custody record, primed into their loaders:
    // checking who may see a page of persons and reading them is one round trip, not three.
    const read = withPersonAndOpenCustody(ctx, 'p.id');
    const rows: ({ id: string; visible: boolean; holds_case: boolean; origin_return: boolean; hospital: boolean } & Record<
      string,
      unknown
    >)[] = await ctx.db.query(
      `SELECT p.id,
                ${PARTY_SQL('p.id', '$2')} AS visible,
                EXISTS (SELECT 1 FROM rescue_case c WHERE c.person_id = p.id AND c.station_id = $2) AS holds_case,
                EXISTS (SELECT 1 FROM referral r WHERE r.person_id = p.id AND r.kind = 'RETURN_TO_ORIGIN' AND r.to_agency_id = $2) AS origin_return,
                EXISTS (SELECT 1 FROM referral r WHERE r.person_id = p.id AND r.kind = 'PSYCHIATRIC_EVALUATION' AND r.to_agency_id = $2) AS hospital,
                ${read.select}
           FROM unnest($1::uuid[]) AS p(id) ${read.joins}`,
      [ids, actor.agencyId],
    );
    for (const row of rows) read.prime(row, row.id);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = byId.get(id);
      if (!r?.visible) return { visible: false, revealIdNumber: false, diagnoses: false };
      const kind = actor.agencyKind;
      return {
        visible: true,
        revealIdNumber: kind === AgencyKind.POLICE_STATION || r.holds_case || r.origin_return,
        // 精神卫生法 第四条: a patient's records stay with those treating and caring for them.
        diagnoses: (kind === AgencyKind.RESCUE_STATION && r.holds_case) || (kind === AgencyKind.PSYCHIATRIC_HOSPITAL && r.hospital),
      };
    });
  });
});

export const accessPolicy: AccessPolicy = {
  async visiblePersons(ctx, personIds) {
    const all = await rights(ctx).loadMany(personIds);
    // loadMany hands back a failed check as an Error in the array: a check that could not be made is an
    // error (the database is away, the pool timed out), never a silent "not visible" (a false NOT_FOUND).
    const failed = all.find((r): r is Error => r instanceof Error);
    if (failed) throw failed;
    return new Set(personIds.filter((_, i) => (all[i] as PersonRights).visible));
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
