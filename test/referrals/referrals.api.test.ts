import { randomUUID } from 'node:crypto';
import { sweepExpired } from '../../src/referrals/referral.expiry';
import { TRANSITIONS, type Action, type Effect, type Transition } from '../../src/referrals/referral.machine';
import {
  AcceptReferralDocument,
  AssignBedDocument,
  CancelReferralDocument,
  ConfirmReceiptDocument,
  DispatchReferralDocument,
  HandoffAcceptDocument,
  HandoffDispatchDocument,
  HandoffRequestDocument,
  LogEscortedPersonDocument,
  OpenCaseWithPersonDocument,
  PersonViewDocument,
  RecordDiagnosisDocument,
  ReferralDocument,
  ReferralsPageDocument,
  ReferralTimesDocument,
  RejectReferralDocument,
  RequestReferralDocument,
  ViewerAccountDocument,
  type ReferralKind,
  type ReferralsPageQuery,
  type ReferralStatus,
  type ReferralViewFragment,
} from '../generated/graphql';
import { anAgency, theSeedAgencies, type TestAgency } from '../support/builders';
import { codeOf, startTestHub, type GraphQLResponse, type TestHub } from '../support/hub';
import { statementsAndWritesDuring } from '../audit/sql-spy';

/**
 * The referral state machine through the API (DOMAIN.md §4): every row of the
 * transition table walked by the party it names, every illegal step refused
 * with the current status, the kind rules, deadlines, idempotent escorts,
 * the referrals connection, history, and the cost of a page in SQL.
 */

type Agencies = Awaited<ReturnType<typeof theSeedAgencies>>;
type StepAction = Exclude<Action, 'expire'>;
type Errors = GraphQLResponse<unknown>['errors'];

let hub: TestHub;
let a: Agencies;
/** 长沙市民政局: a civil-affairs office of another prefecture than the persons' (邵阳 4305). */
let otherOffice: TestAgency;
const agencyById = new Map<string, TestAgency>();

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
  otherOffice = await anAgency(hub, 'CIVIL_AFFAIRS_OFFICE', '长沙市民政局', '430100');
  for (const ag of [...Object.values(a), otherOffice]) agencyById.set(ag.id, ag);
});
afterAll(() => hub.stop());

// ---------------------------------------------------------------- helpers

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];
const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => hub.hub.db.query(text, params) as Promise<T[]>;
const extensionsOf = (errors: Errors) => errors?.[0]?.extensions;

/** The receiving agency of each kind in the seed's city. */
const receiverOf = (kind: ReferralKind): TestAgency =>
  ({
    ESCORT_TO_STATION: a.station,
    PSYCHIATRIC_EVALUATION: a.hospital,
    RETURN_TO_ORIGIN: a.originOffice,
    WELFARE_PLACEMENT: a.welfareHome,
    RETURN_TO_STATION: a.station,
  })[kind];

/** One referral as the test knows it: who plays which role, and who holds the person now. */
interface Built {
  id: string;
  kind: ReferralKind;
  status: ReferralStatus;
  version: number;
  personId: string;
  requester: TestAgency;
  sender: TestAgency;
  receiver: TestAgency;
  escort: TestAgency | null;
  custodian: TestAgency | null;
}

function built(view: ReferralViewFragment): Built {
  return {
    id: view.id,
    kind: view.kind,
    status: view.status,
    version: view.version,
    personId: view.person.id,
    requester: agencyById.get(view.requestedBy.id)!,
    sender: agencyById.get(view.fromAgency.id)!,
    receiver: agencyById.get(view.toAgency.id)!,
    escort: view.escortAgency ? agencyById.get(view.escortAgency.id)! : null,
    custodian: view.person.custodian ? agencyById.get(view.person.custodian.id)! : null,
  };
}

function update(b: Built, view: ReferralViewFragment): void {
  Object.assign(b, built(view));
}

let serial = 0;

/** A new person registered at the station (which then holds them), origin 邵阳 邵东 430521. */
async function personAtStation(origin: string | null = '430521'): Promise<{ personId: string; caseId: string }> {
  const { openCase } = await hub.ok(
    OpenCaseWithPersonDocument,
    {
      input: {
        person: { gender: 'MALE', birthYear: 1975, originRegionCode: origin, description: `test person ${++serial}` },
        intakeChannel: 'SELF_PRESENTED',
      },
    },
    a.station.token,
  );
  return { personId: openCase.person.id, caseId: openCase.id };
}

/** The police log a new person on the way to the station: ESCORT_TO_STATION, IN_TRANSIT. */
async function escorted(): Promise<Built> {
  const { logEscortedPerson } = await hub.ok(
    LogEscortedPersonDocument,
    {
      input: {
        person: { gender: 'FEMALE', description: `escorted person ${++serial}` },
        stationId: a.station.id,
        foundAt: '衡阳火车站广场',
        escortNames: ['王警官'],
      },
    },
    a.police.token,
  );
  return built(logEscortedPerson);
}

async function request(personId: string, kind: ReferralKind, to: TestAgency, by: TestAgency): Promise<Built> {
  const { requestReferral } = await hub.ok(RequestReferralDocument, { input: { personId, kind, toAgencyId: to.id } }, by.token);
  return built(requestReferral);
}

interface ActOptions {
  expectedVersion?: number;
  escort?: TestAgency;
}

/** Performs one action as `as`; returns the referral as the caller then sees it, or the errors. */
async function act(
  action: StepAction,
  referralId: string,
  as: TestAgency,
  o: ActOptions = {},
): Promise<{ view?: ReferralViewFragment; errors?: Errors }> {
  const base = { referralId, expectedVersion: o.expectedVersion };
  const pick = <K extends string>(res: GraphQLResponse<Record<K, ReferralViewFragment>>, key: K) => ({
    view: res.data?.[key] ?? undefined,
    errors: res.errors,
  });
  switch (action) {
    case 'accept':
      return pick(await hub.request(AcceptReferralDocument, { input: base }, as.token), 'acceptReferral');
    case 'reject':
      return pick(await hub.request(RejectReferralDocument, { input: { ...base, reason: 'OTHER' } }, as.token), 'rejectReferral');
    case 'cancel':
      return pick(await hub.request(CancelReferralDocument, { input: base }, as.token), 'cancelReferral');
    case 'dispatch':
      return pick(
        await hub.request(
          DispatchReferralDocument,
          { input: { ...base, escortNames: ['刘护送'], escortAgencyId: (o.escort ?? as).id } },
          as.token,
        ),
        'dispatchReferral',
      );
    case 'confirmReceipt':
      return pick(await hub.request(ConfirmReceiptDocument, { input: base }, as.token), 'confirmReceipt');
    case 'recordDiagnosis':
      return pick(await hub.request(RecordDiagnosisDocument, { input: { referralId, icd10Code: 'F20.9' } }, as.token), 'recordDiagnosis');
    case 'assignBed':
      return pick(await hub.request(AssignBedDocument, { input: { referralId, ward: '二病区', bed: '12' } }, as.token), 'assignBed');
  }
}

/** Like act, but the step must succeed; keeps `b` up to date. */
async function must(action: StepAction, b: Built, as: TestAgency, o: ActOptions = {}): Promise<ReferralViewFragment> {
  const { view, errors } = await act(action, b.id, as, o);
  if (errors?.length || !view) throw new Error(`${action} ${b.kind} ${b.status} as ${as.name}: ${JSON.stringify(errors)}`);
  update(b, view);
  return view;
}

/** Every dispatch in these tests is escorted by the police, so that custody visibly moves to the escort. */
const ESCORT = () => a.police;

/** Makes the referral overdue and lets the hub's sweep expire it. */
async function expireNow(b: Built): Promise<void> {
  await sql(`UPDATE referral SET respond_by = now() - interval '1 minute' WHERE id = $1`, [uuidOf(b.id)]);
  expect(await sweepExpired(hub.hub.db)).toBeGreaterThanOrEqual(1);
  update(b, (await hub.ok(ReferralDocument, { id: b.id }, b.requester.token)).referral!);
  expect(b.status).toBe('EXPIRED');
}

async function requested(kind: ReferralKind): Promise<Built> {
  switch (kind) {
    case 'ESCORT_TO_STATION': {
      // The station turned the escort away; the police, still holding the person, ask again.
      const e = await escorted();
      await must('reject', e, a.station);
      return request(e.personId, kind, a.station, a.police);
    }
    case 'RETURN_TO_STATION': {
      const evaluation = await inStatus('PSYCHIATRIC_EVALUATION', 'RECEIVED');
      return request(evaluation.personId, kind, a.station, a.hospital);
    }
    default: {
      const { personId } = await personAtStation();
      return request(personId, kind, receiverOf(kind), a.station);
    }
  }
}

