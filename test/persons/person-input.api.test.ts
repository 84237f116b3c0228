import { createHash } from 'node:crypto';
import { OpenCaseDocument, RescueCaseDocument, type OpenCaseMutationVariables } from '../generated/graphql';
import { anAgency, type TestAgency } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { checkChar, errorOf, idNumber, idNumberEndingInX, openCaseFor, thisYear, uuidOf, withWrongCheck } from './people';

let hub: TestHub;
let station: TestAgency;
beforeAll(async () => {
  hub = await startTestHub();
  station = await anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY');
});
afterAll(() => hub.stop());

type NewPerson = NonNullable<OpenCaseMutationVariables['input']['person']>;

/** openCase for a new person, as the station; the raw response. */
const register = (person: Partial<NewPerson>) =>
  hub.request(OpenCaseDocument, { input: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN', ...person } } }, station.token);

async function expectRefused(person: Partial<NewPerson>, field: string) {
  const res = await register(person);
  expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field });
  expect(res.data?.openCase ?? null).toBeNull();
  return res;
}

/** 17 digits plus the right check character. */
const valid17 = (first17: string) => first17 + checkChar(first17);

describe('resident ID numbers (GB 11643)', () => {
  it('takes gender, birth year and origin from a valid number when they are not given', async () => {
    const id = idNumber('430521', '19800315', 'MALE');
    const c = await openCaseFor(hub, station.token, { name: '张建国', idNumber: id });
    expect(c.person).toMatchObject({
      gender: 'MALE',
      birthYear: 1980,
      originRegionCode: '430521',
      identityStatus: 'SELF_REPORTED',
      idNumber: id,
    });
  });

  it('reads an even sequence digit as FEMALE', async () => {
    const c = await openCaseFor(hub, station.token, { idNumber: idNumber('110105', '19491231', 'FEMALE') });
    expect(c.person.gender).toBe('FEMALE');
  });

  it('accepts gender, birth year and origin that agree with the number', async () => {
    const id = idNumber('430406', '19751002', 'FEMALE');
    const c = await openCaseFor(hub, station.token, { idNumber: id, gender: 'FEMALE', birthYear: 1975, originRegionCode: '430406' });
    expect(c.person).toMatchObject({ gender: 'FEMALE', birthYear: 1975, originRegionCode: '430406' });
  });

  it.each([
    ['17 characters', () => idNumber('430521', '19800315').slice(0, 17)],
    ['19 characters', () => `${idNumber('430521', '19800315')}0`],
    ['a 15-digit first-generation number', () => '430521800315123'],
    ['a letter among the digits', () => `4305A1${idNumber('430521', '19800315').slice(6)}`],
    ['full-width digits', () => '４３０５２１１９８００３１５１２３Ｘ'],
    ['surrounding spaces', () => ` ${idNumber('430521', '19800315').slice(0, 16)} `],
    ['a wrong check character', () => withWrongCheck(idNumber('430521', '19800315'))],
    ['a birth date that does not exist (30 February)', () => valid17('43052119810230123')],
    ['a birth date that does not exist (month 13)', () => valid17('43052119811301123')],
    ['29 February of a year that is not a leap year', () => valid17('43052119000229123')],
    ['a birth date in the future', () => valid17(`430521${thisYear() + 1}0101123`)],
    ['a birth date before 1900', () => valid17('43052118991231123')],
    ['an unknown province (99)', () => valid17('99052119800315123')],
  ])('refuses %s on input.person.idNumber', async (_what, make) => {
    const number = make();
    const res = await expectRefused({ idNumber: number }, 'input.person.idNumber');
    // The number is personal data: an error never repeats it.
    expect(JSON.stringify(res.errors)).not.toContain(number.trim());
  });

  it('accepts 29 February of a leap year', async () => {
    const c = await openCaseFor(hub, station.token, { idNumber: valid17('43052120000229123') });
    expect(c.person.birthYear).toBe(2000);
  });

  it('refuses a gender that contradicts the number on input.person.gender', async () => {
    await expectRefused({ idNumber: idNumber('430521', '19800315', 'MALE'), gender: 'FEMALE' }, 'input.person.gender');
  });

  it('refuses a birth year that contradicts the number on input.person.birthYear', async () => {
    await expectRefused({ idNumber: idNumber('430521', '19800315'), birthYear: 1981 }, 'input.person.birthYear');
  });

  it('refuses an origin that contradicts the number on input.person.originRegionCode', async () => {
    await expectRefused({ idNumber: idNumber('430521', '19800315'), originRegionCode: '440103' }, 'input.person.originRegionCode');
  });

  it('accepts a lower-case x and stores and returns it as X', async () => {
    const upper = idNumberEndingInX('430406', '19650704');
    const c = await openCaseFor(hub, station.token, { idNumber: upper.toLowerCase() });
    expect(c.person.idNumber).toBe(upper);
    // The same number in either case is the same person: the lookup hash is taken of the normalized form.
    const again = await register({ idNumber: upper });
    expect(errorOf(again)).toMatchObject({ code: 'CONFLICT', field: 'input.person.idNumber' });
  });

  it('refuses to register a second person with a number already registered (CONFLICT)', async () => {
    const id = idNumber('430521', '19700101');
    await openCaseFor(hub, station.token, { idNumber: id });
    const res = await register({ idNumber: id, name: '另一个人' });
    expect(errorOf(res)).toMatchObject({ code: 'CONFLICT', field: 'input.person.idNumber' });
  });

  it('keeps the number only encrypted with a keyed hash: it appears in no column of the person row', async () => {
    const id = idNumberEndingInX('430521', '19580808');
    const c = await openCaseFor(hub, station.token, { name: '李秀英', idNumber: id });
    const [row]: Record<string, unknown>[] = await hub.hub.db.query(`SELECT * FROM person WHERE id = $1`, [uuidOf(c.person.id)]);
    expect(row).toBeDefined();
    const forms = [id, id.toLowerCase(), Buffer.from(id).toString('hex'), Buffer.from(id).toString('base64'), id.slice(0, 17)];
    for (const [column, value] of Object.entries(row)) {
      if (value === null || value === undefined) continue;
      const texts = Buffer.isBuffer(value)
        ? [value.toString('latin1'), value.toString('utf8'), value.toString('hex'), value.toString('base64')]
        : [typeof value === 'object' ? JSON.stringify(value) : String(value)];
      for (const text of texts)
        for (const form of forms) expect({ column, contains: text.includes(form) }).toEqual({ column, contains: false });
    }
    const [{ json }]: { json: string }[] = await hub.hub.db.query(`SELECT row_to_json(p)::text AS json FROM person p WHERE id = $1`, [
      uuidOf(c.person.id),
    ]);
    for (const form of forms) expect(json).not.toContain(form);
    // The lookup hash is keyed: not a bare SHA-256 of the number, which anyone could brute-force.
    const hash = row.id_number_hash as Buffer;
    expect(hash).toBeInstanceOf(Buffer);
    expect(hash.equals(createHash('sha256').update(id).digest())).toBe(false);
    expect(hash.equals(createHash('sha256').update(`idnumber:${id}`).digest())).toBe(false);
  });
});

