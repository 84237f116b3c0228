import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { checkCharacter } from '../../src/persons/identity-number';
import { StationReportDocument, type StationReportQuery } from '../generated/graphql';
import { statementsDuring } from '../audit/sql-spy';
import { anAgency, theSeedAgencies, type TestAgency } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

/**
 * The first seed's work report (DOMAIN.md §7), rebuilt through the API: 1724
 * cases at one station whose people, closings and hand-offs reproduce its
 * figures, then read back as the hub's stationReport.
 */
const SEED = {
  total: 1724,
  outOfProvince: 436,
  inProvince: 1288,
  male: 1321,
  female: 403,
  adult: 1194,
  elderly: 281,
  minor: 238,
  physicallyDisabled: 89,
  mentallyIll: 107,
  dementia: 39,
  escorted: 225,
  funded: 1198,
  collected: 42,
};
/** The seed's ages cover 1713 of 1724 (1194 + 281 + 238): the hub counts the other 11 as UNKNOWN (no birth year). */
const AGE_UNKNOWN = SEED.total - SEED.adult - SEED.elderly - SEED.minor;

type Age = 'MINOR' | 'ADULT' | 'ELDERLY' | 'UNKNOWN';
type Vulnerability = 'PHYSICAL_DISABILITY' | 'MENTAL_ILLNESS' | 'DEMENTIA_OR_INTELLECTUAL_DISABILITY';
type Outcome = 'RETURNED_ESCORTED' | 'RETURNED_FUNDED' | 'RETURNED_FAMILY_PICKUP' | 'LEFT_VOLUNTARILY' | 'DECEASED' | 'OPEN';
const CHANNELS = ['POLICE_ESCORT', 'SELF_PRESENTED', 'STREET_OUTREACH', 'PUBLIC_REPORT', 'AGENCY_TRANSFER'] as const;

interface Spec {
  age: Age;
  vulnerability?: Vulnerability;
  outcome: Outcome;
  gender: 'MALE' | 'FEMALE';
  origin: string;
  channel: (typeof CHANNELS)[number];
}

/**
 * Who may leave alone decides the plan (工作规程): minors and the three
 * vulnerabilities are escorted home, collected, or still here; everyone sent
 * off with a ticket or leaving on their own is an adult or elderly person
 * without them, or of unknown age. The escorted go to 邵阳 (the origin office's prefecture).
 */
function plan(): Spec[] {
  const groups: [number, Age, Vulnerability | undefined, Outcome][] = [
    [120, 'MINOR', undefined, 'RETURNED_ESCORTED'],
    [20, 'MINOR', undefined, 'RETURNED_FAMILY_PICKUP'],
    [95, 'MINOR', undefined, 'OPEN'],
    [3, 'MINOR', undefined, 'DECEASED'],
    [50, 'ADULT', 'PHYSICAL_DISABILITY', 'RETURNED_ESCORTED'],
    [10, 'ADULT', 'PHYSICAL_DISABILITY', 'RETURNED_FAMILY_PICKUP'],
    [29, 'ELDERLY', 'PHYSICAL_DISABILITY', 'OPEN'],
    [55, 'ADULT', 'MENTAL_ILLNESS', 'RETURNED_ESCORTED'],
    [12, 'ELDERLY', 'MENTAL_ILLNESS', 'RETURNED_FAMILY_PICKUP'],
    [40, 'ADULT', 'MENTAL_ILLNESS', 'OPEN'],
    [33, 'ELDERLY', 'DEMENTIA_OR_INTELLECTUAL_DISABILITY', 'OPEN'],
    [6, 'ELDERLY', 'DEMENTIA_OR_INTELLECTUAL_DISABILITY', 'DECEASED'],
    [3, 'ADULT', undefined, 'OPEN'],
    [40, 'ADULT', undefined, 'LEFT_VOLUNTARILY'],
    [10, 'ELDERLY', undefined, 'LEFT_VOLUNTARILY'],
    [996, 'ADULT', undefined, 'RETURNED_FUNDED'],
    [191, 'ELDERLY', undefined, 'RETURNED_FUNDED'],
    [AGE_UNKNOWN, 'UNKNOWN', undefined, 'RETURNED_FUNDED'],
  ];
  const OUT = ['440103', '360102', '450102', '420102', '520102'];
  const IN = ['430406', '430521', '430102', '430302'];
  let outOfProvince = 0;
  let females = 0;
  return groups
    .flatMap(([n, age, vulnerability, outcome]) => Array.from({ length: n }, () => ({ age, vulnerability, outcome })))
    .map((s, i) => {
      // Returns go to the origin office of 邵阳 (4305); the seed's 436 from other provinces are among those sent home with a ticket.
      let origin: string;
      if (s.outcome === 'RETURNED_ESCORTED') origin = '430521';
      else if (s.outcome === 'RETURNED_FUNDED' && outOfProvince < SEED.outOfProvince) origin = OUT[outOfProvince++ % OUT.length];
      else origin = IN[i % IN.length];
      const gender = i % 4 === 0 && females < SEED.female ? (females++, 'FEMALE' as const) : ('MALE' as const);
      return { ...s, origin, gender, channel: CHANNELS[i % CHANNELS.length] };
    });
}