/** A fresh person's referral of `kind`, driven through the API into `status`. */
async function inStatus(kind: ReferralKind, status: ReferralStatus): Promise<Built> {
  switch (status) {
    case 'REQUESTED':
      return requested(kind);
    case 'ACCEPTED': {
      const b = await requested(kind);
      await must('accept', b, b.receiver);
      return b;
    }
    case 'IN_TRANSIT': {
      if (kind === 'ESCORT_TO_STATION') return escorted();
      const b = await inStatus(kind, 'ACCEPTED');
      await must('dispatch', b, b.custodian!, { escort: ESCORT() });
      return b;
    }
    case 'RECEIVED': {
      const b = await inStatus(kind, 'IN_TRANSIT');
      await must('confirmReceipt', b, b.receiver);
      return b;
    }
    case 'REJECTED': {
      if (kind === 'PSYCHIATRIC_EVALUATION') throw new Error('an evaluation cannot be rejected');
      const b = kind === 'ESCORT_TO_STATION' ? await escorted() : await requested(kind);
      await must('reject', b, b.receiver);
      return b;
    }
    case 'CANCELLED': {
      const b = await requested(kind);
      await must('cancel', b, b.requester);
      return b;
    }
    case 'EXPIRED': {
      const b = await requested(kind);
      await expireNow(b);
      return b;
    }
  }
}

/** The agency that plays `party` on this referral (what the table's `by` means in the world). */
function playerOf(b: Built, party: Transition['by']): TestAgency | null {
  switch (party) {
    case 'RECEIVER':
      return b.receiver;
    case 'REQUESTER':
      return b.requester;
    case 'SENDER':
      return b.sender;
    case 'CUSTODIAN':
      return b.custodian;
    case 'ESCORT':
      return b.escort;
    case 'HUB':
      return null;
  }
}

function plays(b: Built, ag: TestAgency, party: Transition['by']): boolean {
  return playerOf(b, party)?.id === ag.id;
}

/** Who holds the person after the row's effects, from the table. */
function custodianAfter(b: Built, effects: readonly Effect[], escort: TestAgency | null): TestAgency | null {
  let holder = b.custodian;
  for (const e of effects) {
    if (e === 'custodyToEscort') holder = escort;
    if (e === 'custodyToReceiver') holder = b.receiver;
    if (e === 'custodyToSender') holder = b.sender;
    if (e === 'releaseCustody') holder = null;
  }
  return holder;
}

/** DOMAIN.md §4, read apart from the table: the status each action leads to (null: unchanged) ... */
const STATUS_AFTER: Record<StepAction, ReferralStatus | null> = {
  accept: 'ACCEPTED',
  reject: 'REJECTED',
  cancel: 'CANCELLED',
  dispatch: 'IN_TRANSIT',
  confirmReceipt: 'RECEIVED',
  recordDiagnosis: null,
  assignBed: null,
};

/** ... the event it records ... */
const EVENT_OF: Record<StepAction, string> = {
  accept: 'ACCEPTED',
  reject: 'REJECTED',
  cancel: 'CANCELLED',
  dispatch: 'DISPATCHED',
  confirmReceipt: 'RECEIVED',
  recordDiagnosis: 'DIAGNOSIS_RECORDED',
  assignBed: 'BED_ASSIGNED',
};

/** ... and who holds the person afterwards: the escort on dispatch, the sender on cancel, the receiver on receipt (nobody once home). */
function holderAfter(action: StepAction, kind: ReferralKind, b: Built, escort: TestAgency | null): TestAgency | null {
  if (action === 'dispatch') return escort;
  if (action === 'cancel') return b.sender;
  if (action === 'confirmReceipt') return kind === 'RETURN_TO_ORIGIN' ? null : b.receiver;
  return b.custodian;
}

async function openCustody(personId: string): Promise<string[]> {
  const rows = await sql<{ holder_id: string }>(`SELECT holder_id FROM custody_record WHERE person_id = $1 AND to_at IS NULL`, [
    uuidOf(personId),
  ]);
  return rows.map((r) => Buffer.from(`Agency:${r.holder_id}`).toString('base64url'));
}

const KINDS: ReferralKind[] = ['ESCORT_TO_STATION', 'PSYCHIATRIC_EVALUATION', 'RETURN_TO_ORIGIN', 'WELFARE_PLACEMENT', 'RETURN_TO_STATION'];
const STATUSES: ReferralStatus[] = ['REQUESTED', 'ACCEPTED', 'IN_TRANSIT', 'RECEIVED', 'REJECTED', 'CANCELLED', 'EXPIRED'];
const STEP_ACTIONS: StepAction[] = ['accept', 'reject', 'cancel', 'dispatch', 'confirmReceipt', 'recordDiagnosis', 'assignBed'];
const ROWS = TRANSITIONS as readonly Transition[];
const rowFor = (action: Action, status: ReferralStatus, kind: ReferralKind) =>
  ROWS.find(
    (t) =>
      t.action === action && (t.from as readonly string[]).includes(status) && (!t.kinds || (t.kinds as readonly string[]).includes(kind)),
  );

// ---------------------------------------------------------------- the table, row by row

const WALK = ROWS.filter((t) => t.action !== 'expire').flatMap((row) =>
  row.from.flatMap((from) =>
    ((row.kinds as readonly string[] | undefined) ?? KINDS).map((kind) => ({
      row,
      action: row.action as StepAction,
      from: from as ReferralStatus,
      kind: kind as ReferralKind,
    })),
  ),
);

describe('every row of the transition table, through the API', () => {
  it('covers every row but expire (tested with the sweep) in at least one case', () => {
    expect(new Set(WALK.map((c) => c.row))).toEqual(new Set(ROWS.filter((t) => t.action !== 'expire')));
  });

  it.each(WALK.map((c) => [`${c.action} ${c.kind} from ${c.from} by ${c.row.by}`, c] as const))('%s', async (_name, c) => {
    const b = await inStatus(c.kind, c.from);
    expect({ status: b.status, kind: b.kind }).toEqual({ status: c.from, kind: c.kind });
    const actor = playerOf(b, c.row.by)!;
    expect(actor).toBeTruthy();
    const before = (await hub.ok(ReferralDocument, { id: b.id }, actor.token)).referral!;
    expect(before.availableActions).toContain(c.action);

    // Another party of the referral, without the row's role: FORBIDDEN, and no button for it.
    const wrong = [b.receiver, b.requester, b.sender, b.custodian, b.escort].find((ag) => ag && !plays(b, ag, c.row.by))!;
    expect(wrong).toBeTruthy();
    const wrongTry = await act(c.action, b.id, wrong, { escort: ESCORT() });
    expect(extensionsOf(wrongTry.errors)).toMatchObject({ code: 'FORBIDDEN' });
    expect((await hub.ok(ReferralDocument, { id: b.id }, wrong.token)).referral!.availableActions).not.toContain(c.action);
    // An agency that is no party: the referral does not exist for it.
    expect(extensionsOf((await act(c.action, b.id, a.otherStation, { escort: ESCORT() })).errors)).toMatchObject({ code: 'NOT_FOUND' });

    // What DOMAIN.md §4 says the step does, independent of the table; and the table says the same.
    const escort = c.action === 'dispatch' ? ESCORT() : b.escort;
    const expectedHolder = holderAfter(c.action, c.kind, b, escort);
    expect(custodianAfter(b, c.row.effects ?? [], escort)?.id ?? null).toBe(expectedHolder?.id ?? null);
    expect({ to: c.row.to ?? c.from, event: c.row.event }).toEqual({ to: STATUS_AFTER[c.action] ?? c.from, event: EVENT_OF[c.action] });

    // The right party, against the version it read: the refusals above changed nothing.
    const versionBefore = b.version;
    const historyBefore = before.history.length;
    const stepOptions = c.action === 'recordDiagnosis' || c.action === 'assignBed' ? {} : { expectedVersion: versionBefore };
    const view = await must(c.action, b, actor, { ...stepOptions, escort: ESCORT() });

    expect(view.status).toBe(STATUS_AFTER[c.action] ?? c.from);
    expect(view.version).toBe(versionBefore + 1);
    expect(view.person.custodian?.id ?? null).toBe(expectedHolder?.id ?? null);
    expect(await openCustody(b.personId)).toEqual(expectedHolder ? [expectedHolder.id] : []);
    expect(view.history).toHaveLength(historyBefore + 1);
    const last = (await hub.ok(ReferralTimesDocument, { id: b.id }, actor.token)).referral!.history.at(-1)!;
    expect(last.type).toBe(EVENT_OF[c.action]);
    expect(last.actor?.agency.id).toBe(actor.id);
    if (c.action === 'dispatch') expect(view.escortAgency?.id).toBe(ESCORT().id);

    // The per-kind effects of receipt; every other step leaves the case as it was.
    const receipt = c.action === 'confirmReceipt';
    if (receipt && c.kind === 'ESCORT_TO_STATION') {
      expect(view.case).toMatchObject({ status: 'OPEN', intakeChannel: 'POLICE_ESCORT', broughtBy: { id: a.police.id } });
      expect((await hub.ok(PersonViewDocument, { id: b.personId }, a.station.token)).person!.currentCase?.id).toBe(view.case!.id);
    } else if (receipt && c.kind === 'RETURN_TO_ORIGIN') {
      expect(view.case).toMatchObject({ id: before.case!.id, status: 'CLOSED', outcome: 'RETURNED_ESCORTED' });
    } else if (receipt && c.kind === 'WELFARE_PLACEMENT') {
      expect(view.case).toMatchObject({ id: before.case!.id, status: 'CLOSED', outcome: 'PLACED_IN_WELFARE_HOME' });
    } else {
      expect(view.case ? { id: view.case.id, status: view.case.status } : null).toEqual(
        before.case ? { id: before.case.id, status: before.case.status } : null,
      );
    }
    if (c.action === 'recordDiagnosis') expect(view.diagnosis).toMatchObject({ icd10Code: 'F20.9', hospital: { id: a.hospital.id } });
    if (c.action === 'assignBed') expect(view.bed).toEqual({ ward: '二病区', bed: '12' });
    if (c.action === 'reject') expect(view.rejectionReason).toBe('OTHER');
  });
});

