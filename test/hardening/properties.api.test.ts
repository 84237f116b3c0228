/**
 * Property-based tests of every input of the contract, through the public
 * GraphQL API (fast-check against a running hub): a valid input is accepted
 * and reads back as sent — normalised only where documented (trimmed text,
 * empty optional text as null, a lower-case x in an ID number as X, ICD-10
 * codes in capitals); an invalid one is BAD_USER_INPUT naming its field
 * (extensions.field) and changes nothing; nothing else ever happens.
 *
 * PROPERTY_RUNS (default 30) runs per property; PROPERTY_SEED replays the
 * seed fast-check prints with a failure.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { anAgency, theSeedAgencies, type TestAgency } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import {
  blank,
  dateTime,
  expectedOptional,
  invalidBirthYear,
  invalidIcd10,
  invalidIdempotencyKey,
  invalidIdNumber,
  invalidRegion,
  invalidShortCode,
  notADateTime,
  requiredTextUpTo,
  textLongerThan,
  textUpTo,
  unstorable,
  validBirthYear,
  validIcd10,
  validIdempotencyKey,
  validIdNumber,
  validRegion,
  validShortCode,
  type IdFacts,
} from './properties-arbitraries';

const RUNS = Number(process.env.PROPERTY_RUNS || 30);
const SETTINGS: fc.Parameters<unknown> = {
  numRuns: RUNS,
  ...(process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {}),
};
/** Properties whose every run builds a referral up to RECEIVED (six requests) run half as often. */
const HEAVY: fc.Parameters<unknown> = { ...SETTINGS, numRuns: Math.max(5, Math.ceil(RUNS / 2)) };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field below
type Data = any;
interface Answer {
  status: number;
  data?: Data;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

async function gql(query: string, variables: Record<string, unknown>, token?: string): Promise<Answer> {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as Omit<Answer, 'status'>) };
}

