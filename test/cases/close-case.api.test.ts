import {
  CasesDocument,
  CloseCaseDocument,
  ExtendRescuePeriodDocument,
  RescueCaseDocument,
  type CloseCaseMutationVariables,
  type OpenCaseMutationVariables,
} from '../generated/graphql';
import { errorOf, idNumber, openCaseFor, thisYear, uuidOf, withWrongCheck } from '../persons/people';
import { theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

type NewPerson = NonNullable<OpenCaseMutationVariables['input']['person']>;
type CloseInput = CloseCaseMutationVariables['input'];

const adult = (): Partial<NewPerson> => ({ name: '张建国', birthYear: thisYear() - 40 });
const close = (input: CloseInput, token = a.station.token) => hub.request(CloseCaseDocument, { input }, token);
const statusOf = async (caseId: string) => (await hub.ok(RescueCaseDocument, { id: caseId }, a.station.token)).rescueCase!.status;
const voucher = { destination: '湖南省邵阳市邵东县', ticketNumber: 'G1234-05车12F' };
const collector = () => ({ name: '张丽', relationship: '女儿', idNumber: idNumber('430521', '19900101', 'FEMALE') });
const DAY = 86_400_000;

describe('closeCase: what each outcome needs', () => {
  it('closes RETURNED_FUNDED with a travel voucher', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    const res = await close({ caseId: c.id, outcome: 'RETURNED_FUNDED', travelVoucher: voucher });
    expect(res.errors).toBeUndefined();
    expect(res.data!.closeCase).toMatchObject({ status: 'CLOSED', outcome: 'RETURNED_FUNDED', overdue: false });
    expect(Date.parse(res.data!.closeCase.closedAt!)).toBeGreaterThanOrEqual(Date.parse(c.openedAt));
  });

  it('refuses RETURNED_FUNDED without a travel voucher (BAD_USER_INPUT on input.travelVoucher)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect(errorOf(await close({ caseId: c.id, outcome: 'RETURNED_FUNDED' }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.travelVoucher',
    });
    expect(await statusOf(c.id)).toBe('OPEN');
  });

  it('closes RETURNED_FAMILY_PICKUP with a collector, keeping the collector’s ID number only encrypted', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    const who = collector();
    const res = await close({ caseId: c.id, outcome: 'RETURNED_FAMILY_PICKUP', collector: who });
    expect(res.data?.closeCase).toMatchObject({ status: 'CLOSED', outcome: 'RETURNED_FAMILY_PICKUP' });
    const [{ json }]: { json: string }[] = await hub.hub.db.query(`SELECT row_to_json(c)::text AS json FROM rescue_case c WHERE id = $1`, [
      uuidOf(c.id),
    ]);
    expect(json).toContain('张丽');
    expect(json).not.toContain(who.idNumber);
    expect(json).not.toContain(who.idNumber.slice(0, 17));
  });

  it('refuses RETURNED_FAMILY_PICKUP without a collector, or with an invalid ID number for them', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect(errorOf(await close({ caseId: c.id, outcome: 'RETURNED_FAMILY_PICKUP' }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.collector',
    });
    const bad = { ...collector(), idNumber: withWrongCheck(idNumber('430521', '19900101')) };
    expect(errorOf(await close({ caseId: c.id, outcome: 'RETURNED_FAMILY_PICKUP', collector: bad }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.collector.idNumber',
    });
    const noName = { ...collector(), name: '  ' };
    expect(errorOf(await close({ caseId: c.id, outcome: 'RETURNED_FAMILY_PICKUP', collector: noName }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.collector.name',
    });
    expect(await statusOf(c.id)).toBe('OPEN');
  });

  it('closes LEFT_VOLUNTARILY for an adult who may leave alone', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect((await close({ caseId: c.id, outcome: 'LEFT_VOLUNTARILY' })).data?.closeCase.outcome).toBe('LEFT_VOLUNTARILY');
  });

  it('refuses RETURNED_ESCORTED and PLACED_IN_WELFARE_HOME: they come from a received referral (INVALID_TRANSITION)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    for (const outcome of ['RETURNED_ESCORTED', 'PLACED_IN_WELFARE_HOME'] as const) {
      expect(codeOf(await close({ caseId: c.id, outcome }))).toBe('INVALID_TRANSITION');
    }
    expect(await statusOf(c.id)).toBe('OPEN');
  });

  it('closes DECEASED whoever the person is', async () => {
    const c = await openCaseFor(hub, a.station.token, { birthYear: thisYear() - 8, vulnerabilities: ['MENTAL_ILLNESS'] });
    expect((await close({ caseId: c.id, outcome: 'DECEASED' })).data?.closeCase).toMatchObject({ status: 'CLOSED', outcome: 'DECEASED' });
  });

  it('refuses to close a closed case (INVALID_TRANSITION with status CLOSED)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await hub.ok(CloseCaseDocument, { input: { caseId: c.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    for (const outcome of ['LEFT_VOLUNTARILY', 'DECEASED'] as const) {
      expect(errorOf(await close({ caseId: c.id, outcome }))).toMatchObject({ code: 'INVALID_TRANSITION', status: 'CLOSED' });
    }
  });

  it('reports the real status of a closed case whatever outcome is asked for', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await hub.ok(CloseCaseDocument, { input: { caseId: c.id, outcome: 'DECEASED' } }, a.station.token);
    for (const outcome of ['RETURNED_ESCORTED', 'PLACED_IN_WELFARE_HOME'] as const) {
      expect(errorOf(await close({ caseId: c.id, outcome }))).toMatchObject({ code: 'INVALID_TRANSITION', status: 'CLOSED' });
    }
  });

  it('releases custody when it closes: nobody holds the person, and the custody record has its end', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect(c.person.custodian).toEqual({ id: a.station.id });
    const { closeCase } = await hub.ok(
      CloseCaseDocument,
      { input: { caseId: c.id, outcome: 'RETURNED_FUNDED', travelVoucher: voucher } },
      a.station.token,
    );
    expect(closeCase.person.custodian).toBeNull();
    expect(closeCase.person.currentCase).toBeNull();
    const last = closeCase.person.custodyHistory.at(-1)!;
    expect(last.holder.id).toBe(a.station.id);
    expect(last.to).not.toBeNull();
    expect(Date.parse(last.to!)).toBeGreaterThanOrEqual(Date.parse(last.from));
  });

  it('is the station’s own: FORBIDDEN to the police, NOT_FOUND to another station', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect(codeOf(await close({ caseId: c.id, outcome: 'LEFT_VOLUNTARILY' }, a.police.token))).toBe('FORBIDDEN');
    expect(codeOf(await close({ caseId: c.id, outcome: 'LEFT_VOLUNTARILY' }, a.otherStation.token))).toBe('NOT_FOUND');
    // Whatever the outcome: a case the caller may not see tells it nothing.
    expect(codeOf(await close({ caseId: c.id, outcome: 'RETURNED_ESCORTED' }, a.otherStation.token))).toBe('NOT_FOUND');
    expect(codeOf(await hub.request(RescueCaseDocument, { id: c.id }, a.otherStation.token))).toBe('NOT_FOUND');
    expect(await statusOf(c.id)).toBe('OPEN');
  });
});

