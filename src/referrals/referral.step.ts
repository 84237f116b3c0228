import type { DataSource, EntityManager } from 'typeorm';
import { agenciesById } from '../agencies/agency.cache';
import { requiredText } from '../agencies/agency.service';
import { auditEntryCte } from '../audit/audit.service';
import { PARTY_SQL } from '../access/access.policy';
import { requireAgency, type AccountActor } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { CaseOutcome, CaseStatus, IntakeChannel } from '../cases/case.enums';
import { closeCaseInTx, openCaseInTx } from '../cases/case.service';
import { RescueCase } from '../cases/rescue-case.entity';
import { custodyMove, moveCustody, releaseCustody } from '../custody/custody.service';
import { appendReferralEventWith, eventsAppended } from '../events/outbox';
import type { AlongsideCte } from '../db/cte';
import { rowShape, type RowShape } from '../db/rows';
import { lastStatements } from '../db/transaction';
import { Vulnerability } from '../persons/person.enums';
import { lockPerson } from '../persons/person.service';
import { optionalText } from '../persons/person.rules';
import { badInput, conflict, forbidden, invalidTransition, notFound, type HubError } from '../shared/errors';
import { uuidOf } from '../shared/relay';
import { parseIcd10 } from './icd10';
import { BedAssignment, Diagnosis, Referral } from './referral.entity';
import { CUSTODY_TO, PARTY_PROPERTY, guardedStep, isCustodyMove, type CustodyEffect, type StepColumns } from './referral.guard';
import { plan, type Action, type Effect, type Party, type Transition } from './referral.machine';

/** The caller's roles on this referral, given who holds the person now. */
export function partiesOf(referral: Referral, agencyId: string, custodianId: string | null): Set<Party> {
  const parties = new Set<Party>();
  for (const [party, property] of Object.entries(PARTY_PROPERTY)) if (referral[property] === agencyId) parties.add(party as Party);
  if (custodianId === agencyId) parties.add('CUSTODIAN');
  return parties;
}

export interface StepDetails {
  /** Kept on the step's event (ReferralEvent.note). */
  note?: string | null;
  rejectionReason?: Referral['rejectionReason'];
  escortAgencyId?: string | null;
  escortNames?: string[];
  icd10Code?: string;
  isMentalDisorder?: boolean;
  summary?: string | null;
  ward?: string;
  bed?: string;
}

/** What an action sets on the referral from the caller's input, besides status, version and time; the same keys at every call of one action. */
export function stepColumns(action: Action, d: StepDetails, actor: AccountActor): StepColumns {
  if (action === 'reject') return { rejectionReason: d.rejectionReason ?? null };
  if (action === 'dispatch') return { escortAgencyId: d.escortAgencyId ?? actor.agencyId, escortNames: d.escortNames ?? [] };
  return {};
}

/**
 * One step of the machine, in one transaction: lock the referral row (two
 * agencies acting at once are serialized; the second sees the first's
 * status), check expectedVersion, ask the transition table, apply its
 * effects, bump the version, audit, and append the event last (commit order).
 * A failure anywhere rolls the whole step back.
 *
 * A step whose row of the table the guarded statement can do whole (referral.guard.ts: the custody moves, or no
 * effect) is sent as the row locks, that statement and the COMMIT in one write: one round trip. When it changed
 * nothing (not found, a stale version, not allowed, or a row of the table with effects of its own: receipt of an
 * escort, a return home, a placement), nothing committed, and the step runs the way below in a transaction of its
 * own, whose lock statement and plan() give the error or do the step. An error thus costs a second round trip; a
 * step that succeeds, none (issue 7).
 */
