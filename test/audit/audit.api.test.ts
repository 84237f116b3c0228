import { checkCharacter } from '../../src/persons/identity-number';
import {
  AccessCaseDocument,
  AccessFindPersonsDocument,
  AccessNodeDocument,
  AccessPersonDocument,
  AccessReferralDocument,
  AcceptReferralDocument,
  AuditTrailDocument,
  CancelReferralDocument,
  CasePersonsPageDocument,
  CloseCaseForSeedDocument,
  ConfirmReceiptDocument,
  LogEscortedPersonDocument,
  OpenCaseForSeedDocument,
  PersonOnceDocument,
  PersonTwiceDocument,
  RequestReferralDocument,
  VerifyIdentityForSeedDocument,
  type CasePersonsPageQuery,
  type PersonOnceQuery,
} from '../generated/graphql';
import { anAgency, theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';
import { requestStatementsDuring, statementsDuring } from './sql-spy';

const idNumber = (first17: string) => first17 + checkCharacter(first17);
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1];

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
/** 王某, brought in by the police, at the station, asked home to 邵阳. */
let personId: string;
let caseId: string;
let escortId: string;
const P_ID = idNumber('43052119780315123');

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
  const escort = (
    await hub.ok(
      LogEscortedPersonDocument,
      {
        input: {
          person: { name: '王某', gender: 'MALE', birthYear: 1978, idNumber: P_ID, originRegionCode: '430521' },
          stationId: a.station.id,
          foundAt: '长湖路口',
          escortNames: ['李警官'],
        },
      },
      a.police.token,
    )
  ).logEscortedPerson;
  personId = escort.person.id;
  escortId = escort.id;
  caseId = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: escort.id } }, a.station.token)).confirmReceipt.case!.id;
  // An evaluation asked for and withdrawn: the hospital was party, so it sees him (number masked).
  const evaluation = (
    await hub.ok(
      RequestReferralDocument,
      { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
      a.station.token,
    )
  ).requestReferral;
  await hub.ok(CancelReferralDocument, { input: { referralId: evaluation.id } }, a.station.token);
});
afterAll(() => hub.stop());

interface Row {
  action: string;
  account_id: string | null;
  agency_id: string | null;
  subject_type: string;
  subject_id: string;
  request_id: string | null;
}
const rows = (where = 'TRUE', params: unknown[] = []): Promise<Row[]> =>
  hub.hub.db.query(
    `SELECT action, account_id, agency_id, subject_type, subject_id, request_id FROM audit_log WHERE ${where} ORDER BY id`,
    params,
  );
const maxId = async (): Promise<string> => (await hub.hub.db.query('SELECT coalesce(max(id), 0)::text AS m FROM audit_log'))[0].m;
/** The entries written while `work` ran. */
async function written(work: () => Promise<unknown>): Promise<Row[]> {
  const before = await maxId();
  await work();
  return rows('id > $1', [before]);
}
const actions = (list: Row[]) => list.map((r) => r.action).sort();

