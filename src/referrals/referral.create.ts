import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { agenciesById } from '../agencies/agency.cache';
import { Agency } from '../agencies/agency.entity';
import { requiredText } from '../agencies/agency.service';
import { appendAudit, auditEntriesOf, auditEntryCte } from '../audit/audit.service';
import { AgencyKind, requireAgency, type AccountActor } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { RescueCase } from '../cases/rescue-case.entity';
import { moveCustody, openSpanStart } from '../custody/custody.service';
import { idempotent } from '../db/idempotency';
import { constraintName, lastStatements, sqlState } from '../db/transaction';
import { standalone, type AlongsideCte } from '../db/cte';
import { XACT_CTE, appendReferralEvents, appendReferralEventWith, eventInsertFrom, eventsAppended } from '../events/outbox';
import { optionalText } from '../persons/person.rules';
import { lockVisiblePerson, personForIntake, personLockStatement, type Holding } from '../persons/person.service';
import { badInput, conflict, forbidden, notFound, type HubError } from '../shared/errors';
import { prefectureOf } from '../shared/region-code';
import { uuidOf } from '../shared/relay';
import { ReferralKind, ReferralStatus } from './referral.enums';
import { Referral } from './referral.entity';
import type { LogEscortedPersonInput, RequestReferralInput } from './referral.input';
import { NEEDS_OPEN_CASE, RECEIVER_KIND } from './referral.kinds';

export function escortNames(field: string, names: string[]): string[] {
  if (names.length === 0) throw badInput(field, 'Name at least one escort.');
  if (names.length > 10) throw badInput(field, 'At most 10 escorts.');
  return names.map((n, i) => requiredText(`${field}.${i}`, n, 50));
}

/** Inserts the referral on its own (referralInsert's statement); the partial unique index refuses a second open one for the person. */
async function insertReferral(tx: EntityManager, r: ReferralColumns): Promise<Referral> {
  const { referral, cte } = referralInsert(r);
  const { sql, params } = standalone(cte);
  try {
    await tx.query(sql, params);
  } catch (err) {
    throw openReferralConflict(err);
  }
  return referral;
}

/** The conflict a second open referral for the person meets (the partial unique index referral_one_open_per_person). */
function openReferralConflict(err: unknown): unknown {
  if (sqlState(err) === '23505' && constraintName(err) === 'referral_one_open_per_person') {
    return conflict('The person already has an open referral; at most one is open at a time.', { field: 'input.personId' });
  }
  return err;
}

type ReferralColumns = Pick<
  Referral,
  | 'kind'
  | 'status'
  | 'personId'
  | 'caseId'
  | 'requestedById'
  | 'fromAgencyId'
  | 'toAgencyId'
  | 'reason'
  | 'rejectionReason'
  | 'foundAt'
  | 'circumstances'
  | 'createdAt'
  | 'respondBy'
  | 'updatedAt'
  | 'version'
  | 'escortAgencyId'
  | 'escortNames'
>;

/**
 * A new referral's INSERT, as a data-modifying CTE for appendReferralEventWith or a statement of its own: its id
 * chosen here and every column given, so nothing is read back, and the row, its audit entry and its REQUESTED
 * event can be one statement (the event's foreign key is checked at the end of the statement, when the row is
 * there). Returns the referral as the INSERT writes it. With `from`, the case, the sender and the times are not
 * given but read from that relation of the statement (columns case_id, from_agency_id, created_at, respond_by and
 * updated_at), and the INSERT writes one row for each of its rows, none when it has none: a guarded request's
 * (guardedRequest).
 */
function referralInsert(
  r: ReferralColumns,
  from?: string,
): {
  referral: Referral;
  cte: AlongsideCte;
} {
  const referral = Object.assign(new Referral(), r, { id: randomUUID() });
  return {
    referral,
    cte: (n, name) => ({
      // Given (null with `from`, which the statement then reads instead).
      before: [
        `${name}_from AS (SELECT $${n + 4}::uuid AS case_id, $${n + 6}::uuid AS from_agency_id, $${n + 12}::timestamptz AS created_at,
                                 $${n + 13}::timestamptz AS respond_by, $${n + 14}::timestamptz AS updated_at)`,
      ],
      sql: `INSERT INTO referral (id, kind, status, person_id, case_id, requested_by_id, from_agency_id, to_agency_id, reason,
                                  rejection_reason, found_at, circumstances, created_at, respond_by, updated_at, version,
                                  escort_agency_id, escort_names)
            SELECT $${n}::uuid, $${n + 1}::referral_kind, $${n + 2}::referral_status, $${n + 3}::uuid, s.case_id, $${n + 5}::uuid,
                   s.from_agency_id, $${n + 7}::uuid, $${n + 8}::varchar, $${n + 9}::rejection_reason, $${n + 10}::varchar,
                   $${n + 11}::varchar, s.created_at, s.respond_by, s.updated_at, $${n + 15}::int,
                   $${n + 16}::uuid, $${n + 17}::varchar[]
              FROM ${from ?? `${name}_from`} s
            RETURNING case_id, from_agency_id, created_at, respond_by, updated_at`,
      params: [
        referral.id,
        r.kind,
        r.status,
        r.personId,
        from ? null : r.caseId,
        r.requestedById,
        from ? null : r.fromAgencyId,
        r.toAgencyId,
        r.reason,
        r.rejectionReason,
        r.foundAt,
        r.circumstances,
        r.createdAt,
        r.respondBy,
        r.updatedAt,
        r.version,
        r.escortAgencyId,
        r.escortNames,
      ],
    }),
  };
}