describe('the other attributes of a person', () => {
  it.each(['43040', '4304061', '990406', '660000', '100000', '43040a', '４３０４０６'])(
    'refuses the origin region code %s on input.person.originRegionCode',
    async (originRegionCode) => {
      await expectRefused({ originRegionCode }, 'input.person.originRegionCode');
    },
  );

  it.each(['110101', '650102', '710000', '810000', '820000'])('accepts the origin region code %s', async (originRegionCode) => {
    const c = await openCaseFor(hub, station.token, { originRegionCode });
    expect(c.person.originRegionCode).toBe(originRegionCode);
  });

  it('refuses a birth year before 1900 or after this year on input.person.birthYear', async () => {
    await expectRefused({ birthYear: 1899 }, 'input.person.birthYear');
    await expectRefused({ birthYear: thisYear() + 1 }, 'input.person.birthYear');
  });

  it('accepts the birth years 1900 and this year', async () => {
    expect((await openCaseFor(hub, station.token, { birthYear: 1900 })).person.birthYear).toBe(1900);
    expect((await openCaseFor(hub, station.token, { birthYear: thisYear() })).person.birthYear).toBe(thisYear());
  });

  it('trims names, including full-width spaces', async () => {
    const c = await openCaseFor(hub, station.token, { name: ' \u3000张建国\u3000 ' });
    expect(c.person.name).toBe('张建国');
  });

  it('takes a blank name as unknown', async () => {
    const c = await openCaseFor(hub, station.token, { name: '   ' });
    expect(c.person).toMatchObject({ name: null, identityStatus: 'UNKNOWN' });
  });

  it('accepts a name of 50 characters and refuses 51 on input.person.name', async () => {
    const fifty = '欧'.repeat(50);
    expect((await openCaseFor(hub, station.token, { name: ` ${fifty} ` })).person.name).toBe(fifty);
    await expectRefused({ name: '欧'.repeat(51) }, 'input.person.name');
  });

  it('counts characters, not UTF-16 units: rare characters outside the BMP (生僻字) count as one', async () => {
    // U+20BB7 𠮷 is one character but two UTF-16 code units.
    const name = '𠮷'.repeat(30);
    const c = await openCaseFor(hub, station.token, { name });
    expect(c.person.name).toBe(name);
    await expectRefused({ name: '𠮷'.repeat(51) }, 'input.person.name');
  });

  it('accepts a description of 2000 characters and refuses 2001 on input.person.description', async () => {
    const long = '灰色上衣，'.repeat(400);
    expect((await openCaseFor(hub, station.token, { description: long })).person.description).toBe(long);
    await expectRefused({ description: `${long}x` }, 'input.person.description');
  });

  it('folds duplicate vulnerabilities', async () => {
    const c = await openCaseFor(hub, station.token, {
      vulnerabilities: ['MENTAL_ILLNESS', 'PHYSICAL_DISABILITY', 'MENTAL_ILLNESS', 'PHYSICAL_DISABILITY'],
    });
    expect([...c.person.vulnerabilities].sort()).toEqual(['MENTAL_ILLNESS', 'PHYSICAL_DISABILITY']);
  });

  it('records a person without name or ID number as of UNKNOWN identity, and a named one as SELF_REPORTED', async () => {
    expect((await openCaseFor(hub, station.token, { description: '穿灰色上衣' })).person.identityStatus).toBe('UNKNOWN');
    expect((await openCaseFor(hub, station.token, { name: '王小明' })).person.identityStatus).toBe('SELF_REPORTED');
  });
});