/** The data of an answer without errors; anything else fails the property with the answer shown. */
function ok(res: Answer): Data {
  if (res.errors?.length || res.status !== 200) throw new Error(`expected success, got HTTP ${res.status}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** BAD_USER_INPUT naming exactly `field`, and nothing else. */
function refusedOn(res: Answer, field: string): void {
  const errors = res.errors ?? [];
  if (errors.length !== 1 || errors[0].extensions?.code !== 'BAD_USER_INPUT' || errors[0].extensions?.field !== field) {
    throw new Error(`expected BAD_USER_INPUT on ${field}, got HTTP ${res.status}: ${JSON.stringify(res.errors ?? res.data)}`);
  }
}

const globalId = (type: string, uuid: string) => Buffer.from(`${type}:${uuid}`).toString('base64url');
const uuidOf = (id: string) => Buffer.from(id, 'base64url').toString().split(':')[1];
/** Strings that are no id of the hub's at all. */
const junkId = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', '1', randomUUID(), globalId('Person', 'x'), '😀'));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(fc.constant(undefined), fc.constant(null), arb);
const sortedSet = (xs: string[] | null | undefined) => [...new Set(xs ?? [])].sort();

const GENDERS = ['MALE', 'FEMALE', 'UNKNOWN'] as const;
const VULNERABILITIES = [
  'PHYSICAL_DISABILITY',
  'MENTAL_ILLNESS',
  'DEMENTIA_OR_INTELLECTUAL_DISABILITY',
  'SENSORY_OR_SPEECH_DISABILITY',
  'SERIOUS_ILLNESS_OR_INJURY',
];
const opposite = (g: 'MALE' | 'FEMALE') => (g === 'MALE' ? 'FEMALE' : 'MALE');

/** Every ID number registered so far: a second person with one is CONFLICT, not what these properties are about. */
const usedIdNumbers = new Set<string>();
const fresh = (id: IdFacts) => !usedIdNumbers.has(id.normalized);

const PERSON_FIELDS = 'id name gender birthYear idNumber identityStatus originRegionCode vulnerabilities description';
const OPEN_CASE = `mutation($i: OpenCaseInput!) { openCase(input: $i) { id note status person { ${PERSON_FIELDS} } } }`;
const READ_PERSON = `query($id: ID!) { person(id: $id) { ${PERSON_FIELDS} } }`;
const LOG_ESCORTED = `mutation($i: LogEscortedPersonInput!) { logEscortedPerson(input: $i) { id person { id } } }`;
const REQUEST = `mutation($i: RequestReferralInput!) { requestReferral(input: $i) { id status reason } }`;
const REFERRAL_FIELDS = `id kind status foundAt circumstances reason rejectionReason escortNames escortAgency { id }
  history { type note } diagnosis { icd10Code summary } bed { ward bed }`;
const READ_REFERRAL = `query($id: ID!) { referral(id: $id) { ${REFERRAL_FIELDS} } }`;

/** A new adult (may leave alone) with an open case at the station, in the station's custody. */
async function openAdultCase(token = a.station.token): Promise<{ caseId: string; personId: string }> {
  const { openCase } = ok(
    await gql(OPEN_CASE, { i: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'MALE', birthYear: 1980 } } }, token),
  );
  return { caseId: openCase.id, personId: openCase.person.id };
}

/** An evaluation the station asked the hospital for; dispatched and received when asked. */
async function evaluation(until: 'REQUESTED' | 'RECEIVED'): Promise<string> {
  const { personId } = await openAdultCase();
  const { requestReferral } = ok(
    await gql(REQUEST, { i: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } }, a.station.token),
  );
  if (until === 'RECEIVED') {
    ok(
      await gql(
        `mutation($i: DispatchReferralInput!) { dispatchReferral(input: $i) { id } }`,
        { i: { referralId: requestReferral.id, escortNames: ['站员刘'] } },
        a.station.token,
      ),
    );
    ok(
      await gql(
        `mutation($i: ReferralActionInput!) { confirmReceipt(input: $i) { id } }`,
        { i: { referralId: requestReferral.id } },
        a.hospital.token,
      ),
    );
  }
  return requestReferral.id;
}

/** The same idempotency key again: the first result for the same input, CONFLICT for another. */
function idempotencyExpectation(seen: Map<string, { input: string; id: string }>, key: string | null | undefined, input: unknown) {
  if (key == null) return { kind: 'new' as const };
  const before = seen.get(key);
  if (!before) return { kind: 'new' as const };
  return before.input === JSON.stringify(input) ? { kind: 'same' as const, id: before.id } : { kind: 'conflict' as const };
}

/** Invalid escort lists: empty, eleven names, or one name (at index i) blank, too long or unstorable. */
const invalidEscortNames = fc.oneof(
  fc.constant({ names: [] as string[], field: 'input.escortNames' }),
  fc.array(requiredTextUpTo(50), { minLength: 11, maxLength: 14 }).map((names) => ({ names, field: 'input.escortNames' })),
  fc
    .tuple(
      fc.array(requiredTextUpTo(50), { maxLength: 9 }),
      fc.oneof(blank, textLongerThan(50), unstorable),
      fc.array(requiredTextUpTo(50), { maxLength: 3 }),
    )
    .filter(([before, , after]) => before.length + 1 + after.length <= 10)
    .map(([before, bad, after]) => ({ names: [...before, bad, ...after], field: `input.escortNames.${before.length}` })),
);

describe('PersonInput (openCase, logEscortedPerson)', () => {
  const personWithoutId = fc.record(
    {
      name: maybe(textUpTo(50)),
      gender: fc.constantFrom(...GENDERS),
      birthYear: maybe(validBirthYear),
      originRegionCode: maybe(validRegion),
      vulnerabilities: maybe(fc.array(fc.constantFrom(...VULNERABILITIES), { maxLength: 7 })),
      description: maybe(textUpTo(2000)),
    },
    { requiredKeys: ['gender'] },
  );
  const personWithId = validIdNumber.chain((id) =>
    fc.record({
      id: fc.constant(id),
      person: fc.record(
        {
          name: maybe(textUpTo(50)),
          idNumber: fc.constant(id.raw),
          gender: fc.constantFrom('UNKNOWN', id.gender),
          birthYear: fc.constantFrom(undefined, null, id.birthYear),
          originRegionCode: fc.constantFrom(undefined, null, id.region),
          vulnerabilities: maybe(fc.array(fc.constantFrom(...VULNERABILITIES), { maxLength: 3 })),
          description: maybe(textUpTo(2000)),
        },
        { requiredKeys: ['gender', 'idNumber'] },
      ),
    }),
  );

  it('accepts a valid person and reads it back as sent (trimmed text, X in capitals, number-derived facts)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          personWithoutId.map((person) => ({ person, id: undefined as IdFacts | undefined })),
          personWithId,
        ),
        async ({ person, id }) => {
          fc.pre(!id || fresh(id));
          const { openCase } = ok(await gql(OPEN_CASE, { i: { intakeChannel: 'SELF_PRESENTED', person } }, a.station.token));
          if (id) usedIdNumbers.add(id.normalized);
          const expected = {
            name: expectedOptional(person.name),
            gender: id ? id.gender : person.gender,
            birthYear: id ? id.birthYear : (person.birthYear ?? null),
            idNumber: id ? id.normalized : null,
            originRegionCode: id ? id.region : (person.originRegionCode ?? null),
            description: expectedOptional(person.description),
          };
          // What was stored, read again (not the mutation's echo); the station has the case, so it sees the number whole.
          const stored = ok(await gql(READ_PERSON, { id: openCase.person.id }, a.station.token)).person;
          expect(stored).toMatchObject(expected);
          expect(stored.vulnerabilities).toEqual(sortedSet(person.vulnerabilities));
          expect(openCase.person).toEqual(stored);
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid person on the broken field, from the station or the police, and registers nobody', async () => {
    const broken = fc.oneof(
      fc.oneof(textLongerThan(50), unstorable).map((name) => ({ person: { gender: 'MALE', name }, field: 'name' })),
      fc.oneof(textLongerThan(2000), unstorable).map((description) => ({ person: { gender: 'MALE', description }, field: 'description' })),
      invalidBirthYear.map((birthYear) => ({ person: { gender: 'UNKNOWN', birthYear }, field: 'birthYear' })),
      invalidRegion.map((originRegionCode) => ({ person: { gender: 'UNKNOWN', originRegionCode }, field: 'originRegionCode' })),
      invalidIdNumber.map((idNumber) => ({ person: { gender: 'UNKNOWN', idNumber }, field: 'idNumber' })),
      validIdNumber.map((id) => ({ person: { gender: opposite(id.gender), idNumber: id.raw }, field: 'gender' })),
      fc
        .tuple(validIdNumber, validBirthYear)
        .filter(([id, y]) => y !== id.birthYear)
        .map(([id, birthYear]) => ({ person: { gender: 'UNKNOWN', idNumber: id.raw, birthYear }, field: 'birthYear' })),
      fc
        .tuple(validIdNumber, validRegion)
        .filter(([id, r]) => r !== id.region)
        .map(([id, originRegionCode]) => ({
          person: { gender: 'UNKNOWN', idNumber: id.raw, originRegionCode },
          field: 'originRegionCode',
        })),
    );
    const count = async () => ((await hub.hub.db.query('SELECT count(*)::int AS n FROM person')) as { n: number }[])[0].n;
    await fc.assert(
      fc.asyncProperty(broken, fc.boolean(), async ({ person, field }, byPolice) => {
        const before = await count();
        const res = byPolice
          ? await gql(LOG_ESCORTED, { i: { person, stationId: a.station.id, foundAt: '路口', escortNames: ['李警官'] } }, a.police.token)
          : await gql(OPEN_CASE, { i: { intakeChannel: 'SELF_PRESENTED', person } }, a.station.token);
        refusedOn(res, `input.person.${field}`);
        expect(await count()).toBe(before);
      }),
      SETTINGS,
    );
  });
});

describe('CreateAgencyInput, region codes, IssueAccessTokenInput', () => {
  const AGENCY = 'id kind name regionCode shortCode';
  const CREATE = `mutation($i: CreateAgencyInput!) { createAgency(input: $i) { ${AGENCY} } }`;
  const KINDS = ['RESCUE_STATION', 'POLICE_STATION', 'PSYCHIATRIC_HOSPITAL', 'WELFARE_HOME', 'CIVIL_AFFAIRS_OFFICE'] as const;

  it('creates a valid agency as sent, and finds it by its county, prefecture and province code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...KINDS),
        requiredTextUpTo(100),
        validRegion,
        maybe(validShortCode),
        async (kind, name, regionCode, shortCode) => {
          const input = { kind, name, regionCode, ...(shortCode !== undefined ? { shortCode } : {}) };
          const { createAgency } = ok(await gql(CREATE, { i: input }, hub.adminToken));
          const expected = { kind, name: name.trim(), regionCode, shortCode: shortCode ?? `S${regionCode}` };
          expect(createAgency).toMatchObject(expected);
          const read = ok(
            await gql(`query($id: ID!) { node(id: $id) { ... on Agency { ${AGENCY} } } }`, { id: createAgency.id }, hub.adminToken),
          );
          expect(read.node).toEqual({ id: createAgency.id, ...expected });
          // GB/T 2260's hierarchy (documented for agencies(regionCode)): xx0000 is a province, xxxx00 a prefecture, else a county.
          const scope = (code: string) => (code.endsWith('0000') ? code.slice(0, 2) : code.endsWith('00') ? code.slice(0, 4) : code);
          for (const code of [regionCode, `${regionCode.slice(0, 4)}00`, `${regionCode.slice(0, 2)}0000`]) {
            const prefix = scope(code);
            const { agencies } = ok(
              await gql(`query($r: String) { agencies(regionCode: $r) { id regionCode } }`, { r: code }, a.station.token),
            );
            expect(agencies.map((x: { id: string }) => x.id)).toContain(createAgency.id);
            expect(agencies.every((x: { regionCode: string }) => x.regionCode.startsWith(prefix))).toBe(true);
          }
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid agency on the broken field, and an invalid region code when listing agencies', async () => {
    const broken = fc.oneof(
      fc.oneof(blank, textLongerThan(100), unstorable).map((name) => ({ input: { name }, field: 'input.name' })),
      invalidRegion.map((regionCode) => ({ input: { regionCode }, field: 'input.regionCode' })),
      invalidShortCode.map((shortCode) => ({ input: { shortCode }, field: 'input.shortCode' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, fc.constantFrom(...KINDS), invalidRegion, async ({ input, field }, kind, badRegion) => {
        refusedOn(await gql(CREATE, { i: { kind, name: '某机构', regionCode: '430406', ...input } }, hub.adminToken), field);
        refusedOn(await gql(`query($r: String) { agencies(regionCode: $r) { id } }`, { r: badRegion }, a.station.token), 'regionCode');
      }),
      SETTINGS,
    );
  });

  const ISSUE = `mutation($i: IssueAccessTokenInput!) { issueAccessToken(input: $i) { token account { id displayName role } } }`;

  it('issues a working token to a valid account, whose viewer reads back as sent', async () => {
    await fc.assert(
      fc.asyncProperty(requiredTextUpTo(100), maybe(fc.constantFrom('STAFF', 'SUPERVISOR')), async (displayName, role) => {
        const { issueAccessToken } = ok(await gql(ISSUE, { i: { agencyId: a.welfareHome.id, displayName, role } }, hub.adminToken));
        const { viewer } = ok(
          await gql('{ viewer { isAdmin account { id displayName role agency { id } } } }', {}, issueAccessToken.token),
        );
        expect(viewer).toEqual({
          isAdmin: false,
          account: {
            id: issueAccessToken.account.id,
            displayName: displayName.trim(),
            role: role ?? 'STAFF',
            agency: { id: a.welfareHome.id },
          },
        });
      }),
      SETTINGS,
    );
  });

  it('refuses an invalid account on the broken field', async () => {
    const broken = fc.oneof(
      fc.oneof(blank, textLongerThan(100), unstorable).map((displayName) => ({ input: { displayName }, field: 'input.displayName' })),
      junkId.map((agencyId) => ({ input: { agencyId }, field: 'input.agencyId' })),
      fc.constantFrom('Person', 'Agency').map((t) => ({ input: { agencyId: globalId(t, randomUUID()) }, field: 'input.agencyId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(ISSUE, { i: { agencyId: a.welfareHome.id, displayName: '某人', ...input } }, hub.adminToken), field);
      }),
      SETTINGS,
    );
  });
});

describe('OpenCaseInput and idempotency keys', () => {
  const seen = new Map<string, { input: string; id: string }>();

  it('opens a case with its note as sent; the same key again gives the same case, with other input CONFLICT', async () => {
    await fc.assert(
      fc.asyncProperty(
        maybe(textUpTo(2000)),
        maybe(fc.oneof(validIdempotencyKey, fc.constantFrom('k1', 'k2'))),
        fc.constantFrom('SELF_PRESENTED', 'STREET_OUTREACH', 'PUBLIC_REPORT'),
        async (note, idempotencyKey, intakeChannel) => {
          const input = { intakeChannel, note, idempotencyKey, person: { gender: 'UNKNOWN' } };
          const expected = idempotencyExpectation(seen, idempotencyKey, { ...input, idempotencyKey: undefined });
          const res = await gql(OPEN_CASE, { i: input }, a.station.token);
          if (expected.kind === 'conflict') {
            expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
            return;
          }
          const { openCase } = ok(res);
          if (expected.kind === 'same') expect(openCase.id).toBe(expected.id);
          if (idempotencyKey != null) {
            seen.set(idempotencyKey, { input: JSON.stringify({ ...input, idempotencyKey: undefined }), id: openCase.id });
            // A retry, as after a lost answer: the first case, nothing new.
            expect(ok(await gql(OPEN_CASE, { i: input }, a.station.token)).openCase.id).toBe(openCase.id);
          }
          const read = ok(
            await gql(`query($id: ID!) { rescueCase(id: $id) { note status intakeChannel } }`, { id: openCase.id }, a.station.token),
          );
          expect(read.rescueCase).toEqual({ note: expectedOptional(note), status: 'OPEN', intakeChannel });
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid case opening on the broken field', async () => {
    const broken = fc.oneof(
      fc.oneof(textLongerThan(2000), unstorable).map((note) => ({ input: { note }, field: 'input.note' })),
      invalidIdempotencyKey.map((idempotencyKey) => ({ input: { idempotencyKey }, field: 'input.idempotencyKey' })),
      fc.constant({ input: { person: null }, field: 'input.personId' }),
      fc.constant({ input: { personId: globalId('Person', randomUUID()) }, field: 'input.personId' }),
      junkId.map((personId) => ({ input: { person: null, personId }, field: 'input.personId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(
          await gql(OPEN_CASE, { i: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN' }, ...input } }, a.station.token),
          field,
        );
      }),
      SETTINGS,
    );
  });
});

describe('CloseCaseInput (CollectorInput, TravelVoucherInput)', () => {
  const CLOSE = `mutation($i: CloseCaseInput!) { closeCase(input: $i) { id status outcome closedAt } }`;
  const closing = fc.oneof(
    fc.record({ outcome: fc.constantFrom('LEFT_VOLUNTARILY', 'DECEASED') }),
    fc.record({
      outcome: fc.constant('RETURNED_FUNDED'),
      travelVoucher: fc.record(
        { destination: requiredTextUpTo(200), ticketNumber: maybe(textUpTo(50)) },
        { requiredKeys: ['destination'] },
      ),
    }),
    fc.record({
      outcome: fc.constant('RETURNED_FAMILY_PICKUP'),
      collector: fc.record({ name: requiredTextUpTo(50), relationship: requiredTextUpTo(50), idNumber: validIdNumber.map((id) => id.raw) }),
    }),
  );

  it('closes a case with what was sent kept as sent (the collector ID number encrypted, never in plain text)', async () => {
    await fc.assert(
      fc.asyncProperty(closing, maybe(textUpTo(2000)), async (details, note) => {
        const { caseId } = await openAdultCase();
        const { closeCase } = ok(await gql(CLOSE, { i: { caseId, note, ...details } }, a.station.token));
        expect(closeCase).toMatchObject({ id: caseId, status: 'CLOSED', outcome: details.outcome });
        const [row] = (await hub.hub.db.query('SELECT status, outcome, closing FROM rescue_case WHERE id = $1', [uuidOf(caseId)])) as {
          closing: Record<string, string | null>;
        }[];
        const expected: Record<string, string | null> = { note: expectedOptional(note) };
        if ('travelVoucher' in details) {
          expected.destination = details.travelVoucher.destination.trim();
          expected.ticketNumber = expectedOptional(details.travelVoucher.ticketNumber);
        }
        if ('collector' in details) {
          expected.collectorName = details.collector.name.trim();
          expected.collectorRelationship = details.collector.relationship.trim();
          expect(row.closing.collectorIdNumber).toEqual(expect.any(String));
          expect(JSON.stringify(row.closing)).not.toContain(details.collector.idNumber.slice(0, 17));
        }
        expect(row.closing).toMatchObject(expected);
      }),
      SETTINGS,
    );
  });

  it('refuses an invalid closing on the broken field and leaves the case open', async () => {
    const { caseId } = await openAdultCase();
    const collector = { name: '王父', relationship: '父子', idNumber: '11010519491231002X' };
    const broken = fc.oneof(
      fc.constant({ input: { outcome: 'RETURNED_FAMILY_PICKUP' }, field: 'input.collector' }),
      fc.constant({ input: { outcome: 'RETURNED_FUNDED' }, field: 'input.travelVoucher' }),
      fc.tuple(fc.constantFrom('name', 'relationship'), fc.oneof(blank, textLongerThan(50), unstorable)).map(([k, v]) => ({
        input: { outcome: 'RETURNED_FAMILY_PICKUP', collector: { ...collector, [k]: v } },
        field: `input.collector.${k}`,
      })),
      invalidIdNumber.map((idNumber) => ({
        input: { outcome: 'RETURNED_FAMILY_PICKUP', collector: { ...collector, idNumber } },
        field: 'input.collector.idNumber',
      })),
      fc.oneof(blank, textLongerThan(200), unstorable).map((destination) => ({
        input: { outcome: 'RETURNED_FUNDED', travelVoucher: { destination } },
        field: 'input.travelVoucher.destination',
      })),
      fc.oneof(textLongerThan(50), unstorable).map((ticketNumber) => ({
        input: { outcome: 'RETURNED_FUNDED', travelVoucher: { destination: '邵阳', ticketNumber } },
        field: 'input.travelVoucher.ticketNumber',
      })),
      fc.oneof(textLongerThan(2000), unstorable).map((note) => ({ input: { outcome: 'LEFT_VOLUNTARILY', note }, field: 'input.note' })),
      junkId.map((id) => ({ input: { outcome: 'LEFT_VOLUNTARILY', caseId: id }, field: 'input.caseId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(CLOSE, { i: { caseId, ...input } }, a.station.token), field);
      }),
      SETTINGS,
    );
    expect(ok(await gql(`query($id: ID!) { rescueCase(id: $id) { status } }`, { id: caseId }, a.station.token)).rescueCase.status).toBe(
      'OPEN',
    );
  });
});

describe('DateTime (ExtendRescuePeriodInput.until, stationReport from/to)', () => {
  const EXTEND = `mutation($i: ExtendRescuePeriodInput!) { extendRescuePeriod(input: $i) { rescuePeriodEndsAt rescuePeriodExtensions { newEnd reason } } }`;
  const pad = (n: number, w: number) => String(Math.abs(n)).padStart(w, '0');

  /** The instant in the notations agencies use: any offset, minutes only, seconds, milliseconds, more digits. */
  const written = (instant: number, offsetMin: number, precision: 'm' | 's' | 'ms' | 'us') => {
    const local = new Date(instant + offsetMin * 60_000).toISOString();
    const body = { m: local.slice(0, 16), s: local.slice(0, 19), ms: local.slice(0, 23), us: `${local.slice(0, 23)}417` }[precision];
    const offset = offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${pad(Math.trunc(offsetMin / 60), 2)}:${pad(offsetMin % 60, 2)}`;
    return body + offset;
  };
  const roundTo = (ms: number, precision: 'm' | 's' | 'ms' | 'us') =>
    precision === 'm' ? ms - (ms % 60_000) : precision === 's' ? ms - (ms % 1000) : ms;

  it('extends a rescue period to any later instant in any notation, and reads it back as that instant', async () => {
    const { caseId } = await openAdultCase();
    let end = Date.parse(
      ok(await gql(`query($id: ID!) { rescueCase(id: $id) { rescuePeriodEndsAt } }`, { id: caseId }, a.station.token)).rescueCase
        .rescuePeriodEndsAt,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -3 * 86_400_000, max: 400 * 86_400_000 }),
        fc.constantFrom(0, 480, -300, 330, 345, 840, -720),
        fc.constantFrom('m' as const, 's' as const, 'ms' as const, 'us' as const),
        requiredTextUpTo(2000),
        async (delta, offsetMin, precision, reason) => {
          const instant = roundTo(end + delta, precision);
          const res = await gql(
            EXTEND,
            { i: { caseId, until: written(instant, offsetMin, precision), reason } },
            a.station.supervisorToken,
          );
          if (instant <= end) return refusedOn(res, 'input.until');
          const { extendRescuePeriod } = ok(res);
          expect(extendRescuePeriod.rescuePeriodEndsAt).toBe(new Date(instant).toISOString());
          expect(extendRescuePeriod.rescuePeriodExtensions.at(-1)).toEqual({
            newEnd: new Date(instant).toISOString(),
            reason: reason.trim(),
          });
          end = instant;
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid extension on the broken field (no DateTime, an impossible one, no reason, no case)', async () => {
    const { caseId } = await openAdultCase();
    const later = '2099-01-01T00:00:00+08:00';
    const broken = fc.oneof(
      fc
        .oneof(
          notADateTime,
          dateTime.filter((d) => d.instant === null).map((d) => d.text),
        )
        .map((until) => ({ input: { until }, field: 'input.until' })),
      fc.oneof(blank, textLongerThan(2000), unstorable).map((reason) => ({ input: { reason }, field: 'input.reason' })),
      junkId.map((id) => ({ input: { caseId: id }, field: 'input.caseId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(EXTEND, { i: { caseId, until: later, reason: '病情观察', ...input } }, a.station.supervisorToken), field);
      }),
      SETTINGS,
    );
  });

  it('reads a station report for any period given in valid DateTimes, and refuses invalid ones or from >= to on their field', async () => {
    const REPORT = `query($s: ID!, $f: DateTime!, $t: DateTime!) { stationReport(stationId: $s, from: $f, to: $t) { from to total } }`;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: dateTime }, { weight: 1, arbitrary: notADateTime.map((text) => ({ text, instant: null })) }),
        fc.oneof({ weight: 4, arbitrary: dateTime }, { weight: 1, arbitrary: notADateTime.map((text) => ({ text, instant: null })) }),
        async (from, to) => {
          const res = await gql(REPORT, { s: a.station.id, f: from.text, t: to.text }, a.station.token);
          const invalid = [from.instant === null ? 'from' : null, to.instant === null ? 'to' : null].filter(Boolean);
          if (invalid.length) {
            expect((res.errors ?? []).map((e) => [e.extensions?.code, e.extensions?.field])).toEqual(
              invalid.map((f) => ['BAD_USER_INPUT', f]),
            );
            return;
          }
          if (from.instant! >= to.instant!) return refusedOn(res, 'to');
          const { stationReport } = ok(res);
          expect([stationReport.from, stationReport.to]).toEqual([
            new Date(from.instant!).toISOString(),
            new Date(to.instant!).toISOString(),
          ]);
        },
      ),
      SETTINGS,
    );
  });
});