const year = new Date().getUTCFullYear();
const BIRTH_YEAR: Record<Age, number | null> = { MINOR: year - 10, ADULT: year - 35, ELDERLY: year - 70, UNKNOWN: null };
const COLLECTOR_ID = (() => {
  const first17 = '43052119750101123';
  return first17 + checkCharacter(first17);
})();

let hub: TestHub;
beforeAll(async () => {
  // Hundreds of aliased mutations per document: the query limits are raised for this file only.
  hub = await startTestHub({
    HUB_MAX_ALIASES: '1000',
    HUB_MAX_COST: '10000000',
    HUB_MAX_TOKENS: '1000000',
    HUB_MAX_BODY_BYTES: '10000000',
  });
});
afterAll(() => hub.stop());

/**
 * Runs `field(input: ...)` once per input, `size` aliases to a document and
 * `parallel` documents at a time; returns the results in input order.
 */
async function batch<T>(
  token: string,
  field: string,
  inputType: string,
  selection: string,
  inputs: unknown[],
  { size = 100, parallel = 4 } = {},
): Promise<T[]> {
  const chunks: unknown[][] = [];
  for (let i = 0; i < inputs.length; i += size) chunks.push(inputs.slice(i, i + size));
  const results: T[][] = new Array(chunks.length);
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const n = next++;
      const chunk = chunks[n];
      const vars = chunk.map((_, k) => `$i${k}: ${inputType}!`).join(', ');
      const fields = chunk.map((_, k) => `a${k}: ${field}(input: $i${k}) ${selection}`).join('\n');
      const doc = parse(`mutation Batch(${vars}) {\n${fields}\n}`) as TypedDocumentNode<Record<string, T>, Record<string, unknown>>;
      const variables = Object.fromEntries(chunk.map((input, k) => [`i${k}`, input]));
      const res = await hub.request(doc, variables, token);
      if (res.errors?.length) throw new Error(`${field} batch ${n}: ${JSON.stringify(res.errors.slice(0, 3))}`);
      results[n] = chunk.map((_, k) => res.data![`a${k}`]);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results.flat();
}

const countsOf = (list: { key: string; count: number }[]) => Object.fromEntries(list.map((e) => [e.key, e.count]));
const sum = (list: { count: number }[]) => list.reduce((a, e) => a + e.count, 0);
const tally = <K extends string>(specs: Spec[], keys: readonly K[], of: (s: Spec) => K | undefined) =>
  Object.fromEntries(keys.map((k) => [k, specs.filter((s) => of(s) === k).length]));

