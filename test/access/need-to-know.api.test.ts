import { randomUUID } from 'node:crypto';
import { checkCharacter } from '../../src/persons/identity-number';
import {
  AcceptReferralDocument,
  AccessCaseDocument,
  AccessCasesDocument,
  AccessFindPersonsDocument,
  AccessNodeDocument,
  AccessPersonDocument,
  AccessReferralDocument,
  AccessReferralsDocument,
  ConfirmReceiptDocument,
  DispatchReferralDocument,
  LogEscortedPersonDocument,
  RecordDiagnosisDocument,
  RejectReferralDocument,
  RequestReferralDocument,
  type AccessPersonViewFragment,
} from '../generated/graphql';
import { anAgency, theSeedAgencies, type TestAgency } from '../support/builders';
import { startTestHub, type GraphQLResponse, type TestHub } from '../support/hub';

/**
 * Need to know (DOMAIN.md §6) as a matrix: every agency kind × every read
 * path × a person it is party to and one it is not. Whatever an agency is
 * not party to is answered exactly as if it did not exist.
 */

const idNumber = (first17: string) => first17 + checkCharacter(first17);
/** 王某, a man from 邵阳 (430521) born 1978: the seed's man. */
const P_ID = idNumber('43052119780315123');
/** 陈某, a woman from 广州 (440103) born 1990, known only to 广州's police and station. */
const Q_ID = idNumber('44010319900101124');
const masked = (n: string) => `${n.slice(0, 6)}********${n.slice(14)}`;

type Seed = Awaited<ReturnType<typeof theSeedAgencies>>;

/** What each kind sees of a person it is party to (DOMAIN.md §6). */
const KINDS = [
  { kind: 'RESCUE_STATION', agency: 'station', wholeIdNumber: true, diagnoses: true, mayFind: true },
  { kind: 'POLICE_STATION', agency: 'police', wholeIdNumber: true, diagnoses: false, mayFind: true },
  { kind: 'PSYCHIATRIC_HOSPITAL', agency: 'hospital', wholeIdNumber: false, diagnoses: true, mayFind: false },
  { kind: 'WELFARE_HOME', agency: 'welfareHome', wholeIdNumber: false, diagnoses: false, mayFind: false },
  { kind: 'CIVIL_AFFAIRS_OFFICE', agency: 'originOffice', wholeIdNumber: true, diagnoses: false, mayFind: false },
] as const satisfies readonly { kind: string; agency: keyof Seed; wholeIdNumber: boolean; diagnoses: boolean; mayFind: boolean }[];
type KindRow = (typeof KINDS)[number];

const PATHS = [
  'person',
  'node(Person)',
  'node(RescueCase)',
  'node(Referral)',
  'rescueCase',
  'referral',
  'cases',
  'referrals',
  'findPersons',
] as const;
type Path = (typeof PATHS)[number];
type Whose = 'party' | 'stranger';

interface Target {
  personId: string;
  caseId: string;
  /** The psychiatric evaluation for the party person (diagnosis inside), the escort for the stranger. */
  referralId: string;
  idNumber: string;
}

/** What a path answered, reduced to what the rules speak about. */
type Seen =
  | { outcome: 'shown'; person?: AccessPersonViewFragment; diagnosis?: string | null }
  | { outcome: 'null' }
  | { outcome: 'error'; code: unknown; error: unknown }
  | { outcome: 'listed' | 'not listed' }
  | { outcome: 'redacted'; person: AccessPersonViewFragment; matchedOn: string[] };

const failed = (res: GraphQLResponse<unknown>): Seen | null =>
  res.errors?.length ? { outcome: 'error', code: res.errors[0].extensions?.code, error: res.errors[0] } : null;