const loadReferral = (tx: EntityManager) => (id: string) => tx.getRepository(Referral).findOneByOrFail({ id });

/**
 * Police: a person on the way to the station with officers. Creates (or
 * finds) the person, gives custody to the police station, and creates an
 * ESCORT_TO_STATION referral already IN_TRANSIT — with its REQUESTED and
 * DISPATCHED events, so history reads like any other hand-off.
 */
export async function logEscortedPerson(ctx: RequestContext, input: LogEscortedPersonInput): Promise<Referral> {
  const actor = requireAgency(ctx.actor, AgencyKind.POLICE_STATION);
  const stationId = uuidOf('Agency', input.stationId, 'input.stationId');
  const foundAt = requiredText('input.foundAt', input.foundAt, 500);
  const circumstances = optionalText('input.circumstances', input.circumstances, 2000);
  const names = escortNames('input.escortNames', input.escortNames);
  const { idempotencyKey, ...rest } = input;
  return inRequestTransaction(ctx, (tx) =>
    idempotent(
      tx,
      { agencyId: actor.agencyId, operation: 'logEscortedPerson', key: idempotencyKey, input: rest, secret: ctx.settings.idNumberKey },
      async () => {
        const station = await tx.getRepository(Agency).findOneBy({ id: stationId });
        if (station?.kind !== AgencyKind.RESCUE_STATION) throw badInput('input.stationId', 'Not a rescue station.');
        const { person } = await personForIntake(tx, ctx, input);
        await moveCustody(tx, person.id, actor.agencyId, {});
        const openCase = await tx.getRepository(RescueCase).findOneBy({ personId: person.id, status: 'OPEN' as RescueCase['status'] });
        const now = new Date();
        const referral = await insertReferral(tx, {
          kind: ReferralKind.ESCORT_TO_STATION,
          status: ReferralStatus.IN_TRANSIT,
          personId: person.id,
          caseId: openCase?.id ?? null,
          requestedById: actor.agencyId,
          fromAgencyId: actor.agencyId,
          toAgencyId: stationId,
          reason: null,
          rejectionReason: null,
          foundAt,
          circumstances,
          createdAt: now,
          updatedAt: now,
          respondBy: new Date(now.getTime() + ctx.settings.config.responseTimes.ESCORT_TO_STATION),
          escortAgencyId: actor.agencyId,
          escortNames: names,
          version: 2,
        });
        await tx.query(`UPDATE custody_record SET referral_id = $2 WHERE person_id = $1 AND to_at IS NULL AND referral_id IS NULL`, [
          person.id,
          referral.id,
        ]);
        await appendAudit(tx, ctx, [{ action: 'referral.logEscortedPerson', subjectType: 'Person', subjectId: person.id }]);
        await appendReferralEvents(tx, [
          {
            referralId: referral.id,
            type: 'REQUESTED',
            status: ReferralStatus.REQUESTED,
            actorAccountId: actor.accountId,
            actorAgencyId: actor.agencyId,
          },
          {
            referralId: referral.id,
            type: 'DISPATCHED',
            status: ReferralStatus.IN_TRANSIT,
            actorAccountId: actor.accountId,
            actorAgencyId: actor.agencyId,
          },
        ]);
        return { id: referral.id, value: referral };
      },
      loadReferral(tx),
    ),
  );
}

/** The receiving agency must be of the kind the referral goes to, and for a return, of the person's home prefecture. */
async function checkReceiver(tx: EntityManager, kind: ReferralKind, toAgencyId: string, originRegionCode: string | null): Promise<Agency> {
  // Agencies never change (agency.cache.ts): after the first request to an agency, no statement.
  const [to] = await agenciesById(tx.connection, [toAgencyId], tx);
  if (!to) throw badInput('input.toAgencyId', 'No such agency.');
  if (to.kind !== RECEIVER_KIND[kind]) throw badInput('input.toAgencyId', `A ${kind} referral goes to a ${RECEIVER_KIND[kind]}.`);
  if (kind === ReferralKind.RETURN_TO_ORIGIN) {
    if (!originRegionCode) throw badInput('input.personId', "The person's origin (户籍) is not known: establish the identity first.");
    if (prefectureOf(to.regionCode) !== prefectureOf(originRegionCode)) {
      throw badInput('input.toAgencyId', "A return goes to the civil-affairs office of the person's home prefecture.");
    }
  }
  return to;
}