// ---------------------------------------------------------------- what the table does not allow

/** Statuses no path reaches for a kind (an evaluation cannot be rejected). */
const UNREACHABLE = new Set(['REJECTED/PSYCHIATRIC_EVALUATION']);

const ILLEGAL = STATUSES.flatMap((status) =>
  KINDS.filter((kind) => !UNREACHABLE.has(`${status}/${kind}`)).flatMap((kind) =>
    STEP_ACTIONS.filter((action) => !rowFor(action, status, kind)).map((action) => ({ action, status, kind })),
  ),
);

/** One referral per (status, kind), shared by the illegal attempts: a refused step changes nothing. */
const shared = new Map<string, Promise<Built>>();
const referralIn = (kind: ReferralKind, status: ReferralStatus) => {
  const key = `${status}/${kind}`;
  if (!shared.has(key)) shared.set(key, inStatus(kind, status));
  return shared.get(key)!;
};

/** The party the action would need if it were legal here. */
function usualActor(b: Built, action: StepAction): TestAgency {
  if (action === 'cancel') return b.requester;
  if (action === 'dispatch') return b.custodian ?? b.sender;
  return b.receiver;
}

describe('steps the table does not allow', () => {
  it('leaves most of the space illegal, and every (status, kind) reachable but the rejected evaluation', () => {
    expect(ILLEGAL.length).toBeGreaterThan(150);
  });

  it.each(ILLEGAL.map((c) => [c.action, c.status, c.kind] as const))(
    '%s on a %s %s is INVALID_TRANSITION with the current status, and changes nothing',
    async (action, status, kind) => {
      const b = await referralIn(kind, status);
      const as = usualActor(b, action);
      const res = await act(action, b.id, as, { escort: ESCORT() });
      expect(res.view).toBeUndefined();
      expect(extensionsOf(res.errors)).toMatchObject({ code: 'INVALID_TRANSITION', status });
      const [now] = await sql<{ status: string; version: number }>(`SELECT status, version FROM referral WHERE id = $1`, [uuidOf(b.id)]);
      expect(now).toEqual({ status, version: b.version });
    },
  );
});

// ---------------------------------------------------------------- kind rules