describe('VerifyIdentityInput', () => {
  const VERIFY = `mutation($i: VerifyIdentityInput!) { verifyIdentity(input: $i) { ${PERSON_FIELDS} } }`;

  it('verifies within the documented tolerance (gender, birth year ±5, same prefecture) and reads back the number whole, X in capitals', async () => {
    const recorded = validIdNumber.chain((id) =>
      fc.record({
        id: fc.constant(id),
        name: requiredTextUpTo(50),
        gender: fc.constantFrom('UNKNOWN', id.gender, opposite(id.gender)),
        birthYear: fc.option(
          fc.integer({ min: -8, max: 8 }).map((d) => Math.min(Math.max(id.birthYear + d, 1900), new Date().getUTCFullYear() - 1)),
          { nil: undefined },
        ),
        originRegionCode: fc.option(
          fc.oneof(
            fc.constant(id.region),
            fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: 2, maxLength: 2 }).map((c) => id.region.slice(0, 4) + c),
            validRegion,
          ),
          { nil: undefined },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(recorded, async ({ id, name, gender, birthYear, originRegionCode }) => {
        fc.pre(fresh(id));
        const person = { gender, birthYear, originRegionCode };
        const { logEscortedPerson } = ok(
          await gql(LOG_ESCORTED, { i: { person, stationId: a.station.id, foundAt: '路口', escortNames: ['李警官'] } }, a.police.token),
        );
        const personId = logEscortedPerson.person.id;
        const res = await gql(VERIFY, { i: { personId, name, idNumber: id.raw } }, a.police.token);
        const contradicts =
          (gender !== 'UNKNOWN' && gender !== id.gender) ||
          (birthYear !== undefined && Math.abs(birthYear - id.birthYear) > 5) ||
          (originRegionCode !== undefined && originRegionCode.slice(0, 4) !== id.region.slice(0, 4));
        if (contradicts) return refusedOn(res, 'input.idNumber');
        ok(res);
        usedIdNumbers.add(id.normalized);
        expect(ok(await gql(READ_PERSON, { id: personId }, a.police.token)).person).toMatchObject({
          name: name.trim(),
          idNumber: id.normalized,
          gender: id.gender,
          birthYear: id.birthYear,
          originRegionCode: id.region,
          identityStatus: 'VERIFIED',
        });
      }),
      SETTINGS,
    );
  });

  it('refuses an invalid verification on the broken field', async () => {
    const { logEscortedPerson } = ok(
      await gql(
        LOG_ESCORTED,
        { i: { person: { gender: 'UNKNOWN' }, stationId: a.station.id, foundAt: '路口', escortNames: ['李警官'] } },
        a.police.token,
      ),
    );
    const personId = logEscortedPerson.person.id;
    const broken = fc.oneof(
      fc.oneof(blank, textLongerThan(50), unstorable).map((name) => ({ input: { name }, field: 'input.name' })),
      invalidIdNumber.map((idNumber) => ({ input: { idNumber }, field: 'input.idNumber' })),
      junkId.map((id) => ({ input: { personId: id }, field: 'input.personId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(VERIFY, { i: { personId, name: '王某', idNumber: '11010519491231002X', ...input } }, a.police.token), field);
      }),
      SETTINGS,
    );
    expect(ok(await gql(READ_PERSON, { id: personId }, a.police.token)).person).toMatchObject({
      identityStatus: 'UNKNOWN',
      idNumber: null,
    });
  });
});

describe('LogEscortedPersonInput', () => {
  const seen = new Map<string, { input: string; id: string }>();

  it('logs an escort as sent (trimmed texts and names); the same key gives the same referral', async () => {
    await fc.assert(
      fc.asyncProperty(
        requiredTextUpTo(500),
        maybe(textUpTo(2000)),
        fc.array(requiredTextUpTo(50), { minLength: 1, maxLength: 10 }),
        maybe(fc.oneof(validIdempotencyKey, fc.constantFrom('k1', 'k2'))),
        async (foundAt, circumstances, escortNames, idempotencyKey) => {
          const input = { person: { gender: 'UNKNOWN' }, stationId: a.station.id, foundAt, circumstances, escortNames, idempotencyKey };
          const expected = idempotencyExpectation(seen, idempotencyKey, { ...input, idempotencyKey: undefined });
          const res = await gql(LOG_ESCORTED, { i: input }, a.police.token);
          if (expected.kind === 'conflict') {
            expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
            return;
          }
          const { logEscortedPerson } = ok(res);
          if (expected.kind === 'same') expect(logEscortedPerson.id).toBe(expected.id);
          if (idempotencyKey != null)
            seen.set(idempotencyKey, { input: JSON.stringify({ ...input, idempotencyKey: undefined }), id: logEscortedPerson.id });
          expect(ok(await gql(READ_REFERRAL, { id: logEscortedPerson.id }, a.police.token)).referral).toMatchObject({
            kind: 'ESCORT_TO_STATION',
            foundAt: foundAt.trim(),
            circumstances: expectedOptional(circumstances),
            escortNames: escortNames.map((n) => n.trim()),
            escortAgency: { id: a.police.id },
          });
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid escort on the broken field', async () => {
    const broken = fc.oneof(
      invalidEscortNames.map(({ names, field }) => ({ input: { escortNames: names }, field })),
      fc.oneof(blank, textLongerThan(500), unstorable).map((foundAt) => ({ input: { foundAt }, field: 'input.foundAt' })),
      fc.oneof(textLongerThan(2000), unstorable).map((circumstances) => ({ input: { circumstances }, field: 'input.circumstances' })),
      fc.constantFrom(a.hospital.id, a.police.id).map((stationId) => ({ input: { stationId }, field: 'input.stationId' })),
      junkId.map((stationId) => ({ input: { stationId }, field: 'input.stationId' })),
      invalidIdempotencyKey.map((idempotencyKey) => ({ input: { idempotencyKey }, field: 'input.idempotencyKey' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        const i = { person: { gender: 'UNKNOWN' }, stationId: a.station.id, foundAt: '路口', escortNames: ['李警官'], ...input };
        refusedOn(await gql(LOG_ESCORTED, { i }, a.police.token), field);
      }),
      SETTINGS,
    );
  });
});

describe('RequestReferralInput, RejectReferralInput', () => {
  const REJECT = `mutation($i: RejectReferralInput!) { rejectReferral(input: $i) { id status } }`;
  const REASONS = [
    'NO_CAPACITY',
    'NOT_IN_JURISDICTION',
    'NEEDS_PSYCHIATRIC_EVALUATION',
    'NEEDS_MEDICAL_TREATMENT',
    'IDENTITY_NOT_ESTABLISHED',
    'OTHER',
  ];

  it('requests a placement with its reason as sent, and a rejection keeps its reason and note', async () => {
    await fc.assert(
      fc.asyncProperty(maybe(textUpTo(2000)), fc.constantFrom(...REASONS), maybe(textUpTo(2000)), async (reason, rejection, note) => {
        const { personId } = await openAdultCase();
        const { requestReferral } = ok(
          await gql(REQUEST, { i: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id, reason } }, a.station.token),
        );
        expect(requestReferral).toMatchObject({ status: 'REQUESTED', reason: expectedOptional(reason) });
        ok(await gql(REJECT, { i: { referralId: requestReferral.id, reason: rejection, note } }, a.welfareHome.token));
        const { referral } = ok(await gql(READ_REFERRAL, { id: requestReferral.id }, a.station.token));
        expect(referral).toMatchObject({ status: 'REJECTED', reason: expectedOptional(reason), rejectionReason: rejection });
        expect(referral.history.at(-1)).toEqual({ type: 'REJECTED', note: expectedOptional(note) });
      }),
      SETTINGS,
    );
  });

  it('refuses an invalid request or rejection on the broken field', async () => {
    const { personId } = await openAdultCase();
    const referralId = await evaluation('REQUESTED');
    const brokenRequest = fc.oneof(
      fc.oneof(textLongerThan(2000), unstorable).map((reason) => ({ input: { reason }, field: 'input.reason' })),
      fc.constantFrom(a.police.id, a.hospital.id).map((toAgencyId) => ({ input: { toAgencyId }, field: 'input.toAgencyId' })),
      junkId.map((toAgencyId) => ({ input: { toAgencyId }, field: 'input.toAgencyId' })),
      junkId.map((id) => ({ input: { personId: id }, field: 'input.personId' })),
      // A return home needs the person's origin (户籍), which this one has not given.
      fc.constant({ input: { kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id }, field: 'input.personId' }),
      invalidIdempotencyKey.map((idempotencyKey) => ({ input: { idempotencyKey }, field: 'input.idempotencyKey' })),
    );
    const brokenReject = fc.oneof(
      fc.oneof(textLongerThan(2000), unstorable).map((note) => ({ input: { note }, field: 'input.note' })),
      junkId.map((id) => ({ input: { referralId: id }, field: 'input.referralId' })),
    );
    await fc.assert(
      fc.asyncProperty(brokenRequest, brokenReject, async (req, rej) => {
        refusedOn(
          await gql(REQUEST, { i: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id, ...req.input } }, a.station.token),
          req.field,
        );
        refusedOn(await gql(REJECT, { i: { referralId, reason: 'OTHER', ...rej.input } }, a.hospital.token), rej.field);
      }),
      SETTINGS,
    );
  });
});

describe('DispatchReferralInput', () => {
  const DISPATCH = `mutation($i: DispatchReferralInput!) { dispatchReferral(input: $i) { id status escortNames escortAgency { id } } }`;

  it('dispatches with the escorts as sent (trimmed), the escort agency defaulting to the dispatcher', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requiredTextUpTo(50), { minLength: 1, maxLength: 10 }),
        fc.constantFrom('none', 'police', 'station'),
        async (escortNames, escort) => {
          const referralId = await evaluation('REQUESTED');
          const escortAgencyId = escort === 'police' ? a.police.id : escort === 'station' ? a.station.id : undefined;
          ok(await gql(DISPATCH, { i: { referralId, escortNames, escortAgencyId } }, a.station.token));
          expect(ok(await gql(READ_REFERRAL, { id: referralId }, a.station.token)).referral).toMatchObject({
            status: 'IN_TRANSIT',
            escortNames: escortNames.map((n) => n.trim()),
            escortAgency: { id: escortAgencyId ?? a.station.id },
          });
        },
      ),
      SETTINGS,
    );
  });

  it('refuses an invalid dispatch on the broken field and leaves the referral as it was', async () => {
    const referralId = await evaluation('REQUESTED');
    const broken = fc.oneof(
      invalidEscortNames.map(({ names, field }) => ({ input: { escortNames: names }, field })),
      junkId.map((escortAgencyId) => ({ input: { escortAgencyId }, field: 'input.escortAgencyId' })),
      fc.constant(0).map(() => ({ input: { escortAgencyId: globalId('Agency', randomUUID()) }, field: 'input.escortAgencyId' })),
      junkId.map((id) => ({ input: { referralId: id }, field: 'input.referralId' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(DISPATCH, { i: { referralId, escortNames: ['站员刘'], ...input } }, a.station.token), field);
      }),
      SETTINGS,
    );
    expect(ok(await gql(READ_REFERRAL, { id: referralId }, a.station.token)).referral).toMatchObject({
      status: 'REQUESTED',
      escortNames: [],
    });
  });
});