async function read(path: Path, token: string, t: Target): Promise<Seen> {
  switch (path) {
    case 'person': {
      const res = await hub.request(AccessPersonDocument, { id: t.personId }, token);
      return failed(res) ?? { outcome: 'shown', person: res.data!.person! };
    }
    case 'node(Person)':
    case 'node(RescueCase)':
    case 'node(Referral)': {
      const id = { 'node(Person)': t.personId, 'node(RescueCase)': t.caseId, 'node(Referral)': t.referralId }[path];
      const res = await hub.request(AccessNodeDocument, { id }, token);
      return failed(res) ?? (res.data!.node ? { outcome: 'shown' } : { outcome: 'null' });
    }
    case 'rescueCase': {
      const res = await hub.request(AccessCaseDocument, { id: t.caseId }, token);
      return failed(res) ?? { outcome: 'shown', person: res.data!.rescueCase!.person };
    }
    case 'referral': {
      const res = await hub.request(AccessReferralDocument, { id: t.referralId }, token);
      const r = res.data?.referral;
      return failed(res) ?? { outcome: 'shown', person: r!.person, diagnosis: r!.diagnosis?.icd10Code ?? null };
    }
    case 'cases': {
      const res = await hub.request(AccessCasesDocument, {}, token);
      return failed(res) ?? { outcome: res.data!.cases.edges.some((e) => e.node.id === t.caseId) ? 'listed' : 'not listed' };
    }
    case 'referrals': {
      const res = await hub.request(AccessReferralsDocument, {}, token);
      return failed(res) ?? { outcome: res.data!.referrals.edges.some((e) => e.node.person.id === t.personId) ? 'listed' : 'not listed' };
    }
    case 'findPersons': {
      const res = await hub.request(AccessFindPersonsDocument, { input: { idNumber: t.idNumber } }, token);
      const failure = failed(res);
      if (failure) return failure;
      const match = res.data!.findPersons.find((m) => m.person.id === t.personId)!;
      return match.person.name === null
        ? { outcome: 'redacted', person: match.person, matchedOn: match.matchedOn }
        : { outcome: 'shown', person: match.person };
    }
  }
}

/** The rules: what each path must answer for a kind and a person it is or is not party to. */
function expected(row: KindRow, path: Path, whose: Whose): Seen['outcome'] | 'FORBIDDEN' | 'NOT_FOUND' {
  if (path === 'findPersons' && !row.mayFind) return 'FORBIDDEN';
  if (whose === 'party') return path === 'cases' || path === 'referrals' ? 'listed' : 'shown';
  if (path === 'findPersons') return 'redacted';
  if (path === 'cases' || path === 'referrals') return 'not listed';
  // node(id) answers null for what the caller may not see, exactly as for an id that names nothing.
  if (path.startsWith('node(')) return 'null';
  return 'NOT_FOUND';
}

let hub: TestHub;
let a: Seed;
let party: Target;
let stranger: Target;

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
  const guangzhouPolice = await anAgency(hub, 'POLICE_STATION', '广州市越秀区派出所', '440103');

  // 王某: every kind of agency becomes party to him. The police bring him in ...
  const escort = (
    await hub.ok(
      LogEscortedPersonDocument,
      {
        input: {
          person: { name: '王某', gender: 'MALE', birthYear: 1978, idNumber: P_ID, originRegionCode: '430521', description: '灰色外套' },
          stationId: a.station.id,
          foundAt: '长湖路口',
          escortNames: ['李警官'],
        },
      },
      a.police.token,
    )
  ).logEscortedPerson;
  const personId = escort.person.id;
  const caseId = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: escort.id } }, a.station.token)).confirmReceipt.case!.id;
  // ... the hospital evaluates him and sends him back ...
  const evaluation = (
    await hub.ok(
      RequestReferralDocument,
      { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
      a.station.token,
    )
  ).requestReferral;
  await hub.ok(DispatchReferralDocument, { input: { referralId: evaluation.id, escortNames: ['站员刘'] } }, a.station.token);
  await hub.ok(ConfirmReceiptDocument, { input: { referralId: evaluation.id } }, a.hospital.token);
  await hub.ok(RecordDiagnosisDocument, { input: { referralId: evaluation.id, icd10Code: 'F20.9' } }, a.hospital.token);
  const back = (
    await hub.ok(RequestReferralDocument, { input: { personId, kind: 'RETURN_TO_STATION', toAgencyId: a.station.id } }, a.hospital.token)
  ).requestReferral;
  await hub.ok(DispatchReferralDocument, { input: { referralId: back.id, escortNames: ['护士张'] } }, a.hospital.token);
  await hub.ok(ConfirmReceiptDocument, { input: { referralId: back.id } }, a.station.token);
  // ... the welfare home is asked and declines (it was party, so it still sees him) ...
  const placement = (
    await hub.ok(RequestReferralDocument, { input: { personId, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id } }, a.station.token)
  ).requestReferral;
  await hub.ok(RejectReferralDocument, { input: { referralId: placement.id, reason: 'NO_CAPACITY' } }, a.welfareHome.token);
  // ... and 邵阳 accepts his return.
  const home = (
    await hub.ok(RequestReferralDocument, { input: { personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } }, a.station.token)
  ).requestReferral;
  await hub.ok(AcceptReferralDocument, { input: { referralId: home.id } }, a.originOffice.token);
  party = { personId, caseId, referralId: evaluation.id, idNumber: P_ID };

  // 陈某: only 广州's police and station ever deal with her.
  const hers = (
    await hub.ok(
      LogEscortedPersonDocument,
      {
        input: {
          person: {
            name: '陈某',
            gender: 'FEMALE',
            birthYear: 1990,
            idNumber: Q_ID,
            originRegionCode: '440103',
            description: '红色外套，左手有疤',
            vulnerabilities: ['SERIOUS_ILLNESS_OR_INJURY'],
          },
          stationId: a.otherStation.id,
          foundAt: '北京路',
          escortNames: ['黄警官'],
        },
      },
      guangzhouPolice.token,
    )
  ).logEscortedPerson;
  const herCase = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: hers.id } }, a.otherStation.token)).confirmReceipt.case!.id;
  stranger = { personId: hers.person.id, caseId: herCase, referralId: hers.id, idNumber: Q_ID };
});
afterAll(() => hub.stop());