/** A new request's columns, once its sender and case are known (from who holds the person: requestReferral). */
function requestColumns(
  ctx: RequestContext,
  actor: AccountActor,
  input: RequestReferralInput,
  ids: { personId: string; toAgencyId: string; reason: string | null },
  holding: { fromAgencyId: string | null; caseId: string | null },
): ReferralColumns {
  const now = new Date();
  return {
    kind: input.kind,
    status: ReferralStatus.REQUESTED,
    personId: ids.personId,
    caseId: holding.caseId,
    requestedById: actor.agencyId,
    fromAgencyId: holding.fromAgencyId!,
    toAgencyId: ids.toAgencyId,
    reason: ids.reason,
    rejectionReason: null,
    foundAt: null,
    circumstances: null,
    createdAt: now,
    updatedAt: now,
    respondBy: new Date(now.getTime() + ctx.settings.config.responseTimes[input.kind]),
    version: 1,
    escortAgencyId: null,
    escortNames: [],
  };
}

/**
 * The request's rules that need the person's lock, in the order a caller meets them: need to know (NOT_FOUND),
 * involvement, an open case where the kind ends one. The receiver's checks follow (checkReceiver), then that the
 * person is not already with the receiver (sameAgency).
 */
function refusal(locked: Awaited<ReturnType<typeof lockVisiblePerson>>, actor: AccountActor, kind: ReferralKind): HubError | null {
  if (!locked) return notFound('Person');
  const { holderId, openCase } = locked.holding;
  const involved = holderId === actor.agencyId || openCase?.stationId === actor.agencyId;
  if (!involved) return forbidden("Only the person's custodian or the station of their open case may refer them.");
  if (NEEDS_OPEN_CASE.includes(kind) && !openCase) {
    return badInput('input.kind', `A ${kind} ends the station's case: the person needs an open case.`);
  }
  return null;
}

const sameAgency = () => badInput('input.toAgencyId', 'The person is already with that agency.');

/** Who sends the person: whoever holds them, or the requesting station of their open case when nobody does (the SQL of guardedRequest says the same). */
const senderOf = (holding: Holding, actor: AccountActor) => holding.holderId ?? actor.agencyId;

/**
 * The request as ONE statement that applies refusal()'s rules and sameAgency's itself, from who holds the person
 * as the lock left them (its snapshot is taken after the request's lock statement, in the same transaction:
 * referral.guard.ts tells why), so that it can leave in the same write as the lock and the COMMIT. It inserts the
 * referral, its audit entry and its event where the rules allow the request, and nothing otherwise; need to know
 * needs no rule of its own: the custodian and the station of the open case are parties (PARTY_SQL). Only for a
 * receiver already checked (checkReceiver) and a kind whose rules need nothing else of the person (a return home
 * also needs the person's origin).
 */
function guardedRequest(
  ctx: RequestContext,
  actor: AccountActor,
  columns: ReferralColumns,
): { referral: Referral; sql: string; params: unknown[] } {
  const { referral, cte } = referralInsert(columns, 'req');
  const insert = cte(1, 'change_0');
  const params = [...insert.params];
  const p = (value: unknown) => `$${params.push(value)}`;
  const [createdAt, respondBy] = [p(columns.createdAt), p(columns.respondBy)];
  const [agency, person, to, needsCase] = [
    p(actor.agencyId),
    p(columns.personId),
    p(columns.toAgencyId),
    p(NEEDS_OPEN_CASE.includes(columns.kind)),
  ];
  const audit = auditEntriesOf(
    params.length + 1,
    ctx,
    { action: 'referral.request', subjectType: 'Person' },
    { subject: `${person}::uuid`, from: 'change_0' },
  );
  params.push(...audit.params);
  const event = eventInsertFrom(
    `${p(referral.id)}::uuid, 'REQUESTED'::referral_event_type, 'REQUESTED'::referral_status, ${p(actor.accountId)}::uuid, ${agency}::uuid, NULL`,
    'change_0',
  );
  const sql = `WITH ${insert.before!.join(', ')},
    req AS (SELECT h.case_id, COALESCE(h.holder_id, ${agency}::uuid) AS from_agency_id, t.at AS created_at, t.at AS updated_at,
                   t.at + (${respondBy}::timestamptz - ${createdAt}::timestamptz) AS respond_by
              FROM person_holding(${person}::uuid) h,
                   -- Made no earlier than the custody it starts from: the time was taken before the lock's wait, and a
                   -- move committed meanwhile must not end after the request that it sends from.
                   LATERAL (SELECT GREATEST(${createdAt}::timestamptz,
                                            ${openSpanStart(`${person}::uuid`)}) AS at) t
             WHERE (h.holder_id = ${agency}::uuid OR h.case_station_id = ${agency}::uuid)
               AND (h.case_id IS NOT NULL OR NOT ${needsCase}::bool)
               AND COALESCE(h.holder_id, ${agency}::uuid) <> ${to}::uuid),
    change_0 AS (${insert.sql}),
    audit AS (${audit.sql}),
    ${XACT_CTE},
    event AS (${event})
    SELECT * FROM change_0`;
  return { referral, sql, params };
}