describe('every mutation writes an audit entry with who did it', () => {
  it('createAgency and issueAccessToken: the administrator (no account, no agency)', async () => {
    const log = await written(() => anAgency(hub, 'WELFARE_HOME', '耒阳市福利院', '430481'));
    expect(actions(log)).toEqual(['account.issueToken', 'account.issueToken', 'agency.create']);
    expect(log.every((r) => r.account_id === null && r.agency_id === null)).toBe(true);
  });

  it('openCase, verifyIdentity, requestReferral, acceptReferral: the acting agency and account, about the person', async () => {
    const opened = await written(() =>
      hub.ok(
        OpenCaseForSeedDocument,
        { input: { person: { gender: 'FEMALE', birthYear: 1960 }, intakeChannel: 'SELF_PRESENTED' } },
        a.station.token,
      ),
    );
    expect(actions(opened)).toEqual(['case.open', 'person.create']);
    expect(opened.every((r) => r.agency_id === uuidOf(a.station.id) && r.account_id !== null && r.subject_type === 'Person')).toBe(true);

    const verified = await written(() =>
      hub.ok(VerifyIdentityForSeedDocument, { input: { personId, name: '王某', idNumber: P_ID } }, a.police.token),
    );
    expect(actions(verified)).toContain('person.verifyIdentity');

    let referralId = '';
    const requested = await written(async () => {
      referralId = (
        await hub.ok(
          RequestReferralDocument,
          { input: { personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
          a.station.token,
        )
      ).requestReferral.id;
    });
    expect(requested.filter((r) => r.action === 'referral.request')).toEqual([
      expect.objectContaining({ agency_id: uuidOf(a.station.id), subject_id: uuidOf(personId) }),
    ]);
    const accepted = await written(() => hub.ok(AcceptReferralDocument, { input: { referralId } }, a.originOffice.token));
    expect(accepted.filter((r) => r.action === 'referral.accept')).toEqual([
      expect.objectContaining({ agency_id: uuidOf(a.originOffice.id), subject_id: uuidOf(personId) }),
    ]);
  });

  it('closeCase writes case.close', async () => {
    const c = (
      await hub.ok(
        OpenCaseForSeedDocument,
        { input: { person: { gender: 'MALE', birthYear: 1980, originRegionCode: '430406' }, intakeChannel: 'SELF_PRESENTED' } },
        a.station.token,
      )
    ).openCase;
    const closed = await written(() =>
      hub.ok(
        CloseCaseForSeedDocument,
        { input: { caseId: c.id, outcome: 'RETURNED_FUNDED', travelVoucher: { destination: '衡阳' } } },
        a.station.token,
      ),
    );
    expect(actions(closed)).toContain('case.close');
  });
});

describe("every read of a person's record, however reached, writes person.read", () => {
  const readsOf = (log: Row[], agency: { id: string }) =>
    log.filter((r) => r.subject_id === uuidOf(personId) && r.agency_id === uuidOf(agency.id)).map((r) => r.action);

  it.each([
    ['person(id)', () => hub.ok(AccessPersonDocument, { id: personId }, a.hospital.token)],
    ['node(id)', () => hub.ok(AccessNodeDocument, { id: personId }, a.hospital.token)],
    ['RescueCase.person', () => hub.ok(AccessCaseDocument, { id: caseId }, a.hospital.token)],
    ['Referral.person', () => hub.ok(AccessReferralDocument, { id: escortId }, a.hospital.token)],
  ])('%s', async (_path, work) => {
    const log = await written(work);
    expect(readsOf(log, a.hospital)).toContain('person.read');
    // The hospital sees the number masked: no reveal.
    expect(readsOf(log, a.hospital)).not.toContain('person.idNumber.reveal');
  });

  it('findPersons: the records shown whole, not those shown only as existing', async () => {
    const log = await written(() => hub.ok(AccessFindPersonsDocument, { input: { idNumber: P_ID } }, a.police.token));
    expect(readsOf(log, a.police).sort()).toEqual(['person.idNumber.reveal', 'person.read']);
    const stranger = await written(() => hub.ok(AccessFindPersonsDocument, { input: { idNumber: P_ID } }, a.otherStation.token));
    expect(stranger.filter((r) => r.action.startsWith('person.'))).toEqual([]);
  });

  it('a whole ID number shown writes person.idNumber.reveal; a masked one does not', async () => {
    const log = await written(() => hub.ok(AccessPersonDocument, { id: personId }, a.station.token));
    expect(readsOf(log, a.station).sort()).toEqual(['person.idNumber.reveal', 'person.read']);
  });

  it('a refused read writes nothing about the person', async () => {
    const log = await written(() => hub.request(AccessPersonDocument, { id: personId }, a.otherStation.token));
    expect(log).toEqual([]);
  });

  it('a request that reads 50 persons writes its 100 entries in two statements: the reads with the page, the reveals in one INSERT', async () => {
    const station = await anAgency(hub, 'RESCUE_STATION', '耒阳市救助管理站', '430481', 'LY');
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const seq = String(101 + i);
        return hub.ok(
          OpenCaseForSeedDocument,
          {
            input: {
              person: { gender: i % 2 === 0 ? 'MALE' : 'FEMALE', idNumber: idNumber(`43048119850101${seq}`) },
              intakeChannel: 'SELF_PRESENTED',
            },
          },
          station.token,
        );
      }),
    );
    let page: CasePersonsPageQuery | undefined;
    const before = await maxId();
    const statements = await statementsDuring(async () => {
      page = await hub.ok(CasePersonsPageDocument, { first: 50 }, station.token);
    });
    expect(page!.cases.edges).toHaveLength(50);
    expect(page!.cases.edges.every((e) => e.node.person.idNumber?.length === 18 && !e.node.person.idNumber.includes('*'))).toBe(true);
    expect(statements.filter((s) => /^INSERT INTO audit_log/i.test(s))).toHaveLength(1);
    expect(statements.filter((s) => /INSERT INTO audit_log/i.test(s))).toHaveLength(2);
    const log = await rows('id > $1', [before]);
    expect(log).toHaveLength(100);
    expect(new Set(log.map((r) => r.request_id)).size).toBe(1);
    expect(log.filter((r) => r.action === 'person.read')).toHaveLength(50);
    expect(log.filter((r) => r.action === 'person.idNumber.reveal')).toHaveLength(50);
  });
});