describe('kind rules', () => {
  async function refusedRequest(personId: string, kind: ReferralKind, to: TestAgency, by = a.station) {
    const before = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM referral`);
    const res = await hub.request(RequestReferralDocument, { input: { personId, kind, toAgencyId: to.id } }, by.token);
    const after = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM referral`);
    expect(after[0].n).toBe(before[0].n);
    return extensionsOf(res.errors);
  }

  it('sends a PSYCHIATRIC_EVALUATION only to a psychiatric hospital', async () => {
    const { personId } = await personAtStation();
    for (const to of [a.welfareHome, a.originOffice, a.police, a.otherStation]) {
      expect(await refusedRequest(personId, 'PSYCHIATRIC_EVALUATION', to)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.toAgencyId',
      });
    }
    await request(personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.station);
  });

  it("sends a RETURN_TO_ORIGIN only to the civil-affairs office of the person's home prefecture", async () => {
    const { personId } = await personAtStation('430521');
    expect(await refusedRequest(personId, 'RETURN_TO_ORIGIN', otherOffice)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.toAgencyId',
    });
    expect(await refusedRequest(personId, 'RETURN_TO_ORIGIN', a.welfareHome)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.toAgencyId',
    });
    // 邵东 430521 lies in 邵阳 4305: the prefecture's office (430500) takes the return.
    await request(personId, 'RETURN_TO_ORIGIN', a.originOffice, a.station);
    // The same office for a person from 长沙 is the wrong one; and without an origin there is no home to return to.
    const fromChangsha = await personAtStation('430102');
    expect(await refusedRequest(fromChangsha.personId, 'RETURN_TO_ORIGIN', a.originOffice)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.toAgencyId',
    });
    await request(fromChangsha.personId, 'RETURN_TO_ORIGIN', otherOffice, a.station);
    const unknown = await personAtStation(null);
    expect(await refusedRequest(unknown.personId, 'RETURN_TO_ORIGIN', a.originOffice)).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('sends a WELFARE_PLACEMENT only to a welfare home', async () => {
    const { personId } = await personAtStation();
    for (const to of [a.hospital, a.originOffice, a.otherStation]) {
      expect(await refusedRequest(personId, 'WELFARE_PLACEMENT', to)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.toAgencyId' });
    }
    await request(personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
  });

  it('escorts a person only to a rescue station', async () => {
    const count = async () =>
      (
        await sql<{ p: number; r: number; k: number }>(
          `SELECT (SELECT count(*) FROM person)::int AS p, (SELECT count(*) FROM referral)::int AS r, (SELECT count(*) FROM custody_record)::int AS k`,
        )
      )[0];
    const before = await count();
    for (const stationId of [a.hospital.id, a.welfareHome.id, a.police.id]) {
      const res = await hub.request(
        LogEscortedPersonDocument,
        { input: { person: { gender: 'MALE' }, stationId, foundAt: '解放路', escortNames: ['李警官'] } },
        a.police.token,
      );
      expect(extensionsOf(res.errors)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.stationId' });
    }
    // Nothing half-made: no person, no referral, no custody.
    expect(await count()).toEqual(before);
    // A request of that kind to a non-station is refused the same way.
    const e = await escorted();
    await must('reject', e, a.station);
    expect(await refusedRequest(e.personId, 'ESCORT_TO_STATION', a.hospital, a.police)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.toAgencyId',
    });
    await request(e.personId, 'ESCORT_TO_STATION', a.otherStation, a.police);
  });

  it('keeps at most one referral per person open', async () => {
    const { personId } = await personAtStation();
    const first = await request(personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
    const second = await hub.request(
      RequestReferralDocument,
      { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
      a.station.token,
    );
    expect(codeOf(second)).toBe('CONFLICT');
    // Still one while it is accepted and in transit.
    await must('accept', first, a.welfareHome);
    expect(
      codeOf(
        await hub.request(
          RequestReferralDocument,
          { input: { personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
          a.station.token,
        ),
      ),
    ).toBe('CONFLICT');
    await must('dispatch', first, a.station, { escort: a.station });
    expect(
      codeOf(
        await hub.request(
          LogEscortedPersonDocument,
          { input: { personId, stationId: a.station.id, foundAt: '路上', escortNames: ['李警官'] } },
          a.police.token,
        ),
      ),
    ).toBe('CONFLICT');
    // The refused escort moved nobody.
    expect(await openCustody(personId)).toEqual([a.station.id]);
    // Once it ends, the slot is free again.
    await must('cancel', first, a.station);
    await request(personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.station);
    const [{ n }] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM referral WHERE person_id = $1 AND status IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT')`,
      [uuidOf(personId)],
    );
    expect(n).toBe(1);
  });

  it('moves custody back to the sender when a dispatched referral is cancelled', async () => {
    const b = await inStatus('WELFARE_PLACEMENT', 'ACCEPTED');
    await must('dispatch', b, a.station, { escort: a.police });
    expect(b.custodian?.id).toBe(a.police.id);
    const view = await must('cancel', b, a.station);
    expect(view).toMatchObject({ status: 'CANCELLED', person: { custodian: { id: a.station.id } }, case: { status: 'OPEN' } });
    const person = (await hub.ok(PersonViewDocument, { id: b.personId }, a.station.token)).person!;
    expect(person.custodyHistory.map((k) => [k.holder.id, k.to === null])).toEqual([
      [a.station.id, false],
      [a.police.id, false],
      [a.station.id, true],
    ]);
    // The police who escorted, and the requester who was the sender, take the person back: the custodian is the sender.
    const evaluation = await inStatus('PSYCHIATRIC_EVALUATION', 'RECEIVED');
    const back = await request(evaluation.personId, 'RETURN_TO_STATION', a.station, a.hospital);
    await must('dispatch', back, a.hospital, { escort: a.police });
    expect((await must('cancel', back, a.hospital)).person.custodian?.id).toBe(a.hospital.id);
  });

  it('closes the case PLACED_IN_WELFARE_HOME on receipt, and the welfare home keeps the person', async () => {
    const b = await inStatus('WELFARE_PLACEMENT', 'IN_TRANSIT');
    const view = await must('confirmReceipt', b, a.welfareHome);
    expect(view).toMatchObject({
      status: 'RECEIVED',
      case: { status: 'CLOSED', outcome: 'PLACED_IN_WELFARE_HOME' },
      person: { custodian: { id: a.welfareHome.id } },
    });
    expect(await openCustody(b.personId)).toEqual([a.welfareHome.id]);
    const bed = (await hub.ok(AssignBedDocument, { input: { referralId: b.id, ward: '一区', bed: '3' } }, a.welfareHome.token)).assignBed;
    expect(bed.bed).toEqual({ ward: '一区', bed: '3' });
    expect((await hub.ok(PersonViewDocument, { id: b.personId }, a.station.token)).person!.currentCase).toBeNull();
  });

  it('validates the ICD-10 code of a diagnosis, and only chapter V (F00-F99) marks MENTAL_ILLNESS', async () => {
    const b = await inStatus('PSYCHIATRIC_EVALUATION', 'RECEIVED');
    for (const icd10Code of ['', 'F2', 'F20.', '20.9', 'FF0.9', 'F20.12345', ' F20.9', 'F20.9 ', 'Ｆ20.9', 'F20-9']) {
      const res = await hub.request(RecordDiagnosisDocument, { input: { referralId: b.id, icd10Code } }, a.hospital.token);
      expect({ icd10Code, ext: extensionsOf(res.errors) }).toMatchObject({
        icd10Code,
        ext: { code: 'BAD_USER_INPUT', field: 'input.icd10Code' },
      });
    }
    const vulnerabilities = async () => (await hub.ok(PersonViewDocument, { id: b.personId }, a.station.token)).person!.vulnerabilities;
    const g = (await hub.ok(RecordDiagnosisDocument, { input: { referralId: b.id, icd10Code: 'g40.9' } }, a.hospital.token))
      .recordDiagnosis;
    expect(g.diagnosis?.icd10Code).toBe('G40.9');
    expect(await vulnerabilities()).not.toContain('MENTAL_ILLNESS');
    const f = (await hub.ok(RecordDiagnosisDocument, { input: { referralId: b.id, icd10Code: 'F32.1' } }, a.hospital.token))
      .recordDiagnosis;
    expect(f.diagnosis?.icd10Code).toBe('F32.1');
    expect(await vulnerabilities()).toEqual(['MENTAL_ILLNESS']);
    await hub.ok(RecordDiagnosisDocument, { input: { referralId: b.id, icd10Code: 'F99' } }, a.hospital.token);
    expect(await vulnerabilities()).toEqual(['MENTAL_ILLNESS']);
    // Only the hospital records diagnoses; the police never read them.
    const byStation = await hub.request(RecordDiagnosisDocument, { input: { referralId: b.id, icd10Code: 'F20.9' } }, a.station.token);
    expect(codeOf(byStation)).toBe('FORBIDDEN');
    expect((await hub.ok(ReferralDocument, { id: b.id }, a.police.token)).referral!.diagnosis).toBeNull();
  });

  it('checks the dispatch input: escort names and the escort agency', async () => {
    const b = await inStatus('WELFARE_PLACEMENT', 'ACCEPTED');
    const dispatch = (input: { escortNames: string[]; escortAgencyId?: string }) =>
      hub.request(DispatchReferralDocument, { input: { referralId: b.id, ...input } }, a.station.token);
    expect(extensionsOf((await dispatch({ escortNames: [] })).errors)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.escortNames',
    });
    expect(extensionsOf((await dispatch({ escortNames: ['   '] })).errors)).toMatchObject({ code: 'BAD_USER_INPUT' });
    const noSuchAgency = Buffer.from(`Agency:${randomUUID()}`).toString('base64url');
    expect(extensionsOf((await dispatch({ escortNames: ['刘'], escortAgencyId: noSuchAgency })).errors)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.escortAgencyId',
    });
    expect(extensionsOf((await dispatch({ escortNames: ['刘'], escortAgencyId: b.id })).errors)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.escortAgencyId',
    });
    const now = (await hub.ok(ReferralTimesDocument, { id: b.id }, a.station.token)).referral!;
    expect({ status: now.status, version: now.version }).toEqual({ status: 'ACCEPTED', version: b.version });
    expect(await openCustody(b.personId)).toEqual([a.station.id]);
    // A referral id that is not one: BAD_USER_INPUT on the field; a well-formed unknown one: NOT_FOUND.
    const bad = await hub.request(AcceptReferralDocument, { input: { referralId: a.station.id } }, a.welfareHome.token);
    expect(extensionsOf(bad.errors)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.referralId' });
    const unknown = Buffer.from(`Referral:${randomUUID()}`).toString('base64url');
    expect(codeOf(await hub.request(AcceptReferralDocument, { input: { referralId: unknown } }, a.welfareHome.token))).toBe('NOT_FOUND');
  });

  it('refuses a stale expectedVersion with CONFLICT and changes nothing', async () => {
    const b = await inStatus('WELFARE_PLACEMENT', 'REQUESTED');
    expect(b.version).toBe(1);
    await must('accept', b, a.welfareHome, { expectedVersion: 1 });
    expect(b.version).toBe(2);
    for (const [action, as] of [
      ['cancel', a.station],
      ['dispatch', a.station],
      ['accept', a.welfareHome],
    ] as const) {
      const res = await act(action, b.id, as, { expectedVersion: 1 });
      expect(extensionsOf(res.errors)).toMatchObject({ code: 'CONFLICT' });
    }
    const now = (await hub.ok(ReferralTimesDocument, { id: b.id }, a.station.token)).referral!;
    expect({ status: now.status, version: now.version, events: now.history.length }).toEqual({ status: 'ACCEPTED', version: 2, events: 2 });
    // A version from the future is as stale as one from the past.
    expect(extensionsOf((await act('dispatch', b.id, a.station, { expectedVersion: 3 })).errors)).toMatchObject({ code: 'CONFLICT' });
    await must('dispatch', b, a.station, { expectedVersion: 2 });
    expect(b.status).toBe('IN_TRANSIT');
  });
});

// ---------------------------------------------------------------- deadlines

const DEFAULT_MS: Record<ReferralKind, number> = {
  PSYCHIATRIC_EVALUATION: 2 * 3_600_000,
  ESCORT_TO_STATION: 3_600_000,
  RETURN_TO_STATION: 24 * 3_600_000,
  RETURN_TO_ORIGIN: 2 * 86_400_000,
  WELFARE_PLACEMENT: 5 * 86_400_000,
};

async function responseTime(h: TestHub, id: string, token: string): Promise<number> {
  const r = (await h.ok(ReferralTimesDocument, { id }, token)).referral!;
  return Date.parse(r.respondBy!) - Date.parse(r.createdAt);
}

describe('who may ask, with or without an idempotency key (a request without one is one round trip: referral.create.ts)', () => {
  /** The request's answer, and whether it wrote anything for the person: a referral or a request's audit entry. */
  const ask = async (personId: string, kind: ReferralKind, to: TestAgency, by: TestAgency, keyed: boolean) => {
    const count = () =>
      sql<{ referrals: number; audits: number }>(
        `SELECT (SELECT count(*)::int FROM referral WHERE person_id = $1) AS referrals,
                (SELECT count(*)::int FROM audit_log WHERE subject_id = $1 AND action = 'referral.request') AS audits`,
        [uuidOf(personId)],
      );
    const [before] = await count();
    const res = await hub.request(
      RequestReferralDocument,
      { input: { personId, kind, toAgencyId: to.id, ...(keyed ? { idempotencyKey: randomUUID() } : {}) } },
      by.token,
    );
    const [after] = await count();
    return {
      extensions: extensionsOf(res.errors),
      written: { referrals: after.referrals - before.referrals, audits: after.audits - before.audits },
    };
  };
  const nothing = { referrals: 0, audits: 0 };

  it.each([false, true])(
    'refuses an agency that sees the person but neither holds them nor has their open case (FORBIDDEN); keyed: %s',
    async (keyed) => {
      // The police brought the person in: a party, but the station holds them and has the case now.
      const b = await escorted();
      await must('confirmReceipt', b, a.station);
      expect(await ask(b.personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.police, keyed)).toEqual({
        extensions: expect.objectContaining({ code: 'FORBIDDEN' }),
        written: nothing,
      });
    },
  );

  it.each([false, true])('refuses a placement of a person without an open case, on input.kind; keyed: %s', async (keyed) => {
    // The police hold the person on the way in: no case yet (and their escort is the person's open referral).
    const b = await escorted();
    expect(await ask(b.personId, 'WELFARE_PLACEMENT', a.welfareHome, a.police, keyed)).toEqual({
      extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.kind' }),
      written: nothing,
    });
  });

  it.each([false, true])('refuses to send the person to the agency that has them, on input.toAgencyId; keyed: %s', async (keyed) => {
    const { personId } = await personAtStation();
    expect(await ask(personId, 'RETURN_TO_STATION', a.station, a.station, keyed)).toEqual({
      extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.toAgencyId' }),
      written: nothing,
    });
  });

  it.each([false, true])(
    'lets the station of the open case ask while another agency holds the person, who then sends them; keyed: %s',
    async (keyed) => {
      // The seed: the police still hold the man the station has registered.
      const b = await escorted();
      await must('confirmReceipt', b, a.station);
      const back = await request(b.personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.station);
      await must('dispatch', back, a.station, { escort: a.police });
      await must('confirmReceipt', back, a.hospital);
      const home = await request(b.personId, 'RETURN_TO_STATION', a.station, a.hospital);
      await must('cancel', home, a.hospital);
      // The hospital holds the person; the station, whose case is open, asks for a placement.
      const asked = await ask(b.personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station, keyed);
      expect(asked).toEqual({ extensions: undefined, written: { referrals: 1, audits: 1 } });
      const [row] = await sql<{ from_agency_id: string; case_id: string | null; events: number }>(
        `SELECT r.from_agency_id, r.case_id, (SELECT count(*)::int FROM referral_event e WHERE e.referral_id = r.id) AS events
         FROM referral r WHERE r.person_id = $1 AND r.status = 'REQUESTED'`,
        [uuidOf(b.personId)],
      );
      expect(row).toMatchObject({ from_agency_id: uuidOf(a.hospital.id), events: 1 });
      expect(row.case_id).not.toBeNull();
    },
  );
});

describe('respondBy', () => {
  it.each(KINDS)('is createdAt + the default response time for a %s', async (kind) => {
    const b = await inStatus(kind, 'REQUESTED');
    expect(await responseTime(hub, b.id, b.requester.token)).toBe(DEFAULT_MS[kind]);
  });

  it('is createdAt + 1 h for an escort the police log', async () => {
    const e = await escorted();
    expect(await responseTime(hub, e.id, a.police.token)).toBe(DEFAULT_MS.ESCORT_TO_STATION);
  });

  it('follows HUB_RESPONSE_TIME_<KIND>', async () => {
    const custom: Record<ReferralKind, [string, number]> = {
      PSYCHIATRIC_EVALUATION: ['45m', 45 * 60_000],
      ESCORT_TO_STATION: ['90s', 90_000],
      RETURN_TO_STATION: ['3h', 3 * 3_600_000],
      RETURN_TO_ORIGIN: ['7d', 7 * 86_400_000],
      WELFARE_PLACEMENT: ['36h', 36 * 3_600_000],
    };
    const env = Object.fromEntries(KINDS.map((k) => [`HUB_RESPONSE_TIME_${k}`, custom[k][0]]));
    const other = await startTestHub(env);
    try {
      const o = await theSeedAgencies(other);
      const open = async () =>
        (
          await other.ok(
            OpenCaseWithPersonDocument,
            { input: { person: { gender: 'MALE', originRegionCode: '430521' }, intakeChannel: 'SELF_PRESENTED' } },
            o.station.token,
          )
        ).openCase.person.id;
      const req = async (personId: string, kind: ReferralKind, to: TestAgency, by: TestAgency) =>
        (await other.ok(RequestReferralDocument, { input: { personId, kind, toAgencyId: to.id } }, by.token)).requestReferral;
      const seen: Partial<Record<ReferralKind, number>> = {};
      for (const [kind, to] of [
        ['PSYCHIATRIC_EVALUATION', o.hospital],
        ['RETURN_TO_ORIGIN', o.originOffice],
        ['WELFARE_PLACEMENT', o.welfareHome],
      ] as const) {
        const r = await req(await open(), kind, to, o.station);
        seen[kind] = await responseTime(other, r.id, o.station.token);
      }
      const esc = (
        await other.ok(
          LogEscortedPersonDocument,
          { input: { person: { gender: 'MALE' }, stationId: o.station.id, foundAt: '桥下', escortNames: ['警'] } },
          o.police.token,
        )
      ).logEscortedPerson;
      seen.ESCORT_TO_STATION = await responseTime(other, esc.id, o.police.token);
      // Into hospital, then back to the station.
      const p = await open();
      const ev = await req(p, 'PSYCHIATRIC_EVALUATION', o.hospital, o.station);
      await other.ok(DispatchReferralDocument, { input: { referralId: ev.id, escortNames: ['站员'] } }, o.station.token);
      await other.ok(ConfirmReceiptDocument, { input: { referralId: ev.id } }, o.hospital.token);
      const back = await req(p, 'RETURN_TO_STATION', o.station, o.hospital);
      seen.RETURN_TO_STATION = await responseTime(other, back.id, o.hospital.token);
      expect(seen).toEqual(Object.fromEntries(KINDS.map((k) => [k, custom[k][1]])));
    } finally {
      await other.stop();
    }
  });
});

// ---------------------------------------------------------------- idempotent escorts

describe('logEscortedPerson with an idempotencyKey', () => {
  const counts = async () =>
    (
      await sql<{ persons: number; referrals: number; events: number; custody: number; keys: number }>(
        `SELECT (SELECT count(*) FROM person)::int AS persons, (SELECT count(*) FROM referral)::int AS referrals,
                (SELECT count(*) FROM referral_event)::int AS events, (SELECT count(*) FROM custody_record)::int AS custody,
                (SELECT count(*) FROM idempotency_key)::int AS keys`,
      )
    )[0];
  const input = (key: string, foundAt = '长湖路') => ({
    person: { gender: 'MALE' as const, birthYear: 1970, description: '灰色外套' },
    stationId: a.station.id,
    foundAt,
    escortNames: ['李警官', '赵警官'],
    idempotencyKey: key,
  });
  const plus = (c: Awaited<ReturnType<typeof counts>>, n: Partial<typeof c>) => ({
    persons: c.persons + (n.persons ?? 0),
    referrals: c.referrals + (n.referrals ?? 0),
    events: c.events + (n.events ?? 0),
    custody: c.custody + (n.custody ?? 0),
    keys: c.keys + (n.keys ?? 0),
  });
  const ONE_ESCORT = { persons: 1, referrals: 1, events: 2, custody: 1, keys: 1 };

  it('creates one person and one referral when retried three times', async () => {
    const before = await counts();
    const key = `phone-${randomUUID()}`;
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push((await hub.ok(LogEscortedPersonDocument, { input: input(key) }, a.police.token)).logEscortedPerson);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(new Set(results.map((r) => r.person.id)).size).toBe(1);
    expect(await counts()).toEqual(plus(before, ONE_ESCORT));
    // A retry after the station received the person still returns that referral, as it is now.
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: results[0].id } }, a.station.token);
    const late = (await hub.ok(LogEscortedPersonDocument, { input: input(key) }, a.police.token)).logEscortedPerson;
    expect({ id: late.id, status: late.status }).toEqual({ id: results[0].id, status: 'RECEIVED' });
  });

  it('creates one person and one referral when five retries race', async () => {
    const before = await counts();
    const key = `phone-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => hub.request(LogEscortedPersonDocument, { input: input(key) }, a.police.token)),
    );
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(new Set(results.map((r) => r.data!.logEscortedPerson.id)).size).toBe(1);
    expect(new Set(results.map((r) => r.data!.logEscortedPerson.person.id)).size).toBe(1);
    expect(await counts()).toEqual(plus(before, ONE_ESCORT));
  });

  it('refuses the same key with different input (CONFLICT), creating nothing', async () => {
    const key = `phone-${randomUUID()}`;
    await hub.ok(LogEscortedPersonDocument, { input: input(key) }, a.police.token);
    const before = await counts();
    const res = await hub.request(LogEscortedPersonDocument, { input: input(key, '另一个地方') }, a.police.token);
    expect(extensionsOf(res.errors)).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    expect(await counts()).toEqual(before);
  });

  it('scopes a key to the agency: another police station with the same key makes its own escort', async () => {
    const key = `phone-${randomUUID()}`;
    const mine = (await hub.ok(LogEscortedPersonDocument, { input: input(key) }, a.police.token)).logEscortedPerson;
    const otherPolice = await anAgency(hub, 'POLICE_STATION', '雁峰派出所', '430406');
    agencyById.set(otherPolice.id, otherPolice);
    const theirs = (await hub.ok(LogEscortedPersonDocument, { input: input(key) }, otherPolice.token)).logEscortedPerson;
    expect(theirs.id).not.toBe(mine.id);
  });

  it('applies to requestReferral too: a retried request is one referral, a changed one is CONFLICT', async () => {
    const { personId } = await personAtStation();
    const key = `req-${randomUUID()}`;
    const ask = (toAgencyId: string) =>
      hub.request(
        RequestReferralDocument,
        { input: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId, idempotencyKey: key } },
        a.station.token,
      );
    const results = await Promise.all([ask(a.welfareHome.id), ask(a.welfareHome.id), ask(a.welfareHome.id)]);
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined, undefined]);
    expect(new Set(results.map((r) => r.data!.requestReferral.id)).size).toBe(1);
    const changed = await hub.request(
      RequestReferralDocument,
      { input: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id, reason: '另有理由', idempotencyKey: key } },
      a.station.token,
    );
    expect(extensionsOf(changed.errors)).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM referral WHERE person_id = $1`, [uuidOf(personId)]);
    expect(n).toBe(1);
  });
});

