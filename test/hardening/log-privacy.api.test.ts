/**
 * No personal data in the logs, even at LOG_LEVEL=trace: the seed's case end
 * to end (a named man with an ID number, a description, diagnosis F20.9,
 * escort names), a family pickup with a collector, and requests that fail —
 * a bad ID number, forbidden and invisible reads, a malformed subscription,
 * and an unexpected database error carrying the man's data in its parameters
 * — then every line the hub wrote is searched for the name, the ID numbers
 * (whole and every 6-digit run of them), the description, the escort and
 * collector names, the diagnosis and every token.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  AcceptReferralDocument,
  AssignBedDocument,
  CloseCaseForSeedDocument,
  ConfirmReceiptDocument,
  DispatchReferralDocument,
  FindPersonsDocument,
  LogEscortedPersonDocument,
  OpenCaseForSeedDocument,
  PersonViewDocument,
  RecordDiagnosisDocument,
  ReferralDocument,
  RejectReferralDocument,
  RequestReferralDocument,
  VerifyIdentityForSeedDocument,
} from '../generated/graphql';
import { checkChar } from '../persons/people';
import { theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

/** A man born 1978 in 邵阳 (430521), and his father, who collects his brother. */
const ID17 = '43052119780315123';
const ID_NUMBER = ID17 + checkChar(ID17);
const FATHER17 = '43052119501107201';
const FATHER_ID = FATHER17 + checkChar(FATHER17);
const BROTHER17 = '43052119820620301';
const BROTHER_ID = BROTHER17 + checkChar(BROTHER17);

const NAME = '王秋生';
const BROTHER = '王冬生';
const DESCRIPTION = '男，约四十岁，言语混乱，左手有疤';
const FOUND_AT = '长湖路与解放路口';
const ESCORTS = ['李警官甲', '群众甲乙', '群众丙丁', '护士张某', '站员刘某', '站员陈某'];
const COLLECTOR = '王老父亲';
const RELATIONSHIP = '父子关系';
const SUMMARY = '精神分裂症，偏执型';
const NOTE = '疑似精神障碍请先送医鉴定';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ LOG_LEVEL: 'trace' });
});
afterAll(() => hub.stop());

