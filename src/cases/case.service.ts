import type { EntityManager } from 'typeorm';
import { Agency } from '../agencies/agency.entity';
import { requiredText } from '../agencies/agency.service';
import { appendAudit } from '../audit/audit.service';
import { AccountRole, AgencyKind, requireAgency } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { releaseCustody, takeCustodyIfFree, currentCustody } from '../custody/custody.service';
import { idempotent } from '../db/idempotency';
import { constraintName, sqlState } from '../db/transaction';
import { notifyStationChanged } from '../events/outbox';
import { encryptIdNumber } from '../persons/id-number.crypto';
import { ageGroupOf } from '../persons/person.enums';
import type { Person } from '../persons/person.entity';
import { checkIdNumber, optionalText } from '../persons/person.rules';
import { lockPerson, personForIntake } from '../persons/person.service';
import { badInput, conflict, forbidden, invalidTransition, notFound } from '../shared/errors';
import { uuidOf } from '../shared/relay';
import { CaseOutcome, CaseStatus, type IntakeChannel } from './case.enums';
import type { CloseCaseInput, ExtendRescuePeriodInput, OpenCaseInput } from './case.input';
import { chinaYear } from '../shared/china-time';
import { ALONE_OUTCOMES, REFERRAL_OUTCOMES, mayNotLeaveAlone } from './case.rules';
import { RescueCase, RescuePeriodExtension } from './rescue-case.entity';

export interface NewCase {
  person: Person;
  stationId: string;
  intakeChannel: IntakeChannel;
  broughtById?: string | null;
  note?: string | null;
  /** The hand-off that brought the person in (ESCORT_TO_STATION), if any. */
  referralId?: string | null;
}

/**
 * Opens a case inside the caller's transaction: a case number from the
 * station's counter row (locked by the upsert, so parallel opens queue for
 * it), the rescue period from the setting, and custody to the station only
 * if nobody holds the person (DOMAIN.md §4: the police keep a person they
 * still hold until a hand-off).
 */
export async function openCaseInTx(tx: EntityManager, ctx: RequestContext, c: NewCase): Promise<RescueCase> {
  const now = new Date();
  const station = await tx.getRepository(Agency).findOneByOrFail({ id: c.stationId });
  const year = chinaYear(now);
  const [{ last }]: { last: number }[] = await tx.query(
    `INSERT INTO case_number_counter (station_id, year, last) VALUES ($1, $2, 1)
     ON CONFLICT (station_id, year) DO UPDATE SET last = case_number_counter.last + 1
     RETURNING last`,
    [c.stationId, year],
  );
  const repo = tx.getRepository(RescueCase);
  const rescueCase = repo.create({
    caseNumber: `${station.shortCode}-${year}-${String(last).padStart(6, '0')}`,
    personId: c.person.id,
    stationId: c.stationId,
    intakeChannel: c.intakeChannel,
    broughtById: c.broughtById ?? null,
    note: c.note ?? null,
    openedAt: now,
    rescuePeriodEndsAt: new Date(now.getTime() + ctx.settings.config.rescuePeriodDays * 86_400_000),
    ageGroupAtOpening: ageGroupOf(c.person.birthYear, now),
    status: CaseStatus.OPEN,
    outcome: null,
    closedAt: null,
    closing: null,
  });
  try {
    await repo.insert(rescueCase);
  } catch (err) {
    if (sqlState(err) === '23505' && constraintName(err) === 'rescue_case_one_open_per_person') {
      throw conflict('This person already has an open case; a person has at most one open case.', { field: 'input.personId' });
    }
    throw err;
  }
  await takeCustodyIfFree(tx, c.person.id, c.stationId, { caseId: rescueCase.id, referralId: c.referralId ?? null });
  await appendAudit(tx, ctx, [{ action: 'case.open', subjectType: 'Person', subjectId: c.person.id }]);
  // Occupancy subscriptions re-count at commit: a case opened at the desk has no referral event.
  notifyStationChanged(tx, c.stationId);
  return rescueCase;
}