// ---------------------------------------------------------------- the referrals connection

describe('referrals(filter)', () => {
  it('lists INCOMING, OUTGOING and ANY relative to the caller, filters by status and kind, and pages with a total', async () => {
    const f = await theSeedAgencies(hub);
    for (const ag of Object.values(f)) agencyById.set(ag.id, ag);
    const escort = async () =>
      (
        await hub.ok(
          LogEscortedPersonDocument,
          { input: { person: { gender: 'MALE' }, stationId: f.station.id, foundAt: '广场', escortNames: ['警'] } },
          f.police.token,
        )
      ).logEscortedPerson.id;
    const open = async () =>
      (
        await hub.ok(
          OpenCaseWithPersonDocument,
          { input: { person: { gender: 'FEMALE', originRegionCode: '430521' }, intakeChannel: 'PUBLIC_REPORT' } },
          f.station.token,
        )
      ).openCase.person.id;
    const ask = async (kind: ReferralKind, to: TestAgency) =>
      (await hub.ok(RequestReferralDocument, { input: { personId: await open(), kind, toAgencyId: to.id } }, f.station.token))
        .requestReferral.id;

    const escorts = [await escort(), await escort(), await escort()];
    const placements = [await ask('WELFARE_PLACEMENT', f.welfareHome), await ask('WELFARE_PLACEMENT', f.welfareHome)];
    const evaluation = await ask('PSYCHIATRIC_EVALUATION', f.hospital);
    // The police escort the evaluation: party as escort only.
    await hub.ok(
      DispatchReferralDocument,
      { input: { referralId: evaluation, escortNames: ['警'], escortAgencyId: f.police.id } },
      f.station.token,
    );
    await hub.ok(RejectReferralDocument, { input: { referralId: escorts[0], reason: 'NO_CAPACITY' } }, f.station.token);
    // The seed's case: the station registers the turned-away man while the police hold him and asks for an
    // evaluation; the station requested it, the police are its sender.
    const turnedAway = (await hub.ok(ReferralDocument, { id: escorts[0] }, f.station.token)).referral!.person.id;
    await hub.ok(OpenCaseWithPersonDocument, { input: { personId: turnedAway, intakeChannel: 'POLICE_ESCORT' } }, f.station.token);
    const seedEval = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId: turnedAway, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: f.hospital.id } },
        f.station.token,
      )
    ).requestReferral;
    expect({ requester: seedEval.requestedBy.id, sender: seedEval.fromAgency.id }).toEqual({
      requester: f.station.id,
      sender: f.police.id,
    });
    const asked = seedEval.id;

    const ids = async (token: string, filter: Parameters<typeof list>[1]) => (await list(token, filter)).map((n) => n.id).sort();
    const list = async (
      token: string,
      filter: { direction?: 'INCOMING' | 'OUTGOING' | 'ANY'; status?: ReferralStatus[]; kind?: ReferralKind[] },
    ) => {
      const r = (await hub.ok(ReferralsPageDocument, { filter, first: 100 }, token)).referrals;
      expect(r.totalCount).toBe(r.edges.length);
      return r.edges.map((e) => e.node);
    };
    const sorted = (xs: string[]) => [...xs].sort();

    expect(await ids(f.station.token, { direction: 'INCOMING' })).toEqual(sorted(escorts));
    expect(await ids(f.station.token, { direction: 'OUTGOING' })).toEqual(sorted([...placements, evaluation, asked]));
    expect(await ids(f.station.token, { direction: 'ANY' })).toEqual(sorted([...escorts, ...placements, evaluation, asked]));
    expect(await ids(f.station.token, {})).toEqual(sorted([...escorts, ...placements, evaluation, asked]));
    expect(await ids(f.police.token, { direction: 'OUTGOING' })).toEqual(sorted([...escorts, asked]));
    expect(await ids(f.police.token, { direction: 'INCOMING' })).toEqual([]);
    expect(await ids(f.police.token, { direction: 'ANY' })).toEqual(sorted([...escorts, evaluation, asked]));
    expect(await ids(f.hospital.token, { direction: 'INCOMING' })).toEqual(sorted([evaluation, asked]));
    expect(await ids(f.hospital.token, { direction: 'OUTGOING' })).toEqual([]);
    expect(await ids(f.welfareHome.token, { direction: 'INCOMING' })).toEqual(sorted(placements));
    expect(await ids(f.otherStation.token, { direction: 'ANY' })).toEqual([]);

    expect(await ids(f.station.token, { status: ['REJECTED'] })).toEqual([escorts[0]]);
    expect(await ids(f.station.token, { status: ['IN_TRANSIT'] })).toEqual(sorted([escorts[1], escorts[2], evaluation]));
    expect(await ids(f.station.token, { status: ['REQUESTED', 'REJECTED'] })).toEqual(sorted([...placements, escorts[0], asked]));
    expect(await ids(f.station.token, { kind: ['PSYCHIATRIC_EVALUATION'] })).toEqual(sorted([evaluation, asked]));
    expect(await ids(f.station.token, { direction: 'INCOMING', kind: ['WELFARE_PLACEMENT'] })).toEqual([]);
    expect(await ids(f.station.token, { direction: 'OUTGOING', kind: ['WELFARE_PLACEMENT'], status: ['REQUESTED'] })).toEqual(
      sorted(placements),
    );
    expect(
      await ids(f.police.token, { direction: 'ANY', status: ['IN_TRANSIT'], kind: ['ESCORT_TO_STATION', 'PSYCHIATRIC_EVALUATION'] }),
    ).toEqual(sorted([escorts[1], escorts[2], evaluation]));

    // Pages of two, newest first, each with the whole total; together exactly the seven.
    const seen: { id: string; createdAt: string }[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const p: ReferralsPageQuery['referrals'] = (
        await hub.ok(ReferralsPageDocument, { filter: { direction: 'ANY' }, first: 2, after }, f.station.token)
      ).referrals;
      expect(p.totalCount).toBe(7);
      seen.push(...p.edges.map((e) => e.node));
      pages.push(p.pageInfo.hasNextPage);
      if (p.edges.length) expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)!.cursor);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    expect(pages).toEqual([true, true, true, false]);
    expect(seen.map((n) => n.id).sort()).toEqual(sorted([...escorts, ...placements, evaluation, asked]));
    expect(new Set(seen.map((n) => n.id)).size).toBe(7);
    const times = seen.map((n) => Date.parse(n.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));

    // Bad page arguments name the argument.
    for (const [first, afterArg, field] of [
      [0, null, 'first'],
      [101, null, 'first'],
      [2, 'not-a-cursor', 'after'],
      // Well-formed cursors of the wrong shape: still the caller's mistake, never a database error.
      [2, Buffer.from(JSON.stringify(['yesterday', 'nope'])).toString('base64url'), 'after'],
      [2, Buffer.from(JSON.stringify([1, 2, 3])).toString('base64url'), 'after'],
      [2, Buffer.from(JSON.stringify([])).toString('base64url'), 'after'],
      [2, Buffer.from(JSON.stringify(['2026-13-45 25:00:00+00', randomUUID()])).toString('base64url'), 'after'],
    ] as const) {
      const res = await hub.request(ReferralsPageDocument, { first, after: afterArg }, f.station.token);
      expect(extensionsOf(res.errors)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('pages through referrals created in the same millisecond without losing or repeating one', async () => {
    const f = await theSeedAgencies(hub);
    const made = await Promise.all(
      Array.from(
        { length: 7 },
        async () =>
          (
            await hub.ok(
              LogEscortedPersonDocument,
              { input: { person: { gender: 'MALE' }, stationId: f.station.id, foundAt: '同时', escortNames: ['警'] } },
              f.police.token,
            )
          ).logEscortedPerson.id,
      ),
    );
    // Force ties on created_at: only the id orders them.
    await sql(`UPDATE referral SET created_at = date_trunc('second', now()) WHERE id = ANY($1::uuid[])`, [made.map(uuidOf)]);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const { referrals }: ReferralsPageQuery = await hub.ok(
        ReferralsPageDocument,
        { filter: { direction: 'INCOMING' }, first: 3, after },
        f.station.token,
      );
      seen.push(...referrals.edges.map((e) => e.node.id));
      if (!referrals.pageInfo.hasNextPage) break;
      after = referrals.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual([...made].sort());
  });
});

