import { ReferralKind, ReferralStatus } from '../../src/referrals/referral.enums';
import {
  ACTIONS,
  TRANSITIONS,
  availableActions,
  plan,
  type Action,
  type Effect,
  type Party,
  type Transition,
} from '../../src/referrals/referral.machine';

/**
 * The transition table against DOMAIN.md §4, read independently: SPEC below is
 * written from the domain text, not from TRANSITIONS, so a wrong row in
 * either shows up as a difference.
 */
const K = ReferralKind;
const S = ReferralStatus;
const KINDS = Object.values(ReferralKind);
const STATUSES = Object.values(ReferralStatus);
const PARTIES: readonly Party[] = ['REQUESTER', 'SENDER', 'RECEIVER', 'CUSTODIAN', 'ESCORT', 'HUB'];
const EVERYONE = new Set<Party>(PARTIES);
const ROWS = TRANSITIONS as readonly Transition[];

interface SpecRow {
  by: Party;
  /** Absent: the status stays. */
  to?: ReferralStatus;
  legal(status: ReferralStatus, kind: ReferralKind): boolean;
}

const SPEC: Record<Action, SpecRow> = {
  accept: { by: 'RECEIVER', to: S.ACCEPTED, legal: (s) => s === S.REQUESTED },
  // 精神卫生法 第二十八条: an evaluation may not be refused; the station may turn an escort away at the door.
  reject: {
    by: 'RECEIVER',
    to: S.REJECTED,
    legal: (s, k) => (s === S.REQUESTED && k !== K.PSYCHIATRIC_EVALUATION) || (s === S.IN_TRANSIT && k === K.ESCORT_TO_STATION),
  },
  cancel: { by: 'REQUESTER', to: S.CANCELLED, legal: (s) => s === S.REQUESTED || s === S.ACCEPTED || s === S.IN_TRANSIT },
  // Returns and placements must be accepted first; an evaluation and a return to the station need not be.
  dispatch: {
    by: 'CUSTODIAN',
    to: S.IN_TRANSIT,
    legal: (s, k) => s === S.ACCEPTED || (s === S.REQUESTED && (k === K.PSYCHIATRIC_EVALUATION || k === K.RETURN_TO_STATION)),
  },
  confirmReceipt: { by: 'RECEIVER', to: S.RECEIVED, legal: (s) => s === S.IN_TRANSIT },
  expire: { by: 'HUB', to: S.EXPIRED, legal: (s) => s === S.REQUESTED || s === S.ACCEPTED },
  recordDiagnosis: { by: 'RECEIVER', legal: (s, k) => s === S.RECEIVED && k === K.PSYCHIATRIC_EVALUATION },
  assignBed: { by: 'RECEIVER', legal: (s, k) => s === S.RECEIVED && (k === K.PSYCHIATRIC_EVALUATION || k === K.WELFARE_PLACEMENT) },
};

/** Who holds the person after the step, as DOMAIN.md §4 says, per action and kind. */
function expectedCustody(action: Action, kind: ReferralKind): 'unchanged' | 'escort' | 'receiver' | 'sender' | 'nobody' {
  if (action === 'dispatch') return 'escort';
  if (action === 'cancel') return 'sender';
  if (action === 'confirmReceipt') return kind === K.RETURN_TO_ORIGIN ? 'nobody' : 'receiver';
  return 'unchanged';
}

function custodyOf(effects: readonly Effect[]): ReturnType<typeof expectedCustody> {
  let holder: ReturnType<typeof expectedCustody> = 'unchanged';
  for (const e of effects) {
    if (e === 'custodyToEscort') holder = 'escort';
    if (e === 'custodyToReceiver') holder = 'receiver';
    if (e === 'custodyToSender') holder = 'sender';
    if (e === 'releaseCustody') holder = 'nobody';
  }
  return holder;
}

const ALL_TRIPLES = ACTIONS.flatMap((action) => STATUSES.flatMap((status) => KINDS.map((kind) => ({ action, status, kind }))));
const covered = (action: Action, status: ReferralStatus, kind: ReferralKind) =>
  ROWS.some((t) => t.action === action && t.from.includes(status) && (!t.kinds || t.kinds.includes(kind)));