describe('a person read over HTTP', () => {
  it('is one statement: need to know, the row, its custodian and the audit entry of the read', async () => {
    const before = await maxId();
    let res: PersonOnceQuery | undefined;
    const statements = await requestStatementsDuring(
      async () => (res = await hub.ok(PersonOnceDocument, { id: personId }, a.hospital.token)),
    );
    expect(res!.person?.id).toBe(personId);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/INSERT INTO audit_log[\s\S]*'person\.read'/);
    const log = await rows('id > $1', [before]);
    expect(log.map((r) => [r.action, r.subject_id, r.agency_id])).toEqual([['person.read', uuidOf(personId), uuidOf(a.hospital.id)]]);
  });

  it('is audited once however often the request reads the person', async () => {
    const before = await maxId();
    const res = await hub.ok(PersonTwiceDocument, { id: personId }, a.hospital.token);
    expect(res.first?.id).toBe(personId);
    expect(res.again?.id).toBe(personId);
    const log = await rows('id > $1', [before]);
    expect(log.filter((r) => r.action === 'person.read')).toHaveLength(1);
  });

  it('writes no read to the log for an agency that may not see the person', async () => {
    const stranger = await anAgency(hub, 'POLICE_STATION', '白沙派出所', '430104');
    const before = await maxId();
    const res = await hub.request(PersonOnceDocument, { id: personId }, stranger.token);
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect((await rows('id > $1', [before])).filter((r) => r.action === 'person.read')).toHaveLength(0);
  });
});

describe('the audit log is append-only, even for the hub’s own database role', () => {
  it.each([
    ['UPDATE', "UPDATE audit_log SET action = 'person.nothing'"],
    ['DELETE', 'DELETE FROM audit_log'],
    ['TRUNCATE', 'TRUNCATE audit_log'],
  ])('%s is refused and changes nothing', async (_op, sql) => {
    const before = await rows();
    expect(before.length).toBeGreaterThan(0);
    await expect(hub.hub.db.query(sql)).rejects.toMatchObject({ code: '42501' });
    expect(await rows()).toEqual(before);
  });
});

describe('auditTrail', () => {
  const trail = (token: string, vars: { first?: number; after?: string } = {}) =>
    hub.request(AuditTrailDocument, { personId, ...vars }, token);

  it('shows a station supervisor who read or changed what about the person, newest first', async () => {
    await hub.ok(AccessPersonDocument, { id: personId }, a.hospital.token);
    const res = await trail(a.station.supervisorToken);
    expect(res.errors).toBeUndefined();
    const entries = res.data!.auditTrail.edges.map((e) => e.node);
    expect(entries.every((e) => e.subjectId === personId)).toBe(true);
    const ats = entries.map((e) => Date.parse(e.at));
    expect([...ats].sort((x, y) => y - x)).toEqual(ats);
    // The hospital's read of a moment ago is on top, with its account and agency.
    expect(entries[0]).toMatchObject({ action: 'person.read', agency: { id: a.hospital.id }, actor: { agency: { id: a.hospital.id } } });
    // The police brought him in: the oldest entries.
    expect(entries.at(-1)).toMatchObject({ action: 'person.create', agency: { id: a.police.id } });
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(['referral.logEscortedPerson', 'referral.confirmReceipt', 'case.open']),
    );
  });

  it('pages by cursor without gaps or repeats; reading the trail is itself logged', async () => {
    const all = (await trail(a.station.supervisorToken, { first: 100 })).data!.auditTrail.edges.map((e) => e.cursor);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await trail(a.station.supervisorToken, { first: 3, after })).data!.auditTrail;
      seen.push(...page.edges.map((e) => e.cursor));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    // The walk sees everything the full read saw, plus that read's own entry on top; later entries
    // land above the cursor and never shift a page.
    expect(all.length).toBeLessThan(100);
    expect(seen.slice(1)).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
    const newest = (await trail(a.station.supervisorToken, { first: 1 })).data!.auditTrail.edges[0].node;
    expect(newest).toMatchObject({ action: 'person.auditTrail.read', agency: { id: a.station.id } });
  });

  it('is open to the administrator, whose own entries have no actor', async () => {
    await hub.ok(AccessPersonDocument, { id: personId }, hub.adminToken);
    const top = (await trail(hub.adminToken, { first: 1 })).data!.auditTrail.edges[0].node;
    expect(top).toMatchObject({ action: 'person.read', actor: null, agency: null });
  });

  it('is FORBIDDEN to station staff and to other kinds of agency, even their supervisors', async () => {
    for (const token of [a.station.token, a.police.supervisorToken, a.hospital.supervisorToken, a.originOffice.supervisorToken]) {
      expect(codeOf(await trail(token))).toBe('FORBIDDEN');
    }
    expect(codeOf(await trail(''))).toBe('UNAUTHENTICATED');
  });

  it('is NOT_FOUND to the supervisor of a station that is not party, as for a person who does not exist', async () => {
    expect(codeOf(await trail(a.otherStation.supervisorToken))).toBe('NOT_FOUND');
    const ghost = Buffer.from('Person:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codeOf(await hub.request(AuditTrailDocument, { personId: ghost }, a.station.supervisorToken))).toBe('NOT_FOUND');
  });

  it.each([0, 101])('refuses first: %i on the field first', async (first) => {
    expect((await trail(a.station.supervisorToken, { first })).errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
  });
});