// ---------------------------------------------------------------- history

describe('Referral.history', () => {
  it('has one event per transition, each with the account that acted', async () => {
    const accountOf = async (ag: TestAgency) => (await hub.ok(ViewerAccountDocument, {}, ag.token)).viewer.account!.id;
    const b = await inStatus('WELFARE_PLACEMENT', 'REQUESTED');
    await must('accept', b, a.welfareHome);
    await must('dispatch', b, a.station, { escort: a.police });
    await must('confirmReceipt', b, a.welfareHome);
    await hub.ok(AssignBedDocument, { input: { referralId: b.id, ward: '二区', bed: '7' } }, a.welfareHome.token);
    const history = (await hub.ok(ReferralTimesDocument, { id: b.id }, a.station.token)).referral!.history;
    expect(history.map((e) => [e.type, e.actor?.id])).toEqual([
      ['REQUESTED', await accountOf(a.station)],
      ['ACCEPTED', await accountOf(a.welfareHome)],
      ['DISPATCHED', await accountOf(a.station)],
      ['RECEIVED', await accountOf(a.welfareHome)],
      ['BED_ASSIGNED', await accountOf(a.welfareHome)],
    ]);
    const times = history.map((e) => Date.parse(e.occurredAt));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    // A supervisor's step names the supervisor, not the agency's staff account.
    const c = await inStatus('PSYCHIATRIC_EVALUATION', 'REQUESTED');
    await hub.ok(DispatchReferralDocument, { input: { referralId: c.id, escortNames: ['站员'] } }, a.station.supervisorToken);
    const h2 = (await hub.ok(ReferralTimesDocument, { id: c.id }, a.station.token)).referral!.history;
    expect(h2.at(-1)).toMatchObject({ type: 'DISPATCHED', actor: { agency: { id: a.station.id } } });
    expect(h2.at(-1)!.actor!.id).not.toBe(await accountOf(a.station));
  });
});