/** One case per (row, from status, allowed kind). */
const ROW_CASES = ROWS.flatMap((row, index) =>
  row.from.flatMap((status) => (row.kinds ?? KINDS).map((kind) => ({ index, row, action: row.action, status, kind }))),
);

describe('the referral transition table', () => {
  it('names every action, and every row names a known status, kind and party', () => {
    expect(new Set(ROWS.map((t) => t.action))).toEqual(new Set(ACTIONS));
    for (const t of ROWS) {
      expect(t.from.length).toBeGreaterThan(0);
      for (const s of t.from) expect(STATUSES).toContain(s);
      if (t.to) expect(STATUSES).toContain(t.to);
      for (const k of t.kinds ?? []) expect(KINDS).toContain(k);
      expect(PARTIES).toContain(t.by);
    }
  });

  it('has at most one row for any (action, status, kind): the table never depends on row order', () => {
    for (const { action, status, kind } of ALL_TRIPLES) {
      const rows = ROWS.filter((t) => t.action === action && t.from.includes(status) && (!t.kinds || t.kinds.includes(kind)));
      expect({ action, status, kind, rows: rows.length }).toEqual({ action, status, kind, rows: Math.min(rows.length, 1) });
    }
  });

  it.each(ROW_CASES.map((c) => [`${c.action} ${c.status} ${c.kind} (row ${c.index})`, c] as const))(
    'row reachable through plan with its party: %s',
    (_name, { row, action, status, kind }) => {
      const decided = plan({ status, kind }, action, new Set([row.by]));
      expect(decided).toEqual({ ok: true, transition: row });
    },
  );

  it.each(ROW_CASES.map((c) => [`${c.action} ${c.status} ${c.kind}`, c] as const))(
    'row with the wrong party is FORBIDDEN: %s',
    (_name, { row, action, status, kind }) => {
      for (const other of PARTIES.filter((p) => p !== row.by)) {
        expect({ other, result: plan({ status, kind }, action, new Set([other])) }).toEqual({
          other,
          result: { ok: false, error: 'FORBIDDEN' },
        });
      }
      // Every other role at once is still not the right one.
      expect(plan({ status, kind }, action, new Set(PARTIES.filter((p) => p !== row.by)))).toEqual({ ok: false, error: 'FORBIDDEN' });
      expect(plan({ status, kind }, action, new Set())).toEqual({ ok: false, error: 'FORBIDDEN' });
    },
  );

  it('refuses every (action, status, kind) that no row covers with INVALID_TRANSITION, whoever asks', () => {
    const uncovered = ALL_TRIPLES.filter(({ action, status, kind }) => !covered(action, status, kind));
    // The table leaves most of the space illegal; a change here means a row was added or widened.
    expect(uncovered.length).toBe(ALL_TRIPLES.length - ROW_CASES.length);
    for (const { action, status, kind } of uncovered) {
      for (const parties of [EVERYONE, new Set<Party>(), new Set<Party>([SPEC[action].by])]) {
        expect({ action, status, kind, result: plan({ status, kind }, action, parties) }).toEqual({
          action,
          status,
          kind,
          result: { ok: false, error: 'INVALID_TRANSITION' },
        });
      }
    }
  });

  it('agrees with DOMAIN.md §4 on every (action, status, kind): legality, party and target status', () => {
    for (const { action, status, kind } of ALL_TRIPLES) {
      const spec = SPEC[action];
      const decided = plan({ status, kind }, action, EVERYONE);
      const got = decided.ok ? { legal: true, by: decided.transition.by, to: decided.transition.to ?? status } : { legal: false };
      const want = spec.legal(status, kind) ? { legal: true, by: spec.by, to: spec.to ?? status } : { legal: false };
      expect({ action, status, kind, ...got }).toEqual({ action, status, kind, ...want });
    }
  });

  it('moves custody as DOMAIN.md §4 says: dispatch to the escort, receipt to the receiver, cancel back to the sender', () => {
    for (const { action, status, kind } of ALL_TRIPLES) {
      const decided = plan({ status, kind }, action, EVERYONE);
      if (!decided.ok) continue;
      expect({ action, kind, custody: custodyOf(decided.transition.effects ?? []) }).toEqual({
        action,
        kind,
        custody: expectedCustody(action, kind),
      });
    }
  });

  it('applies the per-kind effects of confirmReceipt', () => {
    const effects = (kind: ReferralKind) => {
      const d = plan({ status: S.IN_TRANSIT, kind }, 'confirmReceipt', new Set(['RECEIVER']));
      return d.ok ? [...(d.transition.effects ?? [])].sort() : null;
    };
    expect(effects(K.ESCORT_TO_STATION)).toEqual(['custodyToReceiver', 'openCaseAtStation']);
    expect(effects(K.RETURN_TO_ORIGIN)).toEqual(['closeCaseReturnedEscorted', 'custodyToReceiver', 'releaseCustody']);
    expect(effects(K.WELFARE_PLACEMENT)).toEqual(['closeCasePlacedInWelfareHome', 'custodyToReceiver']);
    expect(effects(K.PSYCHIATRIC_EVALUATION)).toEqual(['custodyToReceiver']);
    expect(effects(K.RETURN_TO_STATION)).toEqual(['custodyToReceiver']);
  });

  it('never lets a PSYCHIATRIC_EVALUATION be rejected, in any status, by anyone (精神卫生法 第二十八条)', () => {
    for (const status of STATUSES) {
      expect(plan({ status, kind: K.PSYCHIATRIC_EVALUATION }, 'reject', EVERYONE)).toEqual({ ok: false, error: 'INVALID_TRANSITION' });
      expect(availableActions({ status, kind: K.PSYCHIATRIC_EVALUATION }, EVERYONE)).not.toContain('reject');
    }
  });

  it('does not dispatch a RETURN_TO_ORIGIN or WELFARE_PLACEMENT before the receiver accepted', () => {
    for (const kind of [K.RETURN_TO_ORIGIN, K.WELFARE_PLACEMENT]) {
      expect(plan({ status: S.REQUESTED, kind }, 'dispatch', EVERYONE)).toEqual({ ok: false, error: 'INVALID_TRANSITION' });
      expect(plan({ status: S.ACCEPTED, kind }, 'dispatch', new Set(['CUSTODIAN']))).toMatchObject({ ok: true });
    }
  });

  it('dispatches a PSYCHIATRIC_EVALUATION or RETURN_TO_STATION straight from REQUESTED', () => {
    for (const kind of [K.PSYCHIATRIC_EVALUATION, K.RETURN_TO_STATION]) {
      const d = plan({ status: S.REQUESTED, kind }, 'dispatch', new Set(['CUSTODIAN']));
      expect(d).toMatchObject({ ok: true, transition: { to: S.IN_TRANSIT } });
    }
  });

  it('leaves expiry to the hub: no agency may expire a referral, and no button offers it', () => {
    for (const kind of KINDS) {
      for (const status of [S.REQUESTED, S.ACCEPTED]) {
        expect(plan({ status, kind }, 'expire', new Set(['HUB']))).toMatchObject({ ok: true, transition: { to: S.EXPIRED } });
        expect(plan({ status, kind }, 'expire', new Set(PARTIES.filter((p) => p !== 'HUB')))).toEqual({ ok: false, error: 'FORBIDDEN' });
      }
      for (const status of STATUSES) expect(availableActions({ status, kind }, EVERYONE)).not.toContain('expire');
    }
  });

  it('offers as available exactly the actions plan allows for the caller', () => {
    for (const status of STATUSES) {
      for (const kind of KINDS) {
        for (const party of PARTIES) {
          const want = ACTIONS.filter((a) => a !== 'expire' && SPEC[a].by === party && SPEC[a].legal(status, kind));
          expect({ status, kind, party, actions: availableActions({ status, kind }, new Set([party])) }).toEqual({
            status,
            kind,
            party,
            actions: want,
          });
        }
      }
    }
  });

  it('ends in a terminal status only through reject, cancel, receipt or expiry, and nothing leaves one', () => {
    const terminal = [S.REJECTED, S.CANCELLED, S.EXPIRED];
    for (const { action, status, kind } of ALL_TRIPLES) {
      if (terminal.includes(status)) expect(plan({ status, kind }, action, EVERYONE)).toEqual({ ok: false, error: 'INVALID_TRANSITION' });
    }
  });
});