const MATRIX = KINDS.flatMap((row) =>
  PATHS.flatMap((path) => (['party', 'stranger'] as const).map((whose) => [row.kind, path, whose, row] as const)),
);

describe('need to know: every agency kind × every read path × party or not', () => {
  it.each(MATRIX)('%s reading %s of a person it is %s to', async (_kind, path, whose, row) => {
    const agency: TestAgency = a[row.agency];
    const target = whose === 'party' ? party : stranger;
    const seen = await read(path, agency.token, target);
    const want = expected(row, path, whose);

    if (want === 'FORBIDDEN' || want === 'NOT_FOUND') {
      expect(seen).toMatchObject({ outcome: 'error', code: want });
      if (want === 'NOT_FOUND') {
        // Not party and not there at all are the same answer, message included.
        const none: Target = {
          personId: Buffer.from(`Person:${randomUUID()}`).toString('base64url'),
          caseId: Buffer.from(`RescueCase:${randomUUID()}`).toString('base64url'),
          referralId: Buffer.from(`Referral:${randomUUID()}`).toString('base64url'),
          idNumber: target.idNumber,
        };
        expect(await read(path, agency.token, none)).toEqual(seen);
      }
      return;
    }
    expect(seen.outcome === 'error' ? seen : seen.outcome).toBe(want);

    if (seen.outcome === 'shown' && seen.person) {
      const p = seen.person;
      expect(p).toMatchObject({ id: party.personId, name: '王某', originRegionCode: '430521' });
      expect(p.idNumber).toBe(row.wholeIdNumber ? P_ID : masked(P_ID));
      // 精神卫生法 第四条: the diagnosis stays with the station and the hospital.
      expect(p.diagnoses).toEqual(row.diagnoses ? [{ icd10Code: 'F20.9' }] : []);
      // Party to the person: their cases and all their referrals, not only its own.
      expect(p.cases.map((c) => c.id)).toEqual([party.caseId]);
      expect(p.cases[0].referrals).toHaveLength(5);
      expect(p.custodyHistory.length).toBeGreaterThan(0);
    }
    if (path === 'referral' && seen.outcome === 'shown') expect(seen.diagnosis).toBe(row.diagnoses ? 'F20.9' : null);
    if (seen.outcome === 'redacted') {
      // A station or police officer learns that the record exists, and only what it typed in.
      expect(seen.matchedOn).toEqual(['idNumber']);
      expect(seen.person).toEqual({
        id: stranger.personId,
        name: null,
        gender: 'UNKNOWN',
        birthYear: null,
        idNumber: null,
        identityStatus: 'UNKNOWN',
        originRegionCode: null,
        vulnerabilities: [],
        description: null,
        custodian: null,
        custodyHistory: [],
        currentCase: null,
        cases: [],
        diagnoses: [],
      });
    }
    if (want === 'null') {
      const ghost = `${path.slice(5, -1)}:${randomUUID()}`;
      expect((await hub.ok(AccessNodeDocument, { id: Buffer.from(ghost).toString('base64url') }, agency.token)).node).toBeNull();
    }
  });
});

describe('the administrator', () => {
  it.each(['party', 'stranger'] as const)('sees the %s person’s record, but neither the whole ID number nor diagnoses', async (whose) => {
    const t = whose === 'party' ? party : stranger;
    const p = (await hub.ok(AccessPersonDocument, { id: t.personId }, hub.adminToken)).person!;
    expect(p.idNumber).toBe(masked(t.idNumber));
    expect(p.diagnoses).toEqual([]);
  });

  it('may not search for persons (it administers; it does not register anyone)', async () => {
    const res = await hub.request(AccessFindPersonsDocument, { input: { idNumber: P_ID } }, hub.adminToken);
    expect(res.errors![0].extensions!.code).toBe('FORBIDDEN');
  });
});