// ---------------------------------------------------------------- cost of a page

describe('a page of referrals', () => {
  it('costs a constant number of SQL statements, whatever its size', async () => {
    // 25 persons brought in by 25 police stations: every row has its own person, sender and actors,
    // so a per-row query anywhere shows as statements growing with the page.
    const f = await theSeedAgencies(hub);
    const polices = await Promise.all(Array.from({ length: 25 }, (_, i) => anAgency(hub, 'POLICE_STATION', `派出所${i}`, '430406')));
    for (const [i, police] of polices.entries()) {
      const r = (
        await hub.ok(
          LogEscortedPersonDocument,
          { input: { person: { gender: 'MALE', description: `n+1 ${i}` }, stationId: f.station.id, foundAt: '街', escortNames: ['警'] } },
          police.token,
        )
      ).logEscortedPerson;
      if (i % 3 === 0) await hub.ok(RejectReferralDocument, { input: { referralId: r.id, reason: 'OTHER' } }, f.station.token);
      if (i % 3 === 1) await hub.ok(ConfirmReceiptDocument, { input: { referralId: r.id } }, f.station.token);
    }
    const pg = require('pg') as typeof import('pg');
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    const statements = async (first: number) => {
      const texts: string[] = [];
      proto.query = function (this: unknown, ...args: unknown[]) {
        const q = args[0];
        texts.push(typeof q === 'string' ? q : String((q as { text?: string })?.text));
        return original.apply(this, args);
      };
      try {
        const { referrals } = await hub.ok(ReferralsPageDocument, { filter: { direction: 'ANY' }, first }, f.station.token);
        expect(referrals.edges).toHaveLength(first);
        expect(new Set(referrals.edges.map((e) => e.node.fromAgency.id)).size).toBe(first);
        for (const e of referrals.edges) {
          expect(e.node.person.id).toBeTruthy();
          expect(e.node.toAgency.id).toBe(f.station.id);
          expect(e.node.history.length).toBeGreaterThanOrEqual(2);
        }
      } finally {
        proto.query = original;
      }
      return texts;
    };
    // The hub's own background work (event polling, audit flushes of earlier requests) runs in this process
    // too and may land inside a window: take the quietest of three. Per-row queries would add 20 every time.
    const quietest = async (first: number) => {
      const runs = [await statements(first), await statements(first), await statements(first)];
      return runs.reduce((x, y) => (y.length < x.length ? y : x));
    };
    const small = await quietest(5);
    const large = await quietest(25);
    expect(small.length).toBeGreaterThan(0);
    // The same statements, whatever the page size: only the length of the IN (...) lists differs.
    const shape = (texts: string[]) => texts.map((t) => t.replace(/\$\d+(, \$\d+)*/g, '$n').replace(/LIMIT \d+/, 'LIMIT n')).sort();
    expect(shape(large)).toEqual(shape(small));
    expect(large.length).toBeLessThanOrEqual(15);
  });
});