describe('many closes and extensions at once', () => {
  // More than the database pool (HUB_DB_POOL_SIZE, 10): each must finish on its own connection.
  const N = 12;

  it(`closes ${N} cases at once without stalling`, async () => {
    const cases = await Promise.all(Array.from({ length: N }, () => openCaseFor(hub, a.station.token, adult())));
    const results = await Promise.all(cases.map((c) => close({ caseId: c.id, outcome: 'LEFT_VOLUNTARILY' })));
    expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(Array(N).fill('ok'));
  });

  it(`extends ${N} rescue periods at once without stalling`, async () => {
    const cases = await Promise.all(Array.from({ length: N }, () => openCaseFor(hub, a.station.token, adult())));
    const results = await Promise.all(
      cases.map((c) =>
        hub.request(
          ExtendRescuePeriodDocument,
          { input: { caseId: c.id, until: new Date(Date.parse(c.rescuePeriodEndsAt) + DAY).toISOString(), reason: '批量' } },
          a.station.supervisorToken,
        ),
      ),
    );
    expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(Array(N).fill('ok'));
  });
});

describe('closeCase: persons who may not leave alone (under 16, mental, intellectual or physical disability)', () => {
  const cannotLeaveAlone: [string, Partial<NewPerson>][] = [
    ['a child of about 10', { birthYear: thisYear() - 10 }],
    ['a person with a mental illness', { birthYear: thisYear() - 40, vulnerabilities: ['MENTAL_ILLNESS'] }],
    ['a person with dementia', { birthYear: thisYear() - 80, vulnerabilities: ['DEMENTIA_OR_INTELLECTUAL_DISABILITY'] }],
    ['a person with a physical disability', { birthYear: thisYear() - 40, vulnerabilities: ['PHYSICAL_DISABILITY'] }],
  ];

  it.each(cannotLeaveAlone)(
    'refuses RETURNED_FUNDED and LEFT_VOLUNTARILY for %s (BAD_USER_INPUT on input.outcome)',
    async (_who, person) => {
      const c = await openCaseFor(hub, a.station.token, person);
      expect(errorOf(await close({ caseId: c.id, outcome: 'RETURNED_FUNDED', travelVoucher: voucher }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.outcome',
      });
      expect(errorOf(await close({ caseId: c.id, outcome: 'LEFT_VOLUNTARILY' }))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.outcome',
      });
      expect(await statusOf(c.id)).toBe('OPEN');
    },
  );

  it.each(cannotLeaveAlone)('allows RETURNED_FAMILY_PICKUP for %s', async (_who, person) => {
    const c = await openCaseFor(hub, a.station.token, person);
    const res = await close({ caseId: c.id, outcome: 'RETURNED_FAMILY_PICKUP', collector: collector() });
    expect(res.data?.closeCase).toMatchObject({ status: 'CLOSED', outcome: 'RETURNED_FAMILY_PICKUP' });
  });

  it('lets a 17-year-old and a person with only a speech disability leave alone', async () => {
    const teen = await openCaseFor(hub, a.station.token, { birthYear: thisYear() - 17 });
    expect((await close({ caseId: teen.id, outcome: 'LEFT_VOLUNTARILY' })).data?.closeCase.status).toBe('CLOSED');
    const mute = await openCaseFor(hub, a.station.token, { birthYear: thisYear() - 30, vulnerabilities: ['SENSORY_OR_SPEECH_DISABILITY'] });
    expect((await close({ caseId: mute.id, outcome: 'RETURNED_FUNDED', travelVoucher: voucher })).data?.closeCase.status).toBe('CLOSED');
  });
});