describe('stationReport', () => {
  let a: Awaited<ReturnType<typeof theSeedAgencies>>;
  let specs: Spec[];
  let from: string;
  let report: StationReportQuery['stationReport'];

  beforeAll(async () => {
    a = await theSeedAgencies(hub);
    specs = plan();
    from = new Date(Date.now() - 60_000).toISOString();

    const open = <T>(list: Spec[], selection: string) =>
      batch<T>(
        a.station.token,
        'openCase',
        'OpenCaseInput',
        selection,
        list.map((s) => ({
          intakeChannel: s.channel,
          person: {
            gender: s.gender,
            birthYear: BIRTH_YEAR[s.age],
            originRegionCode: s.origin,
            vulnerabilities: s.vulnerability ? [s.vulnerability] : [],
          },
        })),
      );
    const close = (cases: { id: string }[], o: Outcome, extra: object = {}) =>
      batch(
        a.station.token,
        'closeCase',
        'CloseCaseInput',
        '{ id }',
        cases.map((c) => ({ caseId: c.id, outcome: o, ...extra })),
      );
    const escortHome = async (persons: string[]) => {
      const requested = await batch<{ id: string }>(
        a.station.token,
        'requestReferral',
        'RequestReferralInput',
        '{ id }',
        persons.map((personId) => ({ personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id })),
      );
      const ids = requested.map((r) => r.id);
      // 邵阳 commits first, then station staff take them home, then 邵阳 confirms each arrival.
      await batch(
        a.originOffice.token,
        'acceptReferral',
        'ReferralActionInput',
        '{ id }',
        ids.map((referralId) => ({ referralId })),
      );
      await batch(
        a.station.token,
        'dispatchReferral',
        'DispatchReferralInput',
        '{ id }',
        ids.map((referralId) => ({ referralId, escortNames: ['站员刘'] })),
      );
      await batch(
        a.originOffice.token,
        'confirmReceipt',
        'ReferralActionInput',
        '{ id }',
        ids.map((referralId) => ({ referralId })),
      );
    };
    // ~3900 mutations: about 30 s on an idle 2-core machine; the timeout leaves room for a busy one.
    // The escorted first, so that their hand-offs run while the others are registered and closed.
    const escorted = specs.filter((s) => s.outcome === 'RETURNED_ESCORTED');
    const others = specs.filter((s) => s.outcome !== 'RETURNED_ESCORTED');
    const escortedCases = await open<{ person: { id: string } }>(escorted, '{ person { id } }');
    await Promise.all([
      escortHome(escortedCases.map((c) => c.person.id)),
      (async () => {
        const cases = await open<{ id: string }>(others, '{ id }');
        const where = (o: Outcome) => cases.filter((_, i) => others[i].outcome === o);
        await Promise.all([
          close(where('RETURNED_FUNDED'), 'RETURNED_FUNDED', { travelVoucher: { destination: '原籍', ticketNumber: 'G1234' } }),
          close(where('RETURNED_FAMILY_PICKUP'), 'RETURNED_FAMILY_PICKUP', {
            collector: { name: '王某', relationship: '父亲', idNumber: COLLECTOR_ID },
          }),
          close(where('LEFT_VOLUNTARILY'), 'LEFT_VOLUNTARILY'),
          close(where('DECEASED'), 'DECEASED'),
        ]);
      })(),
    ]);
    // Another station's case in the same period is not this station's figure.
    await batch(a.otherStation.token, 'openCase', 'OpenCaseInput', '{ id }', [
      { intakeChannel: 'SELF_PRESENTED', person: { gender: 'MALE', birthYear: year - 40, originRegionCode: '440103' } },
    ]);

    report = (
      await hub.ok(
        StationReportDocument,
        { stationId: a.station.id, from, to: new Date(Date.now() + 60_000).toISOString() },
        a.station.token,
      )
    ).stationReport;
  }, 240_000);

  it('plans a station whose people are the seed’s (the plan itself is checked first)', () => {
    expect(specs).toHaveLength(SEED.total);
    expect(specs.filter((s) => s.origin.slice(0, 2) !== '43')).toHaveLength(SEED.outOfProvince);
    expect(tally(specs, ['MALE', 'FEMALE'], (s) => s.gender)).toEqual({ MALE: SEED.male, FEMALE: SEED.female });
    expect(tally(specs, ['ADULT', 'ELDERLY', 'MINOR', 'UNKNOWN'], (s) => s.age)).toEqual({
      ADULT: SEED.adult,
      ELDERLY: SEED.elderly,
      MINOR: SEED.minor,
      UNKNOWN: AGE_UNKNOWN,
    });
    expect(AGE_UNKNOWN).toBe(11);
    expect(tally(specs, ['PHYSICAL_DISABILITY', 'MENTAL_ILLNESS', 'DEMENTIA_OR_INTELLECTUAL_DISABILITY'], (s) => s.vulnerability)).toEqual({
      PHYSICAL_DISABILITY: SEED.physicallyDisabled,
      MENTAL_ILLNESS: SEED.mentallyIll,
      DEMENTIA_OR_INTELLECTUAL_DISABILITY: SEED.dementia,
    });
    // Nobody who may not leave alone is planned to: the hub would refuse it (and does, test/referrals/seed-case).
    const alone = specs.filter((s) => s.outcome === 'RETURNED_FUNDED' || s.outcome === 'LEFT_VOLUNTARILY');
    expect(alone.filter((s) => s.vulnerability || s.age === 'MINOR')).toEqual([]);
  });

  it('reproduces every figure of the first seed', () => {
    expect(report.station.id).toBe(a.station.id);
    expect(report).toMatchObject({ total: SEED.total, outOfProvince: SEED.outOfProvince, inProvince: SEED.inProvince, originUnknown: 0 });
    expect(report.byGender).toEqual([
      { key: 'MALE', count: SEED.male },
      { key: 'FEMALE', count: SEED.female },
      { key: 'UNKNOWN', count: 0 },
    ]);
    expect(report.byAgeGroup).toEqual([
      { key: 'MINOR', count: SEED.minor },
      { key: 'ADULT', count: SEED.adult },
      { key: 'ELDERLY', count: SEED.elderly },
      { key: 'UNKNOWN', count: AGE_UNKNOWN },
    ]);
    expect(report.byVulnerability).toEqual([
      { key: 'PHYSICAL_DISABILITY', count: SEED.physicallyDisabled },
      { key: 'MENTAL_ILLNESS', count: SEED.mentallyIll },
      { key: 'DEMENTIA_OR_INTELLECTUAL_DISABILITY', count: SEED.dementia },
      { key: 'SENSORY_OR_SPEECH_DISABILITY', count: 0 },
      { key: 'SERIOUS_ILLNESS_OR_INJURY', count: 0 },
    ]);
    const outcomes = countsOf(report.byOutcome);
    expect(outcomes).toMatchObject({
      RETURNED_ESCORTED: SEED.escorted,
      RETURNED_FUNDED: SEED.funded,
      RETURNED_FAMILY_PICKUP: SEED.collected,
      PLACED_IN_WELFARE_HOME: 0,
    });
    expect(report.byOutcome.map((e) => e.key)).toEqual([
      'RETURNED_ESCORTED',
      'RETURNED_FUNDED',
      'RETURNED_FAMILY_PICKUP',
      'LEFT_VOLUNTARILY',
      'PLACED_IN_WELFARE_HOME',
      'DECEASED',
      'OPEN',
    ]);
    // The rest of the seed's 1724 − 1465 returns, as planned: still here, left on their own, died.
    expect(outcomes).toEqual(
      tally(
        specs,
        [
          'RETURNED_ESCORTED',
          'RETURNED_FUNDED',
          'RETURNED_FAMILY_PICKUP',
          'LEFT_VOLUNTARILY',
          'PLACED_IN_WELFARE_HOME',
          'DECEASED',
          'OPEN',
        ] as const,
        (s) => s.outcome as Outcome,
      ),
    );
    expect(report.byIntakeChannel).toEqual(CHANNELS.map((key) => ({ key, count: specs.filter((s) => s.channel === key).length })));
  });

  it('adds up: origins and every breakdown but the overlapping vulnerabilities sum to total', () => {
    expect(report.outOfProvince + report.inProvince + report.originUnknown).toBe(report.total);
    for (const breakdown of [report.byGender, report.byAgeGroup, report.byIntakeChannel, report.byOutcome]) {
      expect(sum(breakdown)).toBe(report.total);
    }
  });

  it('lists every key with 0 for a period without cases', async () => {
    const empty = (
      await hub.ok(StationReportDocument, { stationId: a.station.id, from: '2020-01-01T00:00:00+08:00', to: from }, a.station.token)
    ).stationReport;
    expect(empty).toMatchObject({ total: 0, outOfProvince: 0, inProvince: 0, originUnknown: 0 });
    for (const [breakdown, keys] of [
      [empty.byGender, 3],
      [empty.byAgeGroup, 4],
      [empty.byVulnerability, 5],
      [empty.byIntakeChannel, 5],
      [empty.byOutcome, 7],
    ] as const) {
      expect(breakdown).toHaveLength(keys);
      expect(breakdown.every((e) => e.count === 0)).toBe(true);
    }
  });

  it('is computed by one aggregate statement, not by loading cases', async () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const statements = await statementsDuring(() => hub.ok(StationReportDocument, { stationId: a.station.id, from, to }, a.station.token));
    const overCases = statements.filter((s) => /\bFROM rescue_case\b/.test(s));
    expect(overCases).toHaveLength(1);
    expect(overCases[0]).toMatch(/count\(\*\) FILTER/);
  });

  it("is read by the station's staff of any role and by the administrator, and is FORBIDDEN to anyone else", async () => {
    const vars = { stationId: a.station.id, from, to: new Date(Date.now() + 60_000).toISOString() };
    expect((await hub.ok(StationReportDocument, vars, a.station.supervisorToken)).stationReport.total).toBe(SEED.total);
    expect((await hub.ok(StationReportDocument, vars, hub.adminToken)).stationReport.total).toBe(SEED.total);
    for (const other of [a.otherStation, a.police, a.hospital, a.welfareHome, a.originOffice] as TestAgency[]) {
      expect(codeOf(await hub.request(StationReportDocument, vars, other.token))).toBe('FORBIDDEN');
      expect(codeOf(await hub.request(StationReportDocument, vars, other.supervisorToken))).toBe('FORBIDDEN');
    }
    expect(codeOf(await hub.request(StationReportDocument, vars))).toBe('UNAUTHENTICATED');
  });

  it('refuses an empty or reversed period on the field to', async () => {
    for (const to of [from, new Date(Date.parse(from) - 1000).toISOString()]) {
      const res = await hub.request(StationReportDocument, { stationId: a.station.id, from, to }, a.station.token);
      expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
    }
  });

  it('is kept by rescue stations only', async () => {
    const police = await anAgency(hub, 'POLICE_STATION', '雁峰派出所', '430406');
    const vars = { stationId: police.id, from, to: new Date(Date.now() + 60_000).toISOString() };
    expect((await hub.request(StationReportDocument, vars, hub.adminToken)).errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'stationId',
    });
  });
});