/**
 * Any agency involved with the person — the custodian, or the station of the
 * open case (the seed: the station asks for an evaluation while the police
 * still hold the man) — asks another to take the person over.
 *
 * Without an idempotency key, to a receiver the cache already knows is right, and of a kind other than a return
 * home, the request is the person's row lock, the guarded INSERT and the COMMIT in one write (one round trip).
 * When the INSERT refused (its rules in SQL), nothing committed, and the request runs as it always has, whose lock
 * statement with need to know, holder and case tells why: a refusal costs a second round trip, a request none.
 */
export async function requestReferral(ctx: RequestContext, input: RequestReferralInput): Promise<Referral> {
  const actor: AccountActor = requireAgency(ctx.actor);
  const personId = uuidOf('Person', input.personId, 'input.personId');
  const toAgencyId = uuidOf('Agency', input.toAgencyId, 'input.toAgencyId');
  const reason = optionalText('input.reason', input.reason, 2000);
  const ids = { personId, toAgencyId, reason };
  const { idempotencyKey, ...rest } = input;
  if (idempotencyKey == null && input.kind !== ReferralKind.RETURN_TO_ORIGIN) {
    // Agencies never change (agency.cache.ts): after the first request to an agency, no statement.
    const [to] = await agenciesById(ctx.db, [toAgencyId]);
    if (to?.kind === RECEIVER_KIND[input.kind]) {
      const guarded = guardedRequest(ctx, actor, requestColumns(ctx, actor, input, ids, { fromAgencyId: null, caseId: null }));
      const inserted = await inRequestTransaction(ctx, async (tx) => {
        const [locked, written] = lastStatements(tx, [personLockStatement(personId), guarded]);
        // In order: a lock that failed (a deadlock, say) fails the statement behind it with "transaction aborted".
        await locked;
        const rows = await written.catch((err: unknown) => {
          throw openReferralConflict(err);
        });
        if (rows[0]) eventsAppended(tx);
        return rows[0] as
          { case_id: string | null; from_agency_id: string; created_at: Date; respond_by: Date | null; updated_at: Date } | undefined;
      });
      if (inserted)
        return Object.assign(guarded.referral, {
          caseId: inserted.case_id,
          fromAgencyId: inserted.from_agency_id,
          createdAt: inserted.created_at,
          respondBy: inserted.respond_by,
          updatedAt: inserted.updated_at,
        });
      // Nothing inserted, nothing committed: the request as below finds out why (its error), or makes it, should the
      // person's state have changed in between.
    }
  }
  return inRequestTransaction(ctx, (tx) =>
    idempotent(
      tx,
      { agencyId: actor.agencyId, operation: 'requestReferral', key: idempotencyKey, input: rest, secret: ctx.settings.idNumberKey },
      async () => {
        // The lock, need to know, and who holds the person and their open case once the lock is held: one statement.
        const locked = await lockVisiblePerson(tx, personId, actor.agencyId);
        const refused = refusal(locked, actor, input.kind);
        if (refused) throw refused;
        const { person, holding } = locked!;
        await checkReceiver(tx, input.kind, toAgencyId, person.originRegionCode);
        const fromAgencyId = senderOf(holding, actor);
        if (toAgencyId === fromAgencyId) throw sameAgency();
        // The row, its audit entry and its event: one statement (one round trip), all in this transaction.
        const { referral, cte } = referralInsert(
          requestColumns(ctx, actor, input, ids, { fromAgencyId, caseId: holding.openCase?.id ?? null }),
        );
        await appendReferralEventWith(
          tx,
          {
            referralId: referral.id,
            type: 'REQUESTED',
            status: ReferralStatus.REQUESTED,
            actorAccountId: actor.accountId,
            actorAgencyId: actor.agencyId,
          },
          [cte, (n) => auditEntryCte(n, ctx, { action: 'referral.request', subjectType: 'Person', subjectId: personId })],
          // The last statement, unless idempotent() records the key after it.
          { last: idempotencyKey == null },
        ).catch((err: unknown) => {
          throw openReferralConflict(err);
        });
        return { id: referral.id, value: referral };
      },
      loadReferral(tx),
    ),
  );
}