export async function step(
  ctx: RequestContext,
  action: Action,
  referralGlobalId: string,
  expectedVersion: number | null | undefined,
  details: StepDetails = {},
): Promise<Referral> {
  const actor = requireAgency(ctx.actor);
  const id = uuidOf('Referral', referralGlobalId, 'input.referralId');
  if (action === 'dispatch') await checkEscortAgency(ctx.db, details.escortAgencyId);
  const shape = rowShape(ctx.db, Referral);
  const guarded = guardedStep(shape, {
    ctx,
    actor,
    action,
    referralId: id,
    expectedVersion: expectedVersion ?? null,
    at: new Date(),
    note: details.note ?? null,
    columns: stepColumns(action, details, actor),
  });
  if (guarded) {
    const changed = await inRequestTransaction(ctx, async (tx) => {
      const [locked, written] = lastStatements(tx, [rowLocks(id), guarded]);
      // In order: a lock that failed (a deadlock, say) fails the statement behind it with "transaction aborted".
      await locked;
      const row = (await written)[0];
      if (row) eventsAppended(tx);
      return row;
    });
    if (changed) return shape.map(changed)!;
    // Nothing changed, and nothing committed: the step as below finds out why (its error) with the lock's row and
    // plan(), or does it, if its row of the table has effects of its own or the referral changed in between.
  }
  return inRequestTransaction(ctx, async (tx) => {
    const lock = lockStatement(shape, id, actor);
    const decided = decide(shape, (await tx.query(lock.sql, lock.params))[0], action, actor, expectedVersion);
    if (!decided.ok) throw decided.error;
    await applyTransition(tx, ctx, actor, decided.referral, decided.transition, details);
    return decided.referral;
  });
}

/**
 * The locks of lockStatement alone (the person's, then the referral's, in that order; see there), before a guarded
 * statement (referral.guard.ts), which then runs with a snapshot of its own taken once they are held and decides by
 * the transition table in SQL: no row, no need to know, no custodian to read here (issue 7: the full lock statement
 * was a third of PostgreSQL's time for a step, and its row only explains a refusal, which the step then reads again).
 * Taken whoever asks, as lockStatement's are: a caller who may not see the referral holds them for one statement
 * that changes nothing.
 */
const rowLocks = (id: string) => ({
  sql: `SELECT 1 FROM referral r JOIN person p ON p.id = r.person_id WHERE r.id = $1::uuid FOR UPDATE OF p, r`,
  params: [id],
});

/**
 * One statement, one round trip: the person's lock, then the referral's (FOR UPDATE OF p, r, in that order:
 * intake, requests and closing a case lock the person row first, and a step that moves custody or closes a case
 * takes the same locks, so the same order everywhere avoids deadlocks, each of which would cost a deadlock_timeout
 * before the retry). Need to know (PARTY_SQL, the policy's own rule) with the statement's snapshot: a referral's
 * person never changes and a party stays a party. The referral's row as the lock finds it (PostgreSQL re-reads a
 * locked row that changed while it waited). Who holds the person now: custody moves only under the person's lock,
 * and person_holding reads with a snapshot of its own, taken above the locking subquery, so after the lock is
 * granted (migrations/1796239262076-PersonHolding.ts). On the transaction's own connection: a second pool
 * connection taken while holding the lock would let poolSize concurrent steps wait on each other.
 */
