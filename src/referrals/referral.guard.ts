import type { AccountActor } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { auditEntriesOf } from '../audit/audit.service';
import { custodyMoveOf, openSpanStart } from '../custody/custody.service';
import type { RowShape } from '../db/rows';
import { XACT_CTE, eventInsertFrom } from '../events/outbox';
import type { Referral } from './referral.entity';
import { TRANSITIONS, type Action, type Effect, type Party, type Transition } from './referral.machine';

/**
 * The guarded step: a hand-off step as ONE statement that decides for itself, from the transition table, whether
 * it may change the referral, so that the step's lock, this statement and the COMMIT leave in one write and the
 * step costs one round trip instead of two (issue 7: every round trip is a loopback write and a wake-up of the
 * server; `writev` was 15-40% of the hub's CPU in the hand-off benchmark).
 *
 * The statement runs after the step's lock statement (referral.step.ts), in the same transaction, and takes its
 * snapshot when it starts, so after the locks on the person and the referral were granted: it reads the referral
 * and who holds the person as the lock left them, and nobody can change either until the COMMIT. (Not as CTEs of
 * the lock's statement: those would run with the statement's snapshot, taken before it waited for the lock, and
 * miss a custody move committed meanwhile.)
 *
 * Its guard is generated from TRANSITIONS: the first row, in the table's order, whose state (status, kind) and
 * party match is the row plan() picks, so the statement changes the referral exactly when plan() allows the step,
 * and only for rows it can do whole: effects that are all custody moves (SQL_ROWS). A row with effects that read
 * or decide (opening or closing a case, a diagnosis, a bed) leaves the statement changing nothing, and the step
 * runs again the way it always has (referral.step.ts).
 */

/** The referral's properties that name each party (CUSTODIAN is who holds the person now; HUB, the hub's own jobs). */
export const PARTY_PROPERTY = {
  REQUESTER: 'requestedById',
  SENDER: 'fromAgencyId',
  RECEIVER: 'toAgencyId',
  ESCORT: 'escortAgencyId',
} as const satisfies Partial<Record<Party, keyof Referral>>;

/** The custody moves of the table, by the referral's property that names whom each hands the person to: one write and nothing else each. */
export const CUSTODY_TO = {
  custodyToEscort: 'escortAgencyId',
  custodyToReceiver: 'toAgencyId',
  custodyToSender: 'fromAgencyId',
} as const satisfies Partial<Record<Effect, keyof Referral>>;

export type CustodyEffect = keyof typeof CUSTODY_TO;
export const isCustodyMove = (e: Effect): e is CustodyEffect => e in CUSTODY_TO;

/** The referral's columns that an action sets from the caller's input, besides status, version and time (stepColumns, referral.step.ts). */
export const STEP_COLUMNS = {
  rejectionReason: { column: 'rejection_reason', type: 'rejection_reason' },
  escortAgencyId: { column: 'escort_agency_id', type: 'uuid' },
  escortNames: { column: 'escort_names', type: 'varchar[]' },
} as const satisfies Partial<Record<keyof Referral, { column: string; type: string }>>;
export type StepColumns = Partial<Record<keyof typeof STEP_COLUMNS, unknown>>;

/** A row the guarded statement can do whole: it names its new status, and its effects are all custody moves. */
export const inOneStatement = (t: Transition): boolean => t.to !== undefined && t.by !== 'HUB' && (t.effects ?? []).every(isCustodyMove);

const ROWS = TRANSITIONS as readonly Transition[];

/** A value of the table (enum labels) written into SQL: only what cannot need quoting. */
function label(value: string): string {
  if (!/^[A-Z_]+$/.test(value)) throw new Error(`Not an enum label: ${value}`);
  return `'${value}'`;
}

/** The SQL of plan()'s match of row `t` on `c` (the referral as the lock left it) and `h` (who holds the person), for the agency $2. */
function matches(t: Transition): string {
  const party = t.by === 'CUSTODIAN' ? 'h.holder_id = $2::uuid' : t.by === 'HUB' ? 'false' : `c."${PARTY_PROPERTY[t.by]}" = $2::uuid`;
  return [
    `c.status IN (${t.from.map(label).join(', ')})`,
    ...(t.kinds ? [`c.kind IN (${t.kinds.map(label).join(', ')})`] : []),
    party,
  ].join(' AND ');
}

/** `CASE <expr> WHEN <row> THEN <value> ... END` over the given rows (by their index in the table). */
const byRow = (expr: string, rows: number[], value: (t: Transition) => string) =>
  `CASE ${expr} ${rows.map((i) => `WHEN ${i} THEN ${value(ROWS[i])}`).join(' ')} END`;

export interface GuardedInput {
  ctx: Pick<RequestContext, 'actor' | 'requestId'>;
  actor: AccountActor;
  action: Action;
  referralId: string;
  expectedVersion: number | null;
  at: Date;
  note: string | null;
  /** The action's own columns (stepColumns): their keys are the same at every call of one action. */
  columns: StepColumns;
}

/**
 * The guarded statement of one step, or null when no row of the action can be done in one statement. It returns
 * the referral's new row (`shape`'s columns) when it changed it, and no row when it did not.
 */