describe('extendRescuePeriod', () => {
  const extend = (caseId: string, until: string, reason: string, token = a.station.supervisorToken) =>
    hub.request(ExtendRescuePeriodDocument, { input: { caseId, until, reason } }, token);
  const later = (iso: string, days: number) => new Date(Date.parse(iso) + days * DAY).toISOString();

  it('lets a supervisor of the station extend it to a later time with a reason, and keeps every extension', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    const first = await extend(c.id, later(c.rescuePeriodEndsAt, 5), '等待家属来接');
    expect(first.errors).toBeUndefined();
    const second = await extend(c.id, later(c.rescuePeriodEndsAt, 9), ' 家属延误 ');
    expect(second.data!.extendRescuePeriod.rescuePeriodEndsAt).toBe(later(c.rescuePeriodEndsAt, 9));
    expect(second.data!.extendRescuePeriod.rescuePeriodExtensions).toMatchObject([
      { previousEnd: c.rescuePeriodEndsAt, newEnd: later(c.rescuePeriodEndsAt, 5), reason: '等待家属来接' },
      { previousEnd: later(c.rescuePeriodEndsAt, 5), newEnd: later(c.rescuePeriodEndsAt, 9), reason: '家属延误' },
    ]);
  });

  it('accepts an end given with a +08:00 offset', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    const until = new Date(Date.parse(c.rescuePeriodEndsAt) + 2 * DAY);
    const cst = new Date(until.getTime() + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
    const res = await extend(c.id, cst, '病情观察');
    expect(res.data?.extendRescuePeriod.rescuePeriodEndsAt).toBe(until.toISOString());
  });

  it('is FORBIDDEN to staff, and NOT_FOUND to a supervisor of another station', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    expect(codeOf(await extend(c.id, later(c.rescuePeriodEndsAt, 5), '理由', a.station.token))).toBe('FORBIDDEN');
    expect(codeOf(await extend(c.id, later(c.rescuePeriodEndsAt, 5), '理由', a.otherStation.supervisorToken))).toBe('NOT_FOUND');
    expect(codeOf(await extend(c.id, later(c.rescuePeriodEndsAt, 5), '理由', a.police.supervisorToken))).toBe('FORBIDDEN');
  });

  it('refuses an end that is not later than the current one (BAD_USER_INPUT on input.until)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    for (const until of [c.rescuePeriodEndsAt, later(c.rescuePeriodEndsAt, -1)]) {
      expect(errorOf(await extend(c.id, until, '理由'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.until' });
    }
  });

  it('refuses an empty reason (BAD_USER_INPUT on input.reason)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    for (const reason of ['', '   ']) {
      expect(errorOf(await extend(c.id, later(c.rescuePeriodEndsAt, 5), reason))).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.reason',
      });
    }
    const { rescueCase } = await hub.ok(RescueCaseDocument, { id: c.id }, a.station.token);
    expect(rescueCase).toMatchObject({ rescuePeriodEndsAt: c.rescuePeriodEndsAt, rescuePeriodExtensions: [] });
  });

  it('refuses to extend a closed case (INVALID_TRANSITION)', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await hub.ok(CloseCaseDocument, { input: { caseId: c.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    expect(errorOf(await extend(c.id, later(c.rescuePeriodEndsAt, 5), '理由'))).toMatchObject({
      code: 'INVALID_TRANSITION',
      status: 'CLOSED',
    });
  });
});

