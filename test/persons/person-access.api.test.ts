import {
  ConfirmReceiptDocument,
  LogEscortedPersonDocument,
  PersonDocument,
  RequestReferralDocument,
  VerifyIdentityDocument,
  type OpenCaseMutationVariables,
} from '../generated/graphql';
import { anAgency, theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';
import { errorOf, idNumber, idNumberEndingInX, openCaseFor, uuidOf, withWrongCheck } from './people';

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

type NewPerson = NonNullable<OpenCaseMutationVariables['input']['person']>;

/** The police bring a person to the station (ESCORT_TO_STATION, in transit): the police hold the person and are party. */
async function escortedByPolice(person: Partial<NewPerson> = {}) {
  const { logEscortedPerson } = await hub.ok(
    LogEscortedPersonDocument,
    {
      input: {
        stationId: a.station.id,
        foundAt: '衡阳市雁峰区长湖路口',
        escortNames: ['李警官'],
        person: { gender: 'UNKNOWN', ...person },
      },
    },
    a.police.token,
  );
  return logEscortedPerson;
}

const personAs = (id: string, token: string) => hub.request(PersonDocument, { id }, token);

const auditRows = (personId: string, action: string) =>
  hub.hub.db.query(`SELECT agency_id FROM audit_log WHERE subject_id = $1 AND action = $2 ORDER BY id`, [
    uuidOf(personId),
    action,
  ]) as Promise<{ agency_id: string }[]>;

describe('who sees a person (need to know) and their ID number (masked unless the agency may see it whole)', () => {
  let personId: string;
  const number = idNumberEndingInX('430521', '19800315');
  const masked = `430521********${number.slice(14)}`;

  beforeAll(async () => {
    const referral = await escortedByPolice({ name: '张建国', idNumber: number });
    personId = referral.person.id;
  });

  it('shows the number whole to the police who brought the person', async () => {
    const res = await personAs(personId, a.police.token);
    expect(res.data?.person).toMatchObject({ id: personId, name: '张建国', idNumber: number });
  });

  it('masks it for the station the person is on the way to, which holds no case yet', async () => {
    const res = await personAs(personId, a.station.token);
    expect(res.data?.person?.idNumber).toBe(masked);
  });

  it('shows it whole to the station once it holds the case', async () => {
    const { logEscortedPerson } = await hub.ok(
      LogEscortedPersonDocument,
      {
        input: {
          stationId: a.station.id,
          foundAt: '火车站',
          escortNames: ['王警官'],
          person: { gender: 'MALE', idNumber: idNumber('430521', '19700101') },
        },
      },
      a.police.token,
    );
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: logEscortedPerson.id } }, a.station.token);
    const res = await personAs(logEscortedPerson.person.id, a.station.token);
    expect(res.data?.person?.idNumber).toMatch(/^43052119700101\d{3}[0-9X]$/);
    expect(res.data?.person?.cases).toHaveLength(1);
  });

  it('masks it for a welfare home asked to take the person over', async () => {
    const c = await openCaseFor(hub, a.station.token, { name: '王秀英', idNumber: idNumber('430406', '19450101', 'FEMALE') });
    await hub.ok(
      RequestReferralDocument,
      { input: { personId: c.person.id, kind: 'WELFARE_PLACEMENT', toAgencyId: a.welfareHome.id } },
      a.station.token,
    );
    const res = await personAs(c.person.id, a.welfareHome.token);
    expect(res.data?.person?.idNumber).toMatch(/^430406\*{8}\d{3}[0-9X]$/);
  });

  it('masks it for the administrator', async () => {
    expect((await personAs(personId, hub.adminToken)).data?.person?.idNumber).toBe(masked);
  });

  it('is NOT_FOUND for agencies that are not party: another station, another police station, a welfare home', async () => {
    const strangerPolice = await anAgency(hub, 'POLICE_STATION', '天河派出所', '440106');
    for (const token of [a.otherStation.token, strangerPolice.token, a.welfareHome.token, a.hospital.token]) {
      const res = await personAs(personId, token);
      expect(codeOf(res)).toBe('NOT_FOUND');
      expect(res.data?.person ?? null).toBeNull();
    }
  });

  it('is NOT_FOUND for an id that names nothing or names another type', async () => {
    const nobody = Buffer.from('Person:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codeOf(await personAs(nobody, a.police.token))).toBe('NOT_FOUND');
    expect(codeOf(await personAs(a.station.id, a.police.token))).toBe('NOT_FOUND');
  });

  it('answers an access check that cannot be made with an error, never with a false NOT_FOUND', async () => {
    await hub.hub.db.query(`ALTER TABLE referral RENAME TO referral_away`);
    try {
      const res = await personAs(personId, a.police.token);
      expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
      expect(res.data?.person ?? null).toBeNull();
    } finally {
      await hub.hub.db.query(`ALTER TABLE referral_away RENAME TO referral`);
    }
    expect((await personAs(personId, a.police.token)).data?.person?.id).toBe(personId);
  });

  it('writes every read of the record, and every reveal of the whole number, to the audit log', async () => {
    const before = (await auditRows(personId, 'person.read')).length;
    const revealsBefore = (await auditRows(personId, 'person.idNumber.reveal')).length;
    await personAs(personId, a.police.token);
    await personAs(personId, a.station.token); // masked: a read, not a reveal
    const reads = await auditRows(personId, 'person.read');
    const reveals = await auditRows(personId, 'person.idNumber.reveal');
    expect(reads.slice(before).map((r) => r.agency_id)).toEqual([uuidOf(a.police.id), uuidOf(a.station.id)]);
    expect(reveals.slice(revealsBefore).map((r) => r.agency_id)).toEqual([uuidOf(a.police.id)]);
  });

  it('writes no read to the audit log when the answer is NOT_FOUND', async () => {
    const before = (await auditRows(personId, 'person.read')).length;
    await personAs(personId, a.otherStation.token);
    expect(await auditRows(personId, 'person.read')).toHaveLength(before);
  });
});

