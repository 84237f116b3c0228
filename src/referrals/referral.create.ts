import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { agenciesById } from '../agencies/agency.cache';
import { Agency } from '../agencies/agency.entity';
import { requiredText } from '../agencies/agency.service';
import { appendAudit, auditEntryCte } from '../audit/audit.service';
import { AgencyKind, requireAgency, type AccountActor } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { RescueCase } from '../cases/rescue-case.entity';
import { moveCustody } from '../custody/custody.service';
import { idempotent } from '../db/idempotency';
import { constraintName, sqlState } from '../db/transaction';
import { standalone, type AlongsideCte } from '../db/cte';
import { appendReferralEvents, appendReferralEventWith } from '../events/outbox';
import { optionalText } from '../persons/person.rules';
import { lockVisiblePerson, personForIntake } from '../persons/person.service';
import { badInput, conflict, forbidden, notFound } from '../shared/errors';
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
 * there). Returns the referral as the INSERT writes it.
 */
function referralInsert(r: ReferralColumns): {
  referral: Referral;
  cte: AlongsideCte;
} {
  const referral = Object.assign(new Referral(), r, { id: randomUUID() });
  return {
    referral,
    cte: (n) => ({
      sql: `INSERT INTO referral (id, kind, status, person_id, case_id, requested_by_id, from_agency_id, to_agency_id, reason,
                                  rejection_reason, found_at, circumstances, created_at, respond_by, updated_at, version,
                                  escort_agency_id, escort_names)
            VALUES ($${n}::uuid, $${n + 1}::referral_kind, $${n + 2}::referral_status, $${n + 3}::uuid, $${n + 4}::uuid, $${n + 5}::uuid,
                    $${n + 6}::uuid, $${n + 7}::uuid, $${n + 8}::varchar, $${n + 9}::rejection_reason, $${n + 10}::varchar,
                    $${n + 11}::varchar, $${n + 12}::timestamptz, $${n + 13}::timestamptz, $${n + 14}::timestamptz, $${n + 15}::int,
                    $${n + 16}::uuid, $${n + 17}::varchar[])`,
      params: [
        referral.id,
        r.kind,
        r.status,
        r.personId,
        r.caseId,
        r.requestedById,
        r.fromAgencyId,
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

/**
 * Any agency involved with the person — the custodian, or the station of the
 * open case (the seed: the station asks for an evaluation while the police
 * still hold the man) — asks another to take the person over.
 */
export async function requestReferral(ctx: RequestContext, input: RequestReferralInput): Promise<Referral> {
  const actor: AccountActor = requireAgency(ctx.actor);
  const personId = uuidOf('Person', input.personId, 'input.personId');
  const toAgencyId = uuidOf('Agency', input.toAgencyId, 'input.toAgencyId');
  const reason = optionalText('input.reason', input.reason, 2000);
  const { idempotencyKey, ...rest } = input;
  return inRequestTransaction(ctx, (tx) =>
    idempotent(
      tx,
      { agencyId: actor.agencyId, operation: 'requestReferral', key: idempotencyKey, input: rest, secret: ctx.settings.idNumberKey },
      async () => {
        // The lock, need to know, and who holds the person and their open case once the lock is held: one statement.
        const locked = await lockVisiblePerson(tx, personId, actor.agencyId);
        if (!locked) throw notFound('Person');
        const { person, holding } = locked;
        const { holderId, openCase } = holding;
        const involved = holderId === actor.agencyId || openCase?.stationId === actor.agencyId;
        if (!involved) throw forbidden("Only the person's custodian or the station of their open case may refer them.");
        if (NEEDS_OPEN_CASE.includes(input.kind) && !openCase) {
          throw badInput('input.kind', `A ${input.kind} ends the station's case: the person needs an open case.`);
        }
        await checkReceiver(tx, input.kind, toAgencyId, person.originRegionCode);
        const fromAgencyId = holderId ?? actor.agencyId;
        if (toAgencyId === fromAgencyId) throw badInput('input.toAgencyId', 'The person is already with that agency.');
        const now = new Date();
        // The row, its audit entry and its event: one statement (one round trip), all in this transaction.
        const { referral, cte } = referralInsert({
          kind: input.kind,
          status: ReferralStatus.REQUESTED,
          personId,
          caseId: openCase?.id ?? null,
          requestedById: actor.agencyId,
          fromAgencyId,
          toAgencyId,
          reason,
          rejectionReason: null,
          foundAt: null,
          circumstances: null,
          createdAt: now,
          updatedAt: now,
          respondBy: new Date(now.getTime() + ctx.settings.config.responseTimes[input.kind]),
          version: 1,
          escortAgencyId: null,
          escortNames: [],
        });
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
