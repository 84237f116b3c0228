import type { EntityManager } from 'typeorm';
import { Agency } from '../agencies/agency.entity';
import { requiredText } from '../agencies/agency.service';
import { appendAudit } from '../audit/audit.service';
import { AgencyKind, requireAgency, type AccountActor } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { RescueCase } from '../cases/rescue-case.entity';
import { currentCustody, moveCustody } from '../custody/custody.service';
import { idempotent } from '../db/idempotency';
import { constraintName, sqlState } from '../db/transaction';
import { appendReferralEvents } from '../events/outbox';
import { optionalText } from '../persons/person.rules';
import { lockPerson, personForIntake } from '../persons/person.service';
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

/** Inserts the referral; the database's partial unique index refuses a second open one for the person. */
async function insertReferral(tx: EntityManager, r: Partial<Referral>): Promise<Referral> {
  const repo = tx.getRepository(Referral);
  const referral = repo.create({ version: 1, escortNames: [], ...r });
  try {
    await repo.insert(referral);
  } catch (err) {
    if (sqlState(err) === '23505' && constraintName(err) === 'referral_one_open_per_person') {
      throw conflict('The person already has an open referral; at most one is open at a time.', { field: 'input.personId' });
    }
    throw err;
  }
  return repo.findOneByOrFail({ id: referral.id });
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
  const to = await tx.getRepository(Agency).findOneBy({ id: toAgencyId });
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
  if (!(await ctx.access.visiblePersons(ctx, [personId])).has(personId)) throw notFound('Person');
  const { idempotencyKey, ...rest } = input;
  return inRequestTransaction(ctx, (tx) =>
    idempotent(
      tx,
      { agencyId: actor.agencyId, operation: 'requestReferral', key: idempotencyKey, input: rest, secret: ctx.settings.idNumberKey },
      async () => {
        const person = (await lockPerson(tx, personId))!;
        const custody = await currentCustody(tx, personId);
        const openCase = await tx.getRepository(RescueCase).findOneBy({ personId, status: 'OPEN' as RescueCase['status'] });
        const involved = custody?.holderId === actor.agencyId || openCase?.stationId === actor.agencyId;
        if (!involved) throw forbidden("Only the person's custodian or the station of their open case may refer them.");
        if (NEEDS_OPEN_CASE.includes(input.kind) && !openCase) {
          throw badInput('input.kind', `A ${input.kind} ends the station's case: the person needs an open case.`);
        }
        await checkReceiver(tx, input.kind, toAgencyId, person.originRegionCode);
        const fromAgencyId = custody?.holderId ?? actor.agencyId;
        if (toAgencyId === fromAgencyId) throw badInput('input.toAgencyId', 'The person is already with that agency.');
        const now = new Date();
        const referral = await insertReferral(tx, {
          kind: input.kind,
          status: ReferralStatus.REQUESTED,
          personId,
          caseId: openCase?.id ?? null,
          requestedById: actor.agencyId,
          fromAgencyId,
          toAgencyId,
          reason,
          createdAt: now,
          updatedAt: now,
          respondBy: new Date(now.getTime() + ctx.settings.config.responseTimes[input.kind]),
        });
        await appendAudit(tx, ctx, [{ action: 'referral.request', subjectType: 'Person', subjectId: personId }]);
        await appendReferralEvents(tx, [
          {
            referralId: referral.id,
            type: 'REQUESTED',
            status: ReferralStatus.REQUESTED,
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