describe('RecordDiagnosisInput, AssignBedInput (ICD-10 codes, ward and bed)', () => {
  const DIAGNOSE = `mutation($i: RecordDiagnosisInput!) { recordDiagnosis(input: $i) { id } }`;
  const BED = `mutation($i: AssignBedInput!) { assignBed(input: $i) { id } }`;

  it('records any well-formed ICD-10 code (in capitals, as documented) and any ward and bed as sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        validIcd10,
        maybe(textUpTo(2000)),
        requiredTextUpTo(50),
        requiredTextUpTo(50),
        async (icd10Code, summary, ward, bed) => {
          const referralId = await evaluation('RECEIVED');
          ok(await gql(DIAGNOSE, { i: { referralId, icd10Code, summary } }, a.hospital.token));
          ok(await gql(BED, { i: { referralId, ward, bed } }, a.hospital.token));
          expect(ok(await gql(READ_REFERRAL, { id: referralId }, a.hospital.token)).referral).toMatchObject({
            diagnosis: { icd10Code: icd10Code.toUpperCase(), summary: expectedOptional(summary) },
            bed: { ward: ward.trim(), bed: bed.trim() },
          });
        },
      ),
      HEAVY,
    );
  });

  it('refuses a malformed code, summary, ward or bed on its field', async () => {
    const referralId = await evaluation('RECEIVED');
    const brokenDiagnosis = fc.oneof(
      invalidIcd10.map((icd10Code) => ({ input: { icd10Code }, field: 'input.icd10Code' })),
      fc.oneof(textLongerThan(2000), unstorable).map((summary) => ({ input: { summary }, field: 'input.summary' })),
      junkId.map((id) => ({ input: { referralId: id }, field: 'input.referralId' })),
    );
    const brokenBed = fc.oneof(
      fc.oneof(blank, textLongerThan(50), unstorable).map((ward) => ({ input: { ward }, field: 'input.ward' })),
      fc.oneof(blank, textLongerThan(50), unstorable).map((bed) => ({ input: { bed }, field: 'input.bed' })),
    );
    await fc.assert(
      fc.asyncProperty(brokenDiagnosis, brokenBed, async (d, b) => {
        refusedOn(await gql(DIAGNOSE, { i: { referralId, icd10Code: 'F20.9', ...d.input } }, a.hospital.token), d.field);
        refusedOn(await gql(BED, { i: { referralId, ward: '二病区', bed: '12', ...b.input } }, a.hospital.token), b.field);
      }),
      SETTINGS,
    );
    expect(ok(await gql(READ_REFERRAL, { id: referralId }, a.hospital.token)).referral).toMatchObject({ diagnosis: null, bed: null });
  });
});