describe('overdue', () => {
  const endInThePast = (caseId: string) =>
    hub.hub.db.query(`UPDATE rescue_case SET rescue_period_ends_at = now() - interval '1 hour' WHERE id = $1`, [uuidOf(caseId)]);
  const overdueIds = async (overdue: boolean) =>
    (await hub.ok(CasesDocument, { filter: { overdue }, first: 100 }, a.station.token)).cases.edges.map((e) => e.node.id);

  it('is true for an open case past its rescue period, and cases(filter: {overdue: true}) lists it', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    const fresh = await openCaseFor(hub, a.station.token, adult());
    await endInThePast(c.id);
    expect((await hub.ok(RescueCaseDocument, { id: c.id }, a.station.token)).rescueCase!.overdue).toBe(true);
    expect(await overdueIds(true)).toContain(c.id);
    expect(await overdueIds(true)).not.toContain(fresh.id);
    expect(await overdueIds(false)).toContain(fresh.id);
    expect(await overdueIds(false)).not.toContain(c.id);
  });

  it('is false for a closed case, however late', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await endInThePast(c.id);
    const { closeCase } = await hub.ok(CloseCaseDocument, { input: { caseId: c.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    expect(closeCase.overdue).toBe(false);
    expect(await overdueIds(true)).not.toContain(c.id);
  });

  it('ends when a supervisor extends the period past now', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await endInThePast(c.id);
    const until = new Date(Date.now() + 3 * DAY).toISOString();
    const res = await hub.request(
      ExtendRescuePeriodDocument,
      { input: { caseId: c.id, until, reason: '待精神评估' } },
      a.station.supervisorToken,
    );
    expect(res.data?.extendRescuePeriod.overdue).toBe(false);
  });
});

describe('the audit log of a case', () => {
  it('records case.open and case.close by the station, under the person', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await hub.ok(CloseCaseDocument, { input: { caseId: c.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    const rows: { action: string; agency_id: string; account_id: string | null; subject_type: string }[] = await hub.hub.db.query(
      `SELECT action, agency_id, account_id, subject_type FROM audit_log
        WHERE subject_id = $1 AND action IN ('case.open', 'case.close') ORDER BY id`,
      [uuidOf(c.person.id)],
    );
    expect(rows.map((r) => r.action)).toEqual(['case.open', 'case.close']);
    for (const r of rows)
      expect(r).toMatchObject({ agency_id: uuidOf(a.station.id), subject_type: 'Person', account_id: expect.any(String) });
  });

  it('records nothing for a refused close', async () => {
    const c = await openCaseFor(hub, a.station.token, adult());
    await close({ caseId: c.id, outcome: 'RETURNED_FUNDED' });
    const rows = await hub.hub.db.query(`SELECT 1 FROM audit_log WHERE subject_id = $1 AND action = 'case.close'`, [uuidOf(c.person.id)]);
    expect(rows).toHaveLength(0);
  });
});
