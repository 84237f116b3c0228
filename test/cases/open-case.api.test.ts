import { CloseCaseDocument, OpenCaseDocument, type OpenCaseMutationVariables } from '../generated/graphql';
import { createHash } from 'node:crypto';
import { errorOf, idNumber, openCaseFor, uuidOf } from '../persons/people';
import { anAgency, theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

type OpenCaseInput = OpenCaseMutationVariables['input'];
const open = (input: OpenCaseInput, token = a.station.token) => hub.request(OpenCaseDocument, { input }, token);
const year = () => new Date(Date.now() + 8 * 3_600_000).getUTCFullYear(); // China's calendar year
const DAY = 86_400_000;

const count = async (sql: string, params: unknown[] = []) => ((await hub.hub.db.query(sql, params)) as { n: number }[])[0].n;

describe('openCase', () => {
  it('opens a case for a new person, numbered <shortCode>-<year>-<6 digits>', async () => {
    const c = await openCaseFor(hub, a.station.token, { name: '张建国' });
    expect(c).toMatchObject({
      status: 'OPEN',
      outcome: null,
      closedAt: null,
      intakeChannel: 'SELF_PRESENTED',
      station: { id: a.station.id },
      broughtBy: null,
      person: { name: '张建国', currentCase: { id: c.id }, cases: [{ id: c.id, status: 'OPEN' }] },
    });
    expect(c.caseNumber).toMatch(new RegExp(`^HY-${year()}-\\d{6}$`));
  });

  it('keeps the intake channel and the note', async () => {
    const { openCase } = await hub.ok(
      OpenCaseDocument,
      { input: { intakeChannel: 'STREET_OUTREACH', note: ' 桥洞下发现 ', person: { gender: 'MALE' } } },
      a.station.token,
    );
    expect(openCase).toMatchObject({ intakeChannel: 'STREET_OUTREACH', note: '桥洞下发现' });
  });

  it('opens a new case for a person already registered, once the earlier case is closed', async () => {
    const first = await openCaseFor(hub, a.station.token, { name: '李四' });
    await hub.ok(CloseCaseDocument, { input: { caseId: first.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    const res = await open({ personId: first.person.id, intakeChannel: 'PUBLIC_REPORT' });
    expect(res.errors).toBeUndefined();
    const second = res.data!.openCase;
    expect(second.person.id).toBe(first.person.id);
    expect(second.caseNumber).not.toBe(first.caseNumber);
    expect(second.person.cases.map((c) => c.id)).toEqual([second.id, first.id]); // newest first
    expect(await count(`SELECT count(*)::int AS n FROM person WHERE name = '李四'`)).toBe(1);
  });

  it('needs exactly one of personId and person (BAD_USER_INPUT on input.personId)', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    expect(errorOf(await open({ intakeChannel: 'SELF_PRESENTED' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.personId' });
    expect(errorOf(await open({ intakeChannel: 'SELF_PRESENTED', personId: c.person.id, person: { gender: 'MALE' } }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.personId',
    });
  });

  it('refuses a personId that names no person (BAD_USER_INPUT on input.personId)', async () => {
    const nobody = Buffer.from('Person:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(errorOf(await open({ intakeChannel: 'SELF_PRESENTED', personId: nobody }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.personId',
    });
    expect(errorOf(await open({ intakeChannel: 'SELF_PRESENTED', personId: a.station.id }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.personId',
    });
  });

  it('is for rescue stations only: FORBIDDEN to every other agency and to the administrator', async () => {
    const input: OpenCaseInput = { intakeChannel: 'SELF_PRESENTED', person: { gender: 'MALE', name: '不该建立' } };
    for (const token of [a.police.token, a.hospital.token, a.welfareHome.token, a.originOffice.token, hub.adminToken]) {
      expect(codeOf(await open(input, token))).toBe('FORBIDDEN');
    }
    expect(codeOf(await hub.request(OpenCaseDocument, { input }))).toBe('UNAUTHENTICATED');
    expect(await count(`SELECT count(*)::int AS n FROM person WHERE name = '不该建立'`)).toBe(0);
  });
});

describe('at most one open case per person', () => {
  it('refuses a second open case, at the same station or another (CONFLICT)', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    const again = await open({ intakeChannel: 'SELF_PRESENTED', personId: c.person.id });
    expect(errorOf(again)).toMatchObject({ code: 'CONFLICT', field: 'input.personId' });
    const elsewhere = await open({ intakeChannel: 'SELF_PRESENTED', personId: c.person.id }, a.otherStation.token);
    expect(errorOf(elsewhere)).toMatchObject({ code: 'CONFLICT' });
  });

  it('lets exactly one of 10 parallel openCase calls for one person succeed', async () => {
    const first = await openCaseFor(hub, a.station.token, {});
    await hub.ok(CloseCaseDocument, { input: { caseId: first.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        open({ intakeChannel: 'SELF_PRESENTED', personId: first.person.id }, i % 2 ? a.station.token : a.otherStation.token),
      ),
    );
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(results.filter((r) => r.errors).map(codeOf)).toEqual(Array(9).fill('CONFLICT'));
    const personId = uuidOf(first.person.id);
    expect(await count(`SELECT count(*)::int AS n FROM rescue_case WHERE person_id = $1 AND status = 'OPEN'`, [personId])).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM custody_record WHERE person_id = $1 AND to_at IS NULL`, [personId])).toBe(1);
  });

  it('is a fact of the database: a second open row for the person is refused by a unique index', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    await expect(
      hub.hub.db.query(
        `INSERT INTO rescue_case (case_number, person_id, station_id, intake_channel, opened_at, rescue_period_ends_at, age_group, status)
         VALUES ('HY-X-1', $1, $2, 'SELF_PRESENTED', now(), now(), 'UNKNOWN', 'OPEN')`,
        [uuidOf(c.person.id), uuidOf(a.otherStation.id)],
      ),
    ).rejects.toMatchObject({ driverError: { code: '23505', constraint: 'rescue_case_one_open_per_person' } });
  });
});

describe('case numbers', () => {
  it('never repeats a number when 20 cases are opened at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => open({ intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN' } })),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const numbers = results.map((r) => r.data!.openCase.caseNumber);
    expect(new Set(numbers).size).toBe(20);
    for (const n of numbers) expect(n).toMatch(new RegExp(`^HY-${year()}-\\d{6}$`));
    const seq = numbers.map((n) => Number(n.slice(-6))).sort((x, y) => x - y);
    expect(seq[19] - seq[0]).toBe(19); // consecutive: none lost, none shared
  });

  it('counts per station: each station numbers its own cases from 000001', async () => {
    const fresh = await anAgency(hub, 'RESCUE_STATION', '长沙市救助管理站', '430102', 'CS');
    const one = await openCaseFor(hub, fresh.token, {});
    const two = await openCaseFor(hub, fresh.token, {});
    expect([one.caseNumber, two.caseNumber]).toEqual([`CS-${year()}-000001`, `CS-${year()}-000002`]);
  });

  it('is unique per station in the database', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    const other = await openCaseFor(hub, a.station.token, {});
    await expect(
      hub.hub.db.query(`UPDATE rescue_case SET case_number = $2 WHERE id = $1`, [uuidOf(other.id), c.caseNumber]),
    ).rejects.toMatchObject({ driverError: { code: '23505' } });
  });
});

describe('the rescue period', () => {
  it('ends 10 days after the opening by default', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    expect(Date.parse(c.rescuePeriodEndsAt) - Date.parse(c.openedAt)).toBe(10 * DAY);
    expect(c.overdue).toBe(false);
  });

  it('ends after HUB_RESCUE_PERIOD_DAYS days when configured', async () => {
    const other = await startTestHub({ HUB_RESCUE_PERIOD_DAYS: '3' });
    try {
      const station = await anAgency(other, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY');
      const c = await openCaseFor(other, station.token, {});
      expect(Date.parse(c.rescuePeriodEndsAt) - Date.parse(c.openedAt)).toBe(3 * DAY);
    } finally {
      await other.stop();
    }
  });
});

describe('idempotencyKey', () => {
  const totals = async () => ({
    cases: await count(`SELECT count(*)::int AS n FROM rescue_case`),
    persons: await count(`SELECT count(*)::int AS n FROM person`),
    custody: await count(`SELECT count(*)::int AS n FROM custody_record`),
    audit: await count(`SELECT count(*)::int AS n FROM audit_log WHERE action IN ('case.open', 'person.create')`),
  });

  it('returns the same case for a repeated call and creates nothing', async () => {
    const input: OpenCaseInput = {
      intakeChannel: 'SELF_PRESENTED',
      idempotencyKey: 'intake-0001',
      person: { gender: 'MALE', name: '重试' },
    };
    const first = await open(input);
    expect(first.errors).toBeUndefined();
    const before = await totals();
    const again = await open(input);
    expect(again.errors).toBeUndefined();
    expect(again.data!.openCase).toMatchObject({ id: first.data!.openCase.id, caseNumber: first.data!.openCase.caseNumber });
    expect(again.data!.openCase.person.id).toBe(first.data!.openCase.person.id);
    expect(await totals()).toEqual(before);
  });

  it('refuses the same key with different input (CONFLICT on input.idempotencyKey) and creates nothing', async () => {
    await hub.ok(
      OpenCaseDocument,
      { input: { intakeChannel: 'SELF_PRESENTED', idempotencyKey: 'intake-0002', person: { gender: 'MALE' } } },
      a.station.token,
    );
    const before = await totals();
    const res = await open({ intakeChannel: 'SELF_PRESENTED', idempotencyKey: 'intake-0002', person: { gender: 'FEMALE' } });
    expect(errorOf(res)).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    expect(await totals()).toEqual(before);
  });

  it('makes 5 parallel calls with one key into one case', async () => {
    const before = await totals();
    const input: OpenCaseInput = {
      intakeChannel: 'SELF_PRESENTED',
      idempotencyKey: 'intake-0003',
      person: { gender: 'FEMALE', name: '并发' },
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => open(input)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect(new Set(results.map((r) => r.data!.openCase.id)).size).toBe(1);
    const after = await totals();
    expect(after.cases - before.cases).toBe(1);
    expect(after.persons - before.persons).toBe(1);
  });

  it('scopes keys to the agency: another station’s identical key is its own request', async () => {
    const input: OpenCaseInput = { intakeChannel: 'SELF_PRESENTED', idempotencyKey: 'intake-0004', person: { gender: 'UNKNOWN' } };
    const mine = await hub.ok(OpenCaseDocument, { input }, a.station.token);
    const theirs = await hub.ok(OpenCaseDocument, { input }, a.otherStation.token);
    expect(theirs.openCase.id).not.toBe(mine.openCase.id);
    expect(theirs.openCase.station.id).toBe(a.otherStation.id);
  });

  it('keeps no trace of an ID number from which it could be recovered: the request fingerprint is keyed', async () => {
    const number = idNumber('430521', '19800315');
    const person = {
      gender: 'MALE' as const,
      name: '指纹',
      birthYear: 1980,
      idNumber: number,
      originRegionCode: '430521',
      vulnerabilities: [],
      description: '灰色上衣',
    };
    await hub.ok(OpenCaseDocument, { input: { intakeChannel: 'SELF_PRESENTED', idempotencyKey: 'intake-0006', person } }, a.station.token);
    const [{ request_hash }]: { request_hash: Buffer }[] = await hub.hub.db.query(
      `SELECT request_hash FROM idempotency_key WHERE key = 'intake-0006'`,
    );
    // Everything else about the intake is in the database in plain text; the month, day and sequence of a
    // number are a few hundred thousand guesses. An unkeyed hash of the input would confirm the right one.
    const canonical = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(canonical).join(',')}]`
        : v && typeof v === 'object'
          ? `{${Object.entries(v)
              .filter(([, x]) => x !== undefined)
              .sort(([x], [y]) => (x < y ? -1 : 1))
              .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
              .join(',')}}`
          : JSON.stringify(v ?? null);
    const guess = createHash('sha256')
      .update(canonical({ intakeChannel: 'SELF_PRESENTED', person }))
      .digest();
    expect(request_hash.equals(guess)).toBe(false);
    expect(request_hash.toString('latin1')).not.toContain(number);
  });

  it('refuses a key longer than 100 characters (BAD_USER_INPUT on input.idempotencyKey)', async () => {
    const res = await open({ intakeChannel: 'SELF_PRESENTED', idempotencyKey: 'k'.repeat(101), person: { gender: 'UNKNOWN' } });
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idempotencyKey' });
  });
});