describe('PersonSearchInput (findPersons)', () => {
  const FIND = `query($i: PersonSearchInput!) { findPersons(input: $i) { score matchedOn person { id } } }`;

  it('finds a registered person by the ID number typed with a lower-case x', async () => {
    await fc.assert(
      fc.asyncProperty(
        validIdNumber.filter((id) => id.normalized.endsWith('X')),
        async (id) => {
          fc.pre(fresh(id));
          const { openCase } = ok(
            await gql(
              OPEN_CASE,
              { i: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN', idNumber: id.normalized } } },
              a.station.token,
            ),
          );
          usedIdNumbers.add(id.normalized);
          const { findPersons } = ok(await gql(FIND, { i: { idNumber: id.normalized.replace('X', 'x') } }, a.station.token));
          expect(findPersons[0]).toMatchObject({ score: 1, person: { id: openCase.person.id } });
          expect(findPersons[0].matchedOn).toContain('idNumber');
        },
      ),
      { ...SETTINGS, numRuns: Math.max(3, Math.ceil(RUNS / 3)) },
    );
  });

  it('answers any valid search (at most limit matches, scores in [0, 1], best first), and asks for something to search by', async () => {
    const search = fc.record(
      {
        name: maybe(textUpTo(50)),
        idNumber: maybe(validIdNumber.map((id) => id.raw)),
        gender: maybe(fc.constantFrom(...GENDERS)),
        birthYear: maybe(validBirthYear),
        originRegionCode: maybe(validRegion),
        description: maybe(textUpTo(2000)),
        limit: maybe(fc.integer({ min: 1, max: 50 })),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(search, async (input) => {
        const res = await gql(FIND, { i: input }, a.station.token);
        const searchable =
          expectedOptional(input.name) !== null || input.idNumber != null || input.birthYear != null || input.originRegionCode != null;
        if (!searchable) return refusedOn(res, 'input');
        const { findPersons } = ok(res);
        expect(findPersons.length).toBeLessThanOrEqual(input.limit ?? 10);
        const scores = findPersons.map((m: { score: number }) => m.score);
        expect(scores.every((s: number) => s >= 0 && s <= 1)).toBe(true);
        expect(scores).toEqual([...scores].sort((x, y) => y - x));
      }),
      SETTINGS,
    );
  });

  it('refuses an invalid search on the broken field', async () => {
    const broken = fc.oneof(
      fc.oneof(textLongerThan(50), unstorable).map((name) => ({ input: { name }, field: 'input.name' })),
      invalidBirthYear.map((birthYear) => ({ input: { birthYear }, field: 'input.birthYear' })),
      invalidRegion.map((originRegionCode) => ({ input: { originRegionCode }, field: 'input.originRegionCode' })),
      fc.oneof(textLongerThan(2000), unstorable).map((description) => ({ input: { description }, field: 'input.description' })),
      invalidIdNumber.map((idNumber) => ({ input: { idNumber }, field: 'input.idNumber' })),
      fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 51 })).map((limit) => ({ input: { limit }, field: 'input.limit' })),
    );
    await fc.assert(
      fc.asyncProperty(broken, async ({ input, field }) => {
        refusedOn(await gql(FIND, { i: { name: '王某', ...input } }, a.station.token), field);
      }),
      SETTINGS,
    );
  });
});