/** A subscription over graphql-ws that the hub refuses; resolves with what the client was told. */
function refusedSubscription(token: string, query: string): Promise<unknown> {
  const client = createClient({
    url: hub.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  return new Promise<unknown>((resolve) => {
    client.subscribe({ query }, { next: () => undefined, error: resolve, complete: () => resolve('completed') });
  }).finally(() => client.dispose());
}

/** Every 6-digit run of a number: a log line with any of them shows part of it. */
const runsOf = (id: string) => Array.from({ length: id.length - 5 }, (_, i) => id.slice(i, i + 6)).filter((s) => /^[0-9]{6}$/.test(s));

/**
 * A line without what is random and not personal: the time, pid and
 * hostname pino adds, and uuids (request and row ids), whose digits could
 * otherwise match a 6-digit run by chance.
 */
const scrub = (line: string) =>
  line
    .replace(/"(time|pid|hostname)":("[^"]*"|\d+)/g, '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>');

describe('the logs, at LOG_LEVEL=trace', () => {
  it('hold no name, ID number (or 6 digits of one), description, escort or collector name, diagnosis or token', async () => {
    const a = await theSeedAgencies(hub);

    // The seed's case: escorted, turned away, evaluated, diagnosed, identified, back, home.
    const escort = (
      await hub.ok(
        LogEscortedPersonDocument,
        {
          input: {
            person: { gender: 'MALE', description: DESCRIPTION },
            stationId: a.station.id,
            foundAt: FOUND_AT,
            escortNames: ESCORTS.slice(0, 3),
            idempotencyKey: 'phone-retry-1',
          },
        },
        a.police.token,
      )
    ).logEscortedPerson;
    const personId = escort.person.id;
    await hub.ok(
      RejectReferralDocument,
      { input: { referralId: escort.id, reason: 'NEEDS_PSYCHIATRIC_EVALUATION', note: NOTE } },
      a.station.token,
    );
    await hub.ok(OpenCaseForSeedDocument, { input: { personId, intakeChannel: 'POLICE_ESCORT' } }, a.station.token);
    const evaluation = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id, reason: NOTE } },
        a.station.token,
      )
    ).requestReferral;
    await hub.ok(DispatchReferralDocument, { input: { referralId: evaluation.id, escortNames: [ESCORTS[0]] } }, a.police.token);
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: evaluation.id } }, a.hospital.token);
    await hub.ok(RecordDiagnosisDocument, { input: { referralId: evaluation.id, icd10Code: 'F20.9', summary: SUMMARY } }, a.hospital.token);
    await hub.ok(AssignBedDocument, { input: { referralId: evaluation.id, ward: '二病区', bed: '12' } }, a.hospital.token);
    await hub.ok(ReferralDocument, { id: evaluation.id }, a.station.token);
    await hub.ok(VerifyIdentityForSeedDocument, { input: { personId, name: NAME, idNumber: ID_NUMBER.toLowerCase() } }, a.police.token);
    const back = (
      await hub.ok(RequestReferralDocument, { input: { personId, kind: 'RETURN_TO_STATION', toAgencyId: a.station.id } }, a.hospital.token)
    ).requestReferral;
    await hub.ok(DispatchReferralDocument, { input: { referralId: back.id, escortNames: [ESCORTS[3]] } }, a.hospital.token);
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: back.id } }, a.station.token);
    const home = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
        a.station.token,
      )
    ).requestReferral;
    await hub.ok(AcceptReferralDocument, { input: { referralId: home.id } }, a.originOffice.token);
    await hub.ok(DispatchReferralDocument, { input: { referralId: home.id, escortNames: ESCORTS.slice(4) } }, a.station.token);
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: home.id } }, a.originOffice.token);
    expect((await hub.ok(PersonViewDocument, { id: personId }, a.station.token)).person).toMatchObject({ name: NAME, idNumber: ID_NUMBER });
    await hub.ok(FindPersonsDocument, { input: { name: NAME, idNumber: ID_NUMBER } }, a.police.token);

    // His brother, collected by their father.
    const brother = (
      await hub.ok(
        OpenCaseForSeedDocument,
        { input: { person: { gender: 'MALE', name: BROTHER, idNumber: BROTHER_ID }, intakeChannel: 'SELF_PRESENTED' } },
        a.station.token,
      )
    ).openCase;
    await hub.ok(
      CloseCaseForSeedDocument,
      {
        input: {
          caseId: brother.id,
          outcome: 'RETURNED_FAMILY_PICKUP',
          collector: { name: COLLECTOR, relationship: RELATIONSHIP, idNumber: FATHER_ID },
        },
      },
      a.station.token,
    );

    // What fails: a bad ID number, a person another station may not see, an action the caller may not take.
    const wrongCheck = ID17 + (ID_NUMBER[17] === '0' ? '1' : '0');
    const bad = await hub.request(
      OpenCaseForSeedDocument,
      {
        input: { person: { gender: 'MALE', name: NAME, idNumber: wrongCheck, description: DESCRIPTION }, intakeChannel: 'SELF_PRESENTED' },
      },
      a.station.token,
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(codeOf(await hub.request(PersonViewDocument, { id: personId }, a.otherStation.token))).toBe('NOT_FOUND');
    expect(codeOf(await hub.request(FindPersonsDocument, { input: { name: NAME, idNumber: ID_NUMBER } }, a.hospital.token))).toBe(
      'FORBIDDEN',
    );
    expect(
      codeOf(
        await hub.request(
          CloseCaseForSeedDocument,
          {
            input: {
              caseId: brother.id,
              outcome: 'RETURNED_FAMILY_PICKUP',
              collector: { name: COLLECTOR, relationship: RELATIONSHIP, idNumber: FATHER_ID },
            },
          },
          a.originOffice.token,
        ),
      ),
    ).toMatch(/FORBIDDEN|NOT_FOUND/);
    expect(codeOf(await hub.request(PersonViewDocument, { id: personId }, `${a.police.token}x`))).toBe('UNAUTHENTICATED');
    // Over the WebSocket: literals of the wrong type, holding the name and the number, are refused in validation.
    const ws = await refusedSubscription(
      a.station.token,
      `subscription { occupancy(stationId: { name: "${NAME}", idNumber: "${ID_NUMBER}", note: "${DESCRIPTION}" }) { inStation } }`,
    );
    expect(JSON.stringify(ws)).toContain('ID cannot represent');

    // An unexpected database error while registering the man again, his data in the failed statement's parameters.
    await hub.hub.db.query(
      `ALTER TABLE person ADD CONSTRAINT log_privacy_probe CHECK (description IS DISTINCT FROM '${DESCRIPTION}（再次）')`,
    );
    try {
      const internal = await hub.request(
        OpenCaseForSeedDocument,
        { input: { person: { gender: 'MALE', name: NAME, description: `${DESCRIPTION}（再次）` }, intakeChannel: 'SELF_PRESENTED' } },
        a.station.token,
      );
      expect(codeOf(internal)).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await hub.hub.db.query('ALTER TABLE person DROP CONSTRAINT log_privacy_probe');
    }

    const lines = hub.logLines.map(scrub);
    // The hub did log, the unexpected error included: the search below searched something.
    expect(lines.some((l) => l.includes('unexpected error') && l.includes('log_privacy_probe'))).toBe(true);

    const secrets = [
      NAME,
      BROTHER,
      DESCRIPTION,
      FOUND_AT,
      NOTE,
      SUMMARY,
      COLLECTOR,
      RELATIONSHIP,
      'F20.9',
      ...ESCORTS,
      ...[ID_NUMBER, FATHER_ID, BROTHER_ID, wrongCheck].flatMap((id) => [id, id.toLowerCase(), ...runsOf(id)]),
      hub.adminToken,
      ...Object.values(a).flatMap((x) => [x.token, x.supervisorToken]),
    ];
    const found = secrets.flatMap((s) => lines.filter((l) => l.includes(s)).map((l) => ({ secret: s, line: l.slice(0, 300) })));
    expect(found).toEqual([]);
  });
});