function lockStatement(shape: RowShape<Referral>, id: string, actor: AccountActor): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT l.*, h.holder_id AS custodian_id
         FROM (SELECT ${shape.select('r')}, ${PARTY_SQL('p.id', '$2::uuid')} AS visible
                 FROM referral r JOIN person p ON p.id = r.person_id WHERE r.id = $1::uuid FOR UPDATE OF p, r) l,
              LATERAL person_holding(l."personId") h`,
    params: [id, actor.agencyId],
  };
}

type Decision = { ok: true; referral: Referral; transition: Transition } | { ok: false; error: HubError };

/** The step's checks on the row its lock found, in order: need to know, the expected version, then the table. */
function decide(
  shape: RowShape<Referral>,
  row: Record<string, unknown> | undefined,
  action: Action,
  actor: AccountActor,
  expectedVersion: number | null | undefined,
): Decision {
  const referral = row?.visible ? shape.map(row) : null;
  if (!referral) return { ok: false, error: notFound('Referral') };
  if (expectedVersion != null && expectedVersion !== referral.version) {
    return {
      ok: false,
      error: conflict('The referral changed since you read it.', { version: referral.version, status: referral.status }),
    };
  }
  const decided = plan(referral, action, partiesOf(referral, actor.agencyId, row!.custodian_id as string | null));
  if (decided.ok) return { ok: true, referral, transition: decided.transition };
  if (decided.error === 'FORBIDDEN') return { ok: false, error: forbidden(`Your agency may not ${action} this referral.`) };
  return {
    ok: false,
    error: invalidTransition(referral.status, `Cannot ${action} a ${referral.kind} referral that is ${referral.status}.`),
  };
}

async function applyTransition(
  tx: EntityManager,
  ctx: RequestContext,
  actor: AccountActor,
  referral: Referral,
  t: Transition,
  d: StepDetails,
): Promise<void> {
  const now = new Date();
  if (t.to) referral.status = t.to;
  Object.assign(referral, stepColumns(t.action, d, actor));
  // A transition whose effects are all writes of their own (the custody moves of dispatch, receipt and cancel)
  // writes them in its final statement; one that reads or decides (opening or closing a case) runs each effect in
  // turn, in the table's order.
  const effects = t.effects ?? [];
  const inline = effects.every(isCustodyMove);
  if (!inline) for (const effect of effects) await EFFECTS[effect](tx, ctx, referral, d, now);
  referral.version += 1;
  referral.updatedAt = now;
  // The referral's new state (every column a step or its effects change), its audit entry and its event: one
  // statement, three writes, all in this transaction.
  const r = referral;
  await appendReferralEventWith(
    tx,
    {
      referralId: r.id,
      type: t.event,
      status: r.status,
      actorAccountId: actor.accountId,
      actorAgencyId: actor.agencyId,
      note: d.note ?? null,
    },
    [
      (n) => ({
        sql: `UPDATE referral SET status = $${n}::referral_status, rejection_reason = $${n + 1}::rejection_reason,
                     escort_agency_id = $${n + 2}::uuid, escort_names = $${n + 3}::varchar[], case_id = $${n + 4}::uuid,
                     version = $${n + 5}::int, updated_at = $${n + 6}::timestamptz
               WHERE id = $${n + 7}::uuid`,
        params: [r.status, r.rejectionReason, r.escortAgencyId, r.escortNames, r.caseId, r.version, r.updatedAt, r.id],
      }),
      (n) => auditEntryCte(n, ctx, { action: `referral.${t.action}`, subjectType: 'Person', subjectId: r.personId }),
      ...(inline ? effects.map((e) => alongside(e as CustodyEffect, r, now)) : []),
    ],
    // The step's last statement: step() only returns after it.
    { last: true },
  );
}

type EffectFn = (tx: EntityManager, ctx: RequestContext, r: Referral, d: StepDetails, now: Date) => Promise<void>;

async function openCaseOf(tx: EntityManager, r: Referral): Promise<RescueCase | null> {
  return r.caseId ? tx.getRepository(RescueCase).findOneBy({ id: r.caseId, status: CaseStatus.OPEN }) : null;
}

const causeOf = (r: Referral) => ({ referralId: r.id, caseId: r.caseId });
const holderOf = (effect: CustodyEffect, r: Referral) => r[CUSTODY_TO[effect]]!;

/** A custody move as a CTE of the step's final statement. */
const alongside = (effect: CustodyEffect, r: Referral, now: Date): AlongsideCte =>
  custodyMove(r.personId, holderOf(effect, r), causeOf(r), now);

/** A custody move as a statement of its own, for a transition whose other effects must run in turn. */
const alone =
  (effect: CustodyEffect): EffectFn =>
  (tx, _ctx, r, _d, now) =>
    moveCustody(tx, r.personId, holderOf(effect, r), causeOf(r), now);

/** Every effect named in the transition table, implemented once. */
const EFFECTS: Record<Effect, EffectFn> = {
  custodyToEscort: alone('custodyToEscort'),
  custodyToReceiver: alone('custodyToReceiver'),
  custodyToSender: alone('custodyToSender'),
  releaseCustody: (tx, _ctx, r, _d, now) => releaseCustody(tx, r.personId, new Date(now.getTime() + 1)),
  async openCaseAtStation(tx, ctx, r) {
    // A person who already has an open case here (e.g. registered while the police held them) keeps it.
    const existing = await tx.getRepository(RescueCase).findOneBy({ personId: r.personId, status: CaseStatus.OPEN });
    if (existing) {
      r.caseId = existing.id;
      return;
    }
    const person = (await lockPerson(tx, r.personId))!;
    const c = await openCaseInTx(tx, ctx, {
      person,
      stationId: r.toAgencyId,
      intakeChannel: IntakeChannel.POLICE_ESCORT,
      broughtById: r.requestedById,
      referralId: r.id,
    });
    r.caseId = c.id;
  },
  async closeCaseReturnedEscorted(tx, _ctx, r) {
    const c = await openCaseOf(tx, r);
    if (c) await closeCaseInTx(tx, c, CaseOutcome.RETURNED_ESCORTED);
  },
  async closeCasePlacedInWelfareHome(tx, _ctx, r) {
    const c = await openCaseOf(tx, r);
    if (c) await closeCaseInTx(tx, c, CaseOutcome.PLACED_IN_WELFARE_HOME);
  },
  async recordDiagnosis(tx, _ctx, r, d, now) {
    await tx.getRepository(Diagnosis).insert({
      referralId: r.id,
      personId: r.personId,
      hospitalId: r.toAgencyId,
      icd10Code: d.icd10Code!,
      summary: d.summary ?? null,
      diagnosedAt: now,
    });
    if (d.isMentalDisorder) {
      // ICD-10 chapter V (F00-F99): mental and behavioural disorders.
      await tx.query(
        `UPDATE person SET vulnerabilities = array(SELECT DISTINCT unnest(vulnerabilities || $2::vulnerability) ORDER BY 1), updated_at = now() WHERE id = $1`,
        [r.personId, Vulnerability.MENTAL_ILLNESS],
      );
    }
  },
  async assignBed(tx, _ctx, r, d, now) {
    await tx.getRepository(BedAssignment).insert({ referralId: r.id, agencyId: r.toAgencyId, ward: d.ward!, bed: d.bed!, assignedAt: now });
  },
};

/** Input checks that need no database, done before the transaction opens. */
export function dispatchDetails(
  escortAgencyId: string | null | undefined,
  names: string[],
  check: (field: string, names: string[]) => string[],
): StepDetails {
  return {
    // Only absent (null) means the dispatcher; an empty string is no agency id and is refused like any other.
    escortAgencyId: escortAgencyId != null ? uuidOf('Agency', escortAgencyId, 'input.escortAgencyId') : null,
    escortNames: check('input.escortNames', names),
  };
}

/** The optional note of an action, checked like every other text input. */
export function noteDetails(note: string | null | undefined): StepDetails {
  return { note: optionalText('input.note', note, 2000) };
}

export function diagnosisDetails(code: string, summary: string | null | undefined): StepDetails {
  const parsed = parseIcd10(code);
  if (!parsed.ok) throw badInput('input.icd10Code', 'An ICD-10 code is a letter, two digits and an optional decimal part, e.g. F20.9.');
  return { icd10Code: parsed.code, isMentalDisorder: parsed.isMentalDisorder, summary: optionalText('input.summary', summary, 2000) };
}

export function bedDetails(ward: string, bed: string): StepDetails {
  return { ward: requiredText('input.ward', ward, 50), bed: requiredText('input.bed', bed, 50) };
}

export async function checkEscortAgency(db: DataSource, id: string | null | undefined): Promise<void> {
  // Agencies never change (agency.cache.ts): after the first hand-off escorted by an agency, no statement; and
  // checked before the step's transaction, which then cannot be refused for it.
  if (id && !(await agenciesById(db, [id]))[0]) throw badInput('input.escortAgencyId', 'No such agency.');
}