describe('first / after (cases, referrals, auditTrail)', () => {
  let pager: TestAgency;
  let personId: string;
  beforeAll(async () => {
    pager = await anAgency(hub, 'RESCUE_STATION', '分页救助站', '110105', 'PG');
    for (let i = 0; i < 9; i++) {
      personId = (await openAdultCase(pager.token)).personId;
      if (i % 3 === 0) ok(await gql(REQUEST, { i: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id } }, pager.token));
    }
  });
  const PAGE = {
    cases: `query($f: Int, $a: String) { page: cases(first: $f, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
    referrals: `query($f: Int, $a: String) { page: referrals(first: $f, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
    auditTrail: `query($f: Int, $a: String, $p: ID!) { page: auditTrail(personId: $p, first: $f, after: $a) { edges { cursor } pageInfo { hasNextPage endCursor } } }`,
  };
  const connection = fc.constantFrom(...(Object.keys(PAGE) as (keyof typeof PAGE)[]));

  it('takes any first in 1..100 and refuses any other on first', async () => {
    await fc.assert(
      fc.asyncProperty(
        connection,
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -5, max: 130 }),
        async (c, wide, near) => {
          for (const first of [wide, near]) {
            const res = await gql(PAGE[c], { f: first, p: personId }, pager.supervisorToken);
            if (first < 1 || first > 100) refusedOn(res, 'first');
            else expect(ok(res).page.edges.length).toBeLessThanOrEqual(first);
          }
        },
      ),
      SETTINGS,
    );
  });

  it('answers any after with a page or with BAD_USER_INPUT on after, nothing else', async () => {
    const cursorish = fc.oneof(
      fc.string(),
      fc.base64String(),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      fc
        .tuple(
          fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }),
          fc.uuid(),
          fc.constantFrom('+00', '+08', '-05:30', '+15:59', '+16'),
        )
        .map(([d, id, off]) =>
          Buffer.from(JSON.stringify([d.toISOString().replace('T', ' ').replace('Z', off), id])).toString('base64url'),
        ),
      fc.bigInt({ min: 0n, max: 10n ** 19n }).map((n) => Buffer.from(JSON.stringify([String(n)])).toString('base64url')),
    );
    await fc.assert(
      fc.asyncProperty(connection, cursorish, async (c, after) => {
        const res = await gql(PAGE[c], { f: 5, a: after, p: personId }, pager.supervisorToken);
        if (res.errors) refusedOn(res, 'after');
        else expect(ok(res).page.edges.length).toBeLessThanOrEqual(5);
      }),
      SETTINGS,
    );
  });

  it('filters cases and referrals by any CaseFilter / ReferralFilter, and refuses a filter stationId that is no agency id', async () => {
    const CASES = `query($f: CaseFilter) { cases(filter: $f, first: 100) { totalCount edges { node { status overdue station { id } } } } }`;
    const REFERRALS = `query($f: ReferralFilter) { referrals(filter: $f, first: 100) { totalCount edges { node { status kind requestedBy { id } fromAgency { id } toAgency { id } escortAgency { id } } } } }`;
    const STATUSES = ['REQUESTED', 'ACCEPTED', 'IN_TRANSIT', 'RECEIVED', 'REJECTED', 'CANCELLED', 'EXPIRED'];
    const KINDS = ['ESCORT_TO_STATION', 'PSYCHIATRIC_EVALUATION', 'RETURN_TO_ORIGIN', 'WELFARE_PLACEMENT', 'RETURN_TO_STATION'];
    const caseFilter = fc.record(
      {
        stationId: maybe(fc.constantFrom(pager.id, a.station.id)),
        status: maybe(fc.constantFrom('OPEN', 'CLOSED')),
        overdue: maybe(fc.boolean()),
      },
      { requiredKeys: [] },
    );
    const referralFilter = fc.record(
      {
        direction: maybe(fc.constantFrom('INCOMING', 'OUTGOING', 'ANY')),
        status: maybe(fc.array(fc.constantFrom(...STATUSES), { maxLength: 3 })),
        kind: maybe(fc.array(fc.constantFrom(...KINDS), { maxLength: 3 })),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(caseFilter, referralFilter, junkId, async (cf, rf, junk) => {
        const cases = ok(await gql(CASES, { f: cf }, pager.token)).cases;
        expect(cases.totalCount).toBe(cases.edges.length);
        for (const { node } of cases.edges) {
          expect(node.station.id).toBe(pager.id); // a station sees its own cases, whatever it filters
          if (cf.stationId != null) expect(node.station.id).toBe(cf.stationId);
          if (cf.status != null) expect(node.status).toBe(cf.status);
          if (cf.overdue != null) expect(node.overdue).toBe(cf.overdue);
        }
        refusedOn(await gql(CASES, { f: { ...cf, stationId: junk } }, pager.token), 'filter.stationId');
        const referrals = ok(await gql(REFERRALS, { f: rf }, pager.token)).referrals;
        expect(referrals.totalCount).toBe(referrals.edges.length);
        for (const { node } of referrals.edges) {
          if (rf.status?.length) expect(rf.status).toContain(node.status);
          if (rf.kind?.length) expect(rf.kind).toContain(node.kind);
          const parties = [node.requestedBy, node.fromAgency, node.toAgency, node.escortAgency].map((x) => x?.id);
          if (rf.direction === 'INCOMING') expect(node.toAgency.id).toBe(pager.id);
          else if (rf.direction === 'OUTGOING') expect([node.requestedBy.id, node.fromAgency.id]).toContain(pager.id);
          else expect(parties).toContain(pager.id);
        }
      }),
      SETTINGS,
    );
  });

  it('walks every connection page by page, whatever the page size, seeing each item once', async () => {
    await fc.assert(
      fc.asyncProperty(connection, fc.integer({ min: 1, max: 4 }), async (c, size) => {
        // A trail grows with every read of it: each walk gets a person of its own, with a short trail.
        const p = c === 'auditTrail' ? (await openAdultCase(pager.token)).personId : personId;
        const all = ok(await gql(PAGE[c], { f: 100, p }, pager.supervisorToken)).page.edges.map((e: { cursor: string }) => e.cursor);
        expect(all.length).toBeLessThan(100);
        const walked: string[] = [];
        let after: string | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const { page } = ok(await gql(PAGE[c], { f: size, a: after, p }, pager.supervisorToken));
          walked.push(...page.edges.map((e: { cursor: string }) => e.cursor));
          if (!page.pageInfo.hasNextPage) break;
          after = page.pageInfo.endCursor;
        }
        expect(new Set(walked).size).toBe(walked.length);
        // The trail grows as it is read (person.auditTrail.read, newest first): the walk also sees the reading of `all`.
        expect(walked).toEqual(c === 'auditTrail' ? [walked[0], ...all] : all);
      }),
      { ...SETTINGS, numRuns: Math.max(3, Math.ceil(RUNS / 3)) },
    );
  });
});