describe('the round trips of a hand-off', () => {
  // Each statement is a round trip to PostgreSQL: on the bench machine the loopback sends alone were 27% of the
  // hub's CPU in the hand-off cycle (issue 7). Outside the transaction only the token lookup may appear (cached
  // per process afterwards); the feed's read and the wake-up NOTIFY after a commit are shared by every commit of
  // a burst, and the expiry sweep and the listening connection's ping (its heartbeat NOTIFY at each poll) are the hub's
  // own: none of them is the request's.
  const during = async (work: () => Promise<unknown>) => (await sent(work)).map((s) => s.text);
  /** The request's statements, each with the socket write that carried it (statementsAndWritesDuring). */
  const sent = async (work: () => Promise<unknown>) =>
    (await statementsAndWritesDuring(work)).filter(
      (s) => !/^WITH snap AS|pg_notify|^WITH expired AS|^SELECT a\.id AS account_id|^SELECT 1$/.test(s.text),
    );
  /** How many writes carried the statements: consecutive statements sent with no write between them left together. */
  const writesOf = (statements: { write: number }[]) => new Set(statements.map((s) => s.write)).size;

  it("a step is four statements in ONE write: begin, the row locks (the person's, then the referral's), the guarded write, commit", async () => {
    const b = await requested('PSYCHIATRIC_EVALUATION');
    const statements = await sent(() => hub.ok(HandoffAcceptDocument, { input: { referralId: b.id } }, b.receiver.token));
    const seen = statements.map((s) => s.text);
    expect(seen).toHaveLength(4);
    expect(seen[0]).toMatch(/^START TRANSACTION/);
    // The person's lock, then the referral's, in that order; nothing read: the statement behind decides.
    expect(seen[1]).toBe('SELECT 1 FROM referral r JOIN person p ON p.id = r.person_id WHERE r.id = $1::uuid FOR UPDATE OF p, r');
    // The change, its audit entry and its event: one statement that decides from the transition table itself
    // (referral.guard.ts), with who holds the person once the locks are held, so that it can leave with the locks,
    // before they have answered.
    expect(seen[2]).toMatch(
      /^WITH cur AS MATERIALIZED[\s\S]*UPDATE referral x SET status[\s\S]*INSERT INTO audit_log[\s\S]*INSERT INTO referral_event/,
    );
    expect(seen[3]).toMatch(/^COMMIT/);
    // One round trip for the whole step (issue 7).
    expect(writesOf(statements)).toBe(1);
    const [row] = await sql<{ events: number; audits: number; version: number; status: string }>(
      `SELECT (SELECT count(*)::int FROM referral_event e WHERE e.referral_id = r.id AND e.type = 'ACCEPTED' AND e.status = 'ACCEPTED') AS events,
              (SELECT count(*)::int FROM audit_log l WHERE l.subject_id = r.person_id AND l.action = 'referral.accept') AS audits,
              r.version, r.status::text AS status
         FROM referral r WHERE r.id = $1`,
      [uuidOf(b.id)],
    );
    expect(row).toEqual({ events: 1, audits: 1, version: 2, status: 'ACCEPTED' });
  });

  it('a refused step changes nothing in its round trip, then reads why: the lock with need to know and the custodian, and plan()', async () => {
    const b = await requested('PSYCHIATRIC_EVALUATION');
    // The sender may not accept its own request: FORBIDDEN, as plan() says, from the lock statement's row.
    let res: Awaited<ReturnType<typeof hub.request>> | undefined;
    const statements = await sent(async () => {
      res = await hub.request(HandoffAcceptDocument, { input: { referralId: b.id } }, a.station.token);
    });
    expect(res!.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const seen = statements.map((s) => s.text);
    expect(seen[1]).toMatch(/^SELECT 1 FROM referral r JOIN person p/);
    expect(seen[2]).toMatch(/^WITH cur AS MATERIALIZED/);
    expect(seen[3]).toMatch(/^COMMIT/);
    expect(seen[4]).toMatch(/^START TRANSACTION/);
    expect(seen[5]).toContain('AS visible');
    expect(seen[5]).toMatch(/LATERAL person_holding\(l\."personId"\) h$/);
    expect(seen).toHaveLength(7); // and its ROLLBACK
    expect(writesOf(statements)).toBe(3);
    const [row] = await sql<{ version: number; status: string; events: number }>(
      `SELECT r.version, r.status::text AS status, (SELECT count(*)::int FROM referral_event e WHERE e.referral_id = r.id) AS events
         FROM referral r WHERE r.id = $1`,
      [uuidOf(b.id)],
    );
    expect(row).toEqual({ version: 1, status: 'REQUESTED', events: 1 });
  });

  it('a step that moves custody writes the move in the same statement as the change, and nothing else', async () => {
    const b = await inStatus('PSYCHIATRIC_EVALUATION', 'ACCEPTED');
    const seen = await during(() =>
      hub.ok(
        HandoffDispatchDocument,
        { input: { referralId: b.id, escortAgencyId: a.police.id, escortNames: ['刘护送'] } },
        b.custodian!.token,
      ),
    );
    // The escort agency named comes from the per-process agency cache (the police have escorted before here).
    expect(seen).toHaveLength(4);
    expect(seen[2]).toMatch(
      /UPDATE referral x SET status[\s\S]*INSERT INTO audit_log[\s\S]*UPDATE custody_record[\s\S]*INSERT INTO custody_record[\s\S]*INSERT INTO referral_event/,
    );
    const ledger = await sql<{ holder_id: string; open: boolean; referral_id: string | null }>(
      `SELECT holder_id, to_at IS NULL AS open, referral_id FROM custody_record WHERE person_id = (SELECT person_id FROM referral WHERE id = $1) ORDER BY from_at, id`,
      [uuidOf(b.id)],
    );
    // The sender's span closed, the escort's opened, caused by the referral.
    expect(ledger.filter((k) => k.open)).toEqual([{ holder_id: uuidOf(a.police.id), open: true, referral_id: uuidOf(b.id) }]);
    expect(ledger.filter((k) => !k.open).length).toBeGreaterThan(0);
  });

  it('a refused request inserts nothing in its round trip, then reads why: NOT_FOUND for a person the caller may not see', async () => {
    const { personId } = await personAtStation();
    let res: Awaited<ReturnType<typeof hub.request>> | undefined;
    // The hospital has no part in this person's case yet: it may not even learn that they exist.
    const statements = await sent(async () => {
      res = await hub.request(
        HandoffRequestDocument,
        { input: { personId, kind: 'ESCORT_TO_STATION', toAgencyId: a.station.id, reason: '转回' } },
        a.hospital.token,
      );
    });
    expect(res!.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const seen = statements.map((s) => s.text);
    expect(seen[1]).toBe('SELECT 1 FROM person p WHERE p.id = $1::uuid FOR UPDATE OF p');
    expect(seen[3]).toMatch(/^COMMIT/);
    expect(seen[4]).toMatch(/^START TRANSACTION/);
    expect(seen[5]).toContain('AS visible FROM person p');
    expect(writesOf(statements)).toBe(3);
    expect(await sql(`SELECT 1 FROM referral WHERE person_id = $1`, [uuidOf(personId)])).toEqual([]);
  });

  it("a request is four statements in ONE write: begin, the person's row lock, the guarded referral with its audit entry and its event, commit", async () => {
    const { personId } = await personAtStation();
    // The hospital has been asked before in this file: its row comes from the per-process agency cache.
    let answer: { requestReferral: { id: string } } | undefined;
    const statements = await sent(async () => {
      answer = await hub.ok(
        HandoffRequestDocument,
        { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id, reason: '复诊' } },
        a.station.token,
      );
    });
    const seen = statements.map((s) => s.text);
    expect(seen).toHaveLength(4);
    // One round trip for the whole request (issue 7).
    expect(writesOf(statements)).toBe(1);
    // The person's row lock; the statement behind reads need to know, holder and case once it is held.
    expect(seen[1]).toBe('SELECT 1 FROM person p WHERE p.id = $1::uuid FOR UPDATE OF p');
    expect(seen[2]).toMatch(/INSERT INTO referral \(id, kind[\s\S]*INSERT INTO audit_log[\s\S]*INSERT INTO referral_event/);
    expect(seen[3]).toMatch(/^COMMIT/);
    // What the one statement wrote is the whole referral, as a read of it returns it, with its event and audit entry.
    const [row] = await sql<Record<string, unknown>>(
      `SELECT r.kind::text, r.status::text, r.person_id, r.reason, r.version, r.escort_names, r.rejection_reason, r.found_at,
              r.respond_by - r.created_at AS respond_within,
              (SELECT count(*)::int FROM referral_event e WHERE e.referral_id = r.id AND e.type = 'REQUESTED' AND e.status = 'REQUESTED') AS events,
              (SELECT count(*)::int FROM audit_log l WHERE l.subject_id = r.person_id AND l.action = 'referral.request') AS audits
         FROM referral r WHERE r.id = $1`,
      [uuidOf(answer!.requestReferral.id)],
    );
    expect(row).toMatchObject({
      kind: 'PSYCHIATRIC_EVALUATION',
      status: 'REQUESTED',
      person_id: uuidOf(personId),
      reason: '复诊',
      version: 1,
      escort_names: [],
      rejection_reason: null,
      found_at: null,
      events: 1,
      audits: 1,
    });
    expect(row.respond_within).not.toBeNull();
  });

  it('answers NOT_FOUND to an agency that is not party to the person, and writes nothing', async () => {
    const b = await requested('PSYCHIATRIC_EVALUATION');
    const count = () => sql(`SELECT count(*)::int AS n FROM referral_event WHERE referral_id = $1`, [uuidOf(b.id)]);
    const before = await count();
    const res = await hub.request(HandoffAcceptDocument, { input: { referralId: b.id } }, otherOffice.token);
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(await count()).toEqual(before);
  });
});

// ---------------------------------------------------------------- invariants over everything above

describe('after everything above', () => {
  it("every referral's status is its last event's status, and its first event is REQUESTED", async () => {
    const bad = await sql(
      `SELECT r.id, r.status, last.status AS last_status, first.type AS first_type
         FROM referral r
         LEFT JOIN LATERAL (SELECT e.status FROM referral_event e WHERE e.referral_id = r.id ORDER BY e.seq DESC LIMIT 1) last ON TRUE
         LEFT JOIN LATERAL (SELECT e.type FROM referral_event e WHERE e.referral_id = r.id ORDER BY e.seq ASC LIMIT 1) first ON TRUE
        WHERE last.status IS DISTINCT FROM r.status OR first.type IS DISTINCT FROM 'REQUESTED'`,
    );
    expect(bad).toEqual([]);
    const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM referral`);
    expect(n).toBeGreaterThan(100);
  });

  it('every status change has its event: events that change the status equal version changes', async () => {
    // version starts at 1 and rises by one per step; logEscortedPerson starts at 2 with two events.
    const bad = await sql(
      `SELECT r.id, r.version, count(e.*)::int AS events
         FROM referral r JOIN referral_event e ON e.referral_id = r.id
        GROUP BY r.id, r.version HAVING count(e.*) <> r.version`,
    );
    expect(bad).toEqual([]);
  });

  it('keeps the custody ledger whole: one open record for every person with an open case, never two', async () => {
    const twoOpen = await sql(`SELECT person_id FROM custody_record WHERE to_at IS NULL GROUP BY person_id HAVING count(*) > 1`);
    expect(twoOpen).toEqual([]);
    const unheld = await sql(
      `SELECT c.id FROM rescue_case c WHERE c.status = 'OPEN'
          AND NOT EXISTS (SELECT 1 FROM custody_record k WHERE k.person_id = c.person_id AND k.to_at IS NULL)`,
    );
    expect(unheld).toEqual([]);
    const inTransitWithoutEscort = await sql(
      `SELECT r.id FROM referral r WHERE r.status = 'IN_TRANSIT'
          AND NOT EXISTS (SELECT 1 FROM custody_record k WHERE k.person_id = r.person_id AND k.to_at IS NULL AND k.holder_id = r.escort_agency_id)`,
    );
    expect(inTransitWithoutEscort).toEqual([]);
  });
});