export async function openCase(ctx: RequestContext, input: OpenCaseInput): Promise<RescueCase> {
  const actor = requireAgency(ctx.actor, AgencyKind.RESCUE_STATION);
  const note = optionalText('input.note', input.note, 2000);
  const { idempotencyKey, ...rest } = input;
  return inRequestTransaction(ctx, (tx) =>
    idempotent(
      tx,
      { agencyId: actor.agencyId, operation: 'openCase', key: idempotencyKey, input: rest, secret: ctx.settings.idNumberKey },
      async () => {
        const { person } = await personForIntake(tx, ctx, input);
        const c = await openCaseInTx(tx, ctx, { person, stationId: actor.agencyId, intakeChannel: input.intakeChannel, note });
        return { id: c.id, value: c };
      },
      async (id) => tx.getRepository(RescueCase).findOneByOrFail({ id }),
    ),
  );
}

/**
 * The caller's own case, its id and person (others: NOT_FOUND if they may not see it, else FORBIDDEN). Checked
 * before the transaction, like a referral step: the access policy reads on its own pool connection, and
 * asking it while holding a connection and the row lock let poolSize concurrent closes wait on each other
 * until the pool timed out. A case's person and station never change.
 */
async function ownCase(ctx: RequestContext, caseGlobalId: string): Promise<{ id: string; personId: string }> {
  const actor = requireAgency(ctx.actor);
  const id = uuidOf('RescueCase', caseGlobalId, 'input.caseId');
  const found = await ctx.db.getRepository(RescueCase).findOne({ where: { id }, select: { id: true, personId: true, stationId: true } });
  if (!found || !(await ctx.access.visiblePersons(ctx, [found.personId])).has(found.personId)) throw notFound('RescueCase');
  if (actor.agencyId !== found.stationId) throw forbidden("Only the case's own station may do this.");
  return { id, personId: found.personId };
}

/** The case row, locked for the rest of the transaction. */
async function lockCase(tx: EntityManager, id: string): Promise<RescueCase> {
  return (await tx.getRepository(RescueCase).createQueryBuilder('c').setLock('pessimistic_write').where('c.id = :id', { id }).getOne())!;
}

/** Closes a case as a received referral's effect (RETURNED_ESCORTED, PLACED_IN_WELFARE_HOME). */
export async function closeCaseInTx(
  tx: EntityManager,
  rescueCase: RescueCase,
  outcome: CaseOutcome,
  closing: Record<string, string | null> | null = null,
): Promise<RescueCase> {
  rescueCase.status = CaseStatus.CLOSED;
  rescueCase.outcome = outcome;
  rescueCase.closedAt = new Date();
  rescueCase.closing = closing;
  rescueCase.version += 1;
  await tx.getRepository(RescueCase).save(rescueCase);
  notifyStationChanged(tx, rescueCase.stationId);
  return rescueCase;
}