/** Regression tests for what these properties found, each once and deterministic. */
describe('what the properties found', () => {
  it('counts text limits in characters (code points) everywhere, as varchar(n) does: 50 astral characters are a valid escort name', async () => {
    const astral = (n: number) => '𠀀'.repeat(n);
    const escort = (names: string[], idempotencyKey?: string) =>
      gql(
        LOG_ESCORTED,
        { i: { person: { gender: 'UNKNOWN' }, stationId: a.station.id, foundAt: astral(500), escortNames: names, idempotencyKey } },
        a.police.token,
      );
    const { logEscortedPerson } = ok(await escort([astral(50), '😀'.repeat(50)], astral(100)));
    expect(ok(await gql(READ_REFERRAL, { id: logEscortedPerson.id }, a.police.token)).referral).toMatchObject({
      foundAt: astral(500),
      escortNames: [astral(50), '😀'.repeat(50)],
    });
    refusedOn(await escort([astral(51)]), 'input.escortNames.0');
    refusedOn(await escort(['李警官'], astral(101)), 'input.idempotencyKey');
    const agency = await gql(
      `mutation($i: CreateAgencyInput!) { createAgency(input: $i) { name } }`,
      { i: { kind: 'WELFARE_HOME', name: astral(100), regionCode: '430406' } },
      hub.adminToken,
    );
    expect(ok(agency).createAgency.name).toBe(astral(100));
  });

  it('refuses an empty escortAgencyId or filter stationId instead of reading it as absent', async () => {
    const referralId = await evaluation('REQUESTED');
    refusedOn(
      await gql(
        `mutation($i: DispatchReferralInput!) { dispatchReferral(input: $i) { id } }`,
        { i: { referralId, escortNames: ['站员刘'], escortAgencyId: '' } },
        a.station.token,
      ),
      'input.escortAgencyId',
    );
    expect(ok(await gql(READ_REFERRAL, { id: referralId }, a.station.token)).referral.status).toBe('REQUESTED');
    refusedOn(
      await gql(`query($f: CaseFilter) { cases(filter: $f) { totalCount } }`, { f: { stationId: '' } }, a.station.token),
      'filter.stationId',
    );
  });
});