describe('age group at the opening of a case', () => {
  it.each([
    [17, 'MINOR'],
    [18, 'ADULT'],
    [59, 'ADULT'],
    [60, 'ELDERLY'],
    [90, 'ELDERLY'],
  ])('is, for a person aged %i by birth year, %s', async (age, group) => {
    const c = await openCaseFor(hub, station.token, { birthYear: thisYear() - age });
    expect(c.ageGroupAtOpening).toBe(group);
  });

  it('is UNKNOWN without a birth year', async () => {
    expect((await openCaseFor(hub, station.token, {})).ageGroupAtOpening).toBe('UNKNOWN');
  });

  it('stays what it was at the opening when the birth year is corrected later', async () => {
    const c = await openCaseFor(hub, station.token, { birthYear: thisYear() - 10 });
    await hub.hub.db.query(`UPDATE person SET birth_year = $2 WHERE id = $1`, [uuidOf(c.person.id), thisYear() - 70]);
    const { rescueCase } = await hub.ok(RescueCaseDocument, { id: c.id }, station.token);
    expect(rescueCase).toMatchObject({ ageGroupAtOpening: 'MINOR', person: { ageGroup: 'ELDERLY' } });
  });
});

describe('the log', () => {
  it('holds no ID number after all of the above, accepted or refused', () => {
    expect(hub.logLines.length).toBeGreaterThan(0);
    expect(hub.logLines.join('\n')).not.toMatch(/\d{17}[\dXx]/);
  });
});