describe('verifyIdentity (police only)', () => {
  it('sets the identity VERIFIED with name and number and fills in gender, birth year and origin', async () => {
    const referral = await escortedByPolice({ description: '不愿说话' });
    const number = idNumber('430521', '19800315', 'MALE');
    const { verifyIdentity } = await hub.ok(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: ' 张建国 ', idNumber: number } },
      a.police.token,
    );
    expect(verifyIdentity).toMatchObject({
      identityStatus: 'VERIFIED',
      name: '张建国',
      idNumber: number,
      gender: 'MALE',
      birthYear: 1980,
      originRegionCode: '430521',
      description: '不愿说话',
    });
    const audit = await auditRows(referral.person.id, 'person.verifyIdentity');
    expect(audit.map((r) => r.agency_id)).toEqual([uuidOf(a.police.id)]);
  });

  it('stores a lower-case x as X', async () => {
    const referral = await escortedByPolice();
    const number = idNumberEndingInX('430521', '19660606');
    const { verifyIdentity } = await hub.ok(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: '李四', idNumber: number.toLowerCase() } },
      a.police.token,
    );
    expect(verifyIdentity.idNumber).toBe(number);
  });

  it('refuses a number that contradicts the recorded gender, on input.idNumber, and changes nothing', async () => {
    const referral = await escortedByPolice({ gender: 'FEMALE', name: '王秀英' });
    const res = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: '王秀英', idNumber: idNumber('430521', '19800315', 'MALE') } },
      a.police.token,
    );
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idNumber' });
    const { person } = await hub.ok(PersonDocument, { id: referral.person.id }, a.police.token);
    expect(person).toMatchObject({ identityStatus: 'SELF_REPORTED', idNumber: null, gender: 'FEMALE' });
  });

  it('refuses a number whose birth year is far from the recorded one, on input.idNumber', async () => {
    const referral = await escortedByPolice({ birthYear: 1950 });
    const res = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: '赵六', idNumber: idNumber('430521', '19900315') } },
      a.police.token,
    );
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idNumber' });
  });

  it('refuses an invalid number on input.idNumber and an empty name on input.name', async () => {
    const referral = await escortedByPolice();
    const bad = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: '赵六', idNumber: withWrongCheck(idNumber('430521', '19800315')) } },
      a.police.token,
    );
    expect(errorOf(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idNumber' });
    const noName = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: referral.person.id, name: '  ', idNumber: idNumber('430521', '19800315') } },
      a.police.token,
    );
    expect(errorOf(noName)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('refuses a number that belongs to another registered person (CONFLICT on input.idNumber)', async () => {
    const number = idNumber('430521', '19770707');
    await escortedByPolice({ idNumber: number });
    const other = await escortedByPolice();
    const res = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: other.person.id, name: '钱七', idNumber: number } },
      a.police.token,
    );
    expect(errorOf(res)).toMatchObject({ code: 'CONFLICT', field: 'input.idNumber' });
  });

  it('is FORBIDDEN to a rescue station, even the one with the case', async () => {
    const c = await openCaseFor(hub, a.station.token, { name: '孙八' });
    const res = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: c.person.id, name: '孙八', idNumber: idNumber('430521', '19800315') } },
      a.station.token,
    );
    expect(codeOf(res)).toBe('FORBIDDEN');
  });

  it('is NOT_FOUND to a police station that is not party to the person', async () => {
    const c = await openCaseFor(hub, a.station.token, { name: '周九' });
    const strangerPolice = await anAgency(hub, 'POLICE_STATION', '珠晖派出所', '430405');
    const res = await hub.request(
      VerifyIdentityDocument,
      { input: { personId: c.person.id, name: '周九', idNumber: idNumber('430521', '19800315') } },
      strangerPolice.token,
    );
    expect(codeOf(res)).toBe('NOT_FOUND');
  });
});

describe('the audit log', () => {
  it('refuses UPDATE, DELETE and TRUNCATE, even from the hub’s own database user', async () => {
    const [{ id }]: { id: string }[] = await hub.hub.db.query(`SELECT id FROM audit_log ORDER BY id LIMIT 1`);
    await expect(hub.hub.db.query(`UPDATE audit_log SET action = 'x' WHERE id = $1`, [id])).rejects.toMatchObject({
      driverError: { code: '42501' },
    });
    await expect(hub.hub.db.query(`DELETE FROM audit_log WHERE id = $1`, [id])).rejects.toMatchObject({ driverError: { code: '42501' } });
    await expect(hub.hub.db.query(`TRUNCATE audit_log`)).rejects.toMatchObject({ driverError: { code: '42501' } });
    const [{ n }]: { n: number }[] = await hub.hub.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE id = $1 AND action <> 'x'`, [
      id,
    ]);
    expect(n).toBe(1);
  });
});
