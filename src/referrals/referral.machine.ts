import { ReferralKind as K, ReferralStatus as S } from './referral.enums';
import type { ReferralKind, ReferralStatus } from './referral.enums';

/** Who acts, relative to one referral and the person's current custody. */
export type Party = 'REQUESTER' | 'SENDER' | 'RECEIVER' | 'CUSTODIAN' | 'ESCORT' | 'HUB';

export type Action = 'accept' | 'reject' | 'cancel' | 'dispatch' | 'confirmReceipt' | 'expire' | 'recordDiagnosis' | 'assignBed';

export type Effect =
  /** custody: sender → escort agency */
  | 'custodyToEscort'
  /** custody: escort → receiving agency, then the per-kind effect below */
  | 'custodyToReceiver'
  /** custody back to the sender (a cancelled hand-off) */
  | 'custodyToSender'
  | 'openCaseAtStation'
  | 'closeCaseReturnedEscorted'
  | 'closeCasePlacedInWelfareHome'
  | 'releaseCustody'
  | 'recordDiagnosis'
  | 'assignBed';

export interface Transition {
  action: Action;
  from: readonly ReferralStatus[];
  /** Absent: the status stays (a record added to a received referral). */
  to?: ReferralStatus;
  by: Party;
  /** The row applies only to these kinds (all when absent). */
  kinds?: readonly ReferralKind[];
  event: 'ACCEPTED' | 'REJECTED' | 'CANCELLED' | 'DISPATCHED' | 'RECEIVED' | 'EXPIRED' | 'DIAGNOSIS_RECORDED' | 'BED_ASSIGNED';
  effects?: readonly Effect[];
  /** Why the row is as it is, when a rule stands behind it. */
  rule?: string;
}

const ALL_KINDS = Object.values(K);
const NOT_EVALUATION = ALL_KINDS.filter((k) => k !== K.PSYCHIATRIC_EVALUATION);

/**
 * The referral state machine (DOMAIN.md §4) as data. Services, authorization,
 * `availableActions` and the tests read this table; nothing else decides what
 * is legal. Creation (request, logEscortedPerson) is in referral.kinds.ts.
 */
export const TRANSITIONS = [
  { action: 'accept', from: [S.REQUESTED], to: S.ACCEPTED, by: 'RECEIVER', event: 'ACCEPTED' },
  {
    action: 'reject',
    from: [S.REQUESTED],
    to: S.REJECTED,
    by: 'RECEIVER',
    kinds: NOT_EVALUATION,
    event: 'REJECTED',
    rule: '精神卫生法 第二十八条: a psychiatric hospital may not refuse to evaluate a person brought by civil affairs or the police',
  },
  {
    action: 'reject',
    from: [S.IN_TRANSIT],
    to: S.REJECTED,
    by: 'RECEIVER',
    kinds: [K.ESCORT_TO_STATION],
    event: 'REJECTED',
    rule: 'the station may turn an escort away at the door; custody stays with the police',
  },
  {
    action: 'cancel',
    from: [S.REQUESTED, S.ACCEPTED, S.IN_TRANSIT],
    to: S.CANCELLED,
    by: 'REQUESTER',
    event: 'CANCELLED',
    effects: ['custodyToSender'],
  },
  { action: 'dispatch', from: [S.ACCEPTED], to: S.IN_TRANSIT, by: 'CUSTODIAN', event: 'DISPATCHED', effects: ['custodyToEscort'] },
  {
    action: 'dispatch',
    from: [S.REQUESTED],
    to: S.IN_TRANSIT,
    by: 'CUSTODIAN',
    kinds: [K.PSYCHIATRIC_EVALUATION, K.RETURN_TO_STATION],
    event: 'DISPATCHED',
    effects: ['custodyToEscort'],
    rule: 'an evaluation cannot be refused, and a station takes its own back: no acceptance needed first',
  },
  {
    action: 'confirmReceipt',
    from: [S.IN_TRANSIT],
    to: S.RECEIVED,
    by: 'RECEIVER',
    kinds: [K.ESCORT_TO_STATION],
    event: 'RECEIVED',
    effects: ['custodyToReceiver', 'openCaseAtStation'],
  },
  {
    action: 'confirmReceipt',
    from: [S.IN_TRANSIT],
    to: S.RECEIVED,
    by: 'RECEIVER',
    kinds: [K.RETURN_TO_ORIGIN],
    event: 'RECEIVED',
    effects: ['custodyToReceiver', 'releaseCustody', 'closeCaseReturnedEscorted'],
    rule: 'the person is home: custody passes to the origin office and ends at once',
  },
  {
    action: 'confirmReceipt',
    from: [S.IN_TRANSIT],
    to: S.RECEIVED,
    by: 'RECEIVER',
    kinds: [K.WELFARE_PLACEMENT],
    event: 'RECEIVED',
    effects: ['custodyToReceiver', 'closeCasePlacedInWelfareHome'],
  },
  {
    action: 'confirmReceipt',
    from: [S.IN_TRANSIT],
    to: S.RECEIVED,
    by: 'RECEIVER',
    kinds: [K.PSYCHIATRIC_EVALUATION, K.RETURN_TO_STATION],
    event: 'RECEIVED',
    effects: ['custodyToReceiver'],
  },
  {
    action: 'expire',
    from: [S.REQUESTED, S.ACCEPTED],
    to: S.EXPIRED,
    by: 'HUB',
    event: 'EXPIRED',
    rule: 'unanswered past respondBy; custody unchanged',
  },
  {
    action: 'recordDiagnosis',
    from: [S.RECEIVED],
    by: 'RECEIVER',
    kinds: [K.PSYCHIATRIC_EVALUATION],
    event: 'DIAGNOSIS_RECORDED',
    effects: ['recordDiagnosis'],
  },
  {
    action: 'assignBed',
    from: [S.RECEIVED],
    by: 'RECEIVER',
    kinds: [K.PSYCHIATRIC_EVALUATION, K.WELFARE_PLACEMENT],
    event: 'BED_ASSIGNED',
    effects: ['assignBed'],
  },
] as const satisfies readonly Transition[];

export const ACTIONS: readonly Action[] = [
  'accept',
  'reject',
  'cancel',
  'dispatch',
  'confirmReceipt',
  'expire',
  'recordDiagnosis',
  'assignBed',
];

export type Plan = { ok: true; transition: Transition } | { ok: false; error: 'INVALID_TRANSITION' | 'FORBIDDEN' };

/**
 * Pure: decides the step, performs nothing. A (status, kind) that no row
 * allows is INVALID_TRANSITION whoever asks; a row that exists but names
 * another party is FORBIDDEN.
 */
export function plan(state: { status: ReferralStatus; kind: ReferralKind }, action: Action, parties: ReadonlySet<Party>): Plan {
  const rows = (TRANSITIONS as readonly Transition[]).filter(
    (t) => t.action === action && t.from.includes(state.status) && (!t.kinds || t.kinds.includes(state.kind)),
  );
  if (rows.length === 0) return { ok: false, error: 'INVALID_TRANSITION' };
  const row = rows.find((t) => parties.has(t.by));
  return row ? { ok: true, transition: row } : { ok: false, error: 'FORBIDDEN' };
}

/** What the caller could do now: for clients' buttons, from the same table. */
export function availableActions(state: { status: ReferralStatus; kind: ReferralKind }, parties: ReadonlySet<Party>): Action[] {
  return ACTIONS.filter((a) => a !== 'expire' && plan(state, a, parties).ok);
}