export function guardedStep(shape: RowShape<Referral>, input: GuardedInput): { sql: string; params: unknown[] } | null {
  const columns = Object.keys(input.columns) as (keyof typeof STEP_COLUMNS)[];
  const sql = guardedText(shape, input.action, columns);
  if (sql === null) return null;
  return {
    sql,
    params: [
      input.referralId,
      input.actor.agencyId,
      input.expectedVersion,
      input.at,
      input.actor.accountId,
      input.note,
      ...columns.map((c) => input.columns[c]),
      ...auditEntriesOf(FIRST_COLUMN_PARAM + columns.length, input.ctx, auditItem(input.action), AUDIT_OF).params,
    ],
  };
}

/** After $1-$6 as guardedStep gives them: the action's own columns, then the audit entry's. */
const FIRST_COLUMN_PARAM = 7;
const auditItem = (action: Action) => ({ action: `referral.${action}`, subjectType: 'Person' as const });
const AUDIT_OF = { subject: 's."personId"', from: 'step s' };

/**
 * The statement's text, the same at every call of one action with the same columns: built once per shape (the
 * referral's columns) and key, not at every step, where building and then hashing it (prepared-client.ts nameOf)
 * was ~3% of a hand-off's CPU (issue 7 profile).
 */
const texts = new WeakMap<RowShape<Referral>, Map<string, string | null>>();

function guardedText(shape: RowShape<Referral>, action: Action, columns: (keyof typeof STEP_COLUMNS)[]): string | null {
  let byKey = texts.get(shape);
  if (!byKey) texts.set(shape, (byKey = new Map()));
  const key = `${action}|${columns.join(',')}`;
  let text = byKey.get(key);
  if (text === undefined) byKey.set(key, (text = buildText(shape, action, columns)));
  return text;
}

function buildText(shape: RowShape<Referral>, action: Action, columns: (keyof typeof STEP_COLUMNS)[]): string | null {
  const candidates = ROWS.flatMap((t, i) => (t.action === action ? [i] : []));
  const whole = candidates.filter((i) => inOneStatement(ROWS[i]));
  if (whole.length === 0) return null;
  const sets = columns.map((property, k) => {
    const { column, type } = STEP_COLUMNS[property];
    return `${column} = $${FIRST_COLUMN_PARAM + k}::${type}`;
  });
  const ctes = [
    `cur AS MATERIALIZED (
       SELECT c.*, CASE ${candidates.map((i) => `WHEN ${matches(ROWS[i])} THEN ${i}`).join(' ')} END AS t,
              -- The step's time, no earlier than the state it starts from: $4 was taken before the lock's wait, and
              -- a change committed meanwhile must not end after the step that follows it (the ledger's order).
              GREATEST($4::timestamptz, c."updatedAt",
                       ${openSpanStart('c."personId"')}) AS at
         FROM (SELECT ${shape.select('r')} FROM referral r WHERE r.id = $1::uuid AND ($3::int IS NULL OR r.version = $3::int)) c
         LEFT JOIN LATERAL person_holding(c."personId") h ON true)`,
    `step AS (
       UPDATE referral x SET status = ${byRow('c.t', whole, (t) => label(t.to!))}::referral_status,
              ${sets.map((s) => `${s}, `).join('')}version = x.version + 1, updated_at = c.at
         FROM cur c WHERE x.id = c.id AND c.t IN (${whole.join(', ')})
       RETURNING ${shape.select('x')}, c.t AS "__t", c.at AS "__at")`,
  ];
  // The text only: the audit entry's parameters are guardedStep's, at each call.
  const audit = auditEntriesOf(
    FIRST_COLUMN_PARAM + columns.length,
    { actor: { kind: 'anonymous' }, requestId: '' },
    auditItem(action),
    AUDIT_OF,
  );
  ctes.push(`audit AS (${audit.sql})`);
  // One custody move per effect the rows name, each for the rows that name it.
  const effects = [...new Set(whole.flatMap((i) => (ROWS[i].effects ?? []) as CustodyEffect[]))];
  for (const [k, effect] of effects.entries()) {
    const name = `move_${k}`;
    const rows = whole.filter((i) => ROWS[i].effects?.includes(effect));
    ctes.push(
      `${name}_to AS (SELECT s."personId" AS person_id, s."${CUSTODY_TO[effect]}" AS holder_id, s."__at" AS at,
                             s.id AS referral_id, s."caseId" AS case_id FROM step s WHERE s."__t" IN (${rows.join(', ')}))`,
    );
    const move = custodyMoveOf(`${name}_to`)(FIRST_COLUMN_PARAM + columns.length + audit.params.length, name);
    ctes.push(...(move.before ?? []), `${name} AS (${move.sql})`);
  }
  ctes.push(
    XACT_CTE,
    `event AS (${eventInsertFrom(`s.id, ${byRow('s."__t"', whole, (t) => label(t.event))}::referral_event_type, s.status, $5::uuid, $2::uuid, $6::varchar`, 'step s')})`,
  );
  return `WITH ${ctes.join(',\n')}\nSELECT * FROM step`;
}