export async function closeCase(ctx: RequestContext, input: CloseCaseInput): Promise<RescueCase> {
  requireAgency(ctx.actor, AgencyKind.RESCUE_STATION);
  const now = new Date();
  const note = optionalText('input.note', input.note, 2000);
  const closing: Record<string, string | null> = { note };
  if (input.outcome === CaseOutcome.RETURNED_FUNDED) {
    if (!input.travelVoucher) throw badInput('input.travelVoucher', 'RETURNED_FUNDED needs a travel voucher.');
    closing.destination = requiredText('input.travelVoucher.destination', input.travelVoucher.destination, 200);
    closing.ticketNumber = optionalText('input.travelVoucher.ticketNumber', input.travelVoucher.ticketNumber, 50);
  }
  if (input.outcome === CaseOutcome.RETURNED_FAMILY_PICKUP) {
    if (!input.collector) throw badInput('input.collector', 'RETURNED_FAMILY_PICKUP needs the collector.');
    closing.collectorName = requiredText('input.collector.name', input.collector.name, 50);
    closing.collectorRelationship = requiredText('input.collector.relationship', input.collector.relationship, 50);
    const id = checkIdNumber('input.collector.idNumber', input.collector.idNumber, now);
    closing.collectorIdNumber = encryptIdNumber(ctx.settings.idNumberKey, id.normalized).toString('base64');
  }
  const { id: caseId, personId } = await ownCase(ctx, input.caseId);
  return inRequestTransaction(ctx, async (tx) => {
    // The person before the case: a received return or placement (referral.step.ts) closes the case while holding
    // the person's lock, so the other order deadlocks with it.
    const person = (await lockPerson(tx, personId))!;
    const rescueCase = await lockCase(tx, caseId);
    if (rescueCase.status !== CaseStatus.OPEN) throw invalidTransition(rescueCase.status, 'The case is already closed.');
    // After the case's own checks, so that the answer tells its real status (and nothing to a stranger).
    if (REFERRAL_OUTCOMES.includes(input.outcome)) {
      throw invalidTransition(rescueCase.status, `${input.outcome} comes from a received referral, not from closeCase.`);
    }
    if (ALONE_OUTCOMES.includes(input.outcome) && mayNotLeaveAlone(person, now)) {
      throw badInput(
        'input.outcome',
        'Persons under 16 or with a mental, intellectual or physical disability may not leave alone: they are collected or escorted (工作规程).',
      );
    }
    const openReferrals: { status: string }[] = await tx.query(
      `SELECT status FROM referral WHERE person_id = $1 AND status IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT')`,
      [person.id],
    );
    if (openReferrals[0])
      throw invalidTransition('OPEN', `The person has an open referral (${openReferrals[0].status}); cancel or finish it first.`);
    if (input.outcome !== CaseOutcome.DECEASED) {
      const custody = await currentCustody(tx, person.id);
      if (custody && custody.holderId !== rescueCase.stationId) {
        throw invalidTransition('OPEN', 'Another agency holds the person; only the holder can let them go.');
      }
    }
    await closeCaseInTx(tx, rescueCase, input.outcome, closing);
    // Home, away or dead: nobody is responsible any more.
    await releaseCustody(tx, person.id);
    await appendAudit(tx, ctx, [{ action: 'case.close', subjectType: 'Person', subjectId: person.id }]);
    return rescueCase;
  });
}

export async function extendRescuePeriod(ctx: RequestContext, input: ExtendRescuePeriodInput): Promise<RescueCase> {
  const actor = requireAgency(ctx.actor, AgencyKind.RESCUE_STATION);
  if (actor.role !== AccountRole.SUPERVISOR) throw forbidden('Only a supervisor of the station may extend a rescue period.');
  const reason = requiredText('input.reason', input.reason, 2000);
  const { id: caseId } = await ownCase(ctx, input.caseId);
  return inRequestTransaction(ctx, async (tx) => {
    const rescueCase = await lockCase(tx, caseId);
    if (rescueCase.status !== CaseStatus.OPEN) throw invalidTransition(rescueCase.status, 'A closed case has no rescue period to extend.');
    if (input.until.getTime() <= rescueCase.rescuePeriodEndsAt.getTime()) {
      throw badInput('input.until', 'until must be later than the current end of the rescue period.');
    }
    await tx.getRepository(RescuePeriodExtension).insert({
      caseId: rescueCase.id,
      previousEnd: rescueCase.rescuePeriodEndsAt,
      newEnd: input.until,
      reason,
      accountId: actor.accountId,
    });
    rescueCase.rescuePeriodEndsAt = input.until;
    rescueCase.version += 1;
    await tx.getRepository(RescueCase).save(rescueCase);
    notifyStationChanged(tx, rescueCase.stationId); // overdueCases
    await appendAudit(tx, ctx, [{ action: 'case.extendRescuePeriod', subjectType: 'Person', subjectId: rescueCase.personId }]);
    return rescueCase;
  });
}
