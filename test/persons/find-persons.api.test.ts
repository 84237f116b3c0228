import { FindPersonsDocument, PersonDocument, type FindPersonsQuery, type FindPersonsQueryVariables } from '../generated/graphql';
import { anAgency, type TestAgency } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';
import { errorOf, idNumber, idNumberEndingInX, openCaseFor, uuidOf } from './people';

let hub: TestHub;
let station: TestAgency;
let otherStation: TestAgency;
beforeAll(async () => {
  hub = await startTestHub();
  [station, otherStation] = await Promise.all([
    anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY'),
    anAgency(hub, 'RESCUE_STATION', '广州市救助管理站', '440103', 'GZ'),
  ]);
});
afterAll(() => hub.stop());

type Match = FindPersonsQuery['findPersons'][number];

const find = async (input: FindPersonsQueryVariables['input'], token = station.token) =>
  (await hub.ok(FindPersonsDocument, { input }, token)).findPersons;

const matchOf = (matches: Match[], personId: string) => matches.find((m) => m.person.id === personId);

describe('findPersons', () => {
  it('takes an equal ID number as a certain match: score 1, matched on idNumber', async () => {
    const number = idNumberEndingInX('430521', '19800315');
    const c = await openCaseFor(hub, station.token, { name: '刘德明', idNumber: number });
    const matches = await find({ idNumber: number.toLowerCase() });
    expect(matches[0]).toMatchObject({ score: 1, matchedOn: ['idNumber'], person: { id: c.person.id, idNumber: number } });
  });

  it('finds an earlier record of the same Chinese name', async () => {
    const c = await openCaseFor(hub, station.token, { name: '李秀英', birthYear: 1958 });
    const m = matchOf(await find({ name: '李秀英' }), c.person.id);
    expect(m).toBeDefined();
    expect(m!.matchedOn).toContain('name');
  });

  it('finds an earlier record registered with one character of the name different (张健国 for 张建国)', async () => {
    const c = await openCaseFor(hub, station.token, { name: '张健国', birthYear: 1980, originRegionCode: '430521', gender: 'MALE' });
    const matches = await find({ name: '张建国', birthYear: 1981, originRegionCode: '430521', gender: 'MALE' });
    const m = matchOf(matches, c.person.id);
    expect(m).toBeDefined();
    expect([...m!.matchedOn].sort()).toEqual(['birthYear', 'gender', 'name', 'originRegionCode']);
    expect(m!.score).toBeGreaterThan(0.5);
    expect(m!.score).toBeLessThan(1);
  });

  it('finds an earlier record registered in pinyin written differently (Zhang Jian-guo for Zhang Jianguo)', async () => {
    const c = await openCaseFor(hub, station.token, { name: 'Zhang Jian-guo' });
    const m = matchOf(await find({ name: 'Zhang Jianguo' }), c.person.id);
    expect(m?.matchedOn).toContain('name');
  });

  it('does not count a shared surname alone as the same name', async () => {
    const c = await openCaseFor(hub, station.token, { name: '黄三' });
    const m = matchOf(await find({ name: '黄伟' }), c.person.id);
    expect(m?.matchedOn ?? []).not.toContain('name');
  });

  it('ranks the closer record first, and ranks the same way every time (ties in a fixed order)', async () => {
    const close = await openCaseFor(hub, station.token, { name: '陈国强', birthYear: 1970, originRegionCode: '430406' });
    const twins: Awaited<ReturnType<typeof openCaseFor>>[] = [];
    for (let i = 0; i < 3; i++) twins.push(await openCaseFor(hub, station.token, { name: '陈国强', birthYear: 1990 }));
    const query = { name: '陈国强', birthYear: 1970, originRegionCode: '430406' };
    const first = await find(query);
    expect(first[0].person.id).toBe(close.person.id);
    const scores = first.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    const tied = first.filter((m) => twins.some((t) => t.person.id === m.person.id));
    expect(tied).toHaveLength(3);
    expect(new Set(tied.map((m) => m.score)).size).toBe(1);
    expect(tied.map((m) => uuidOf(m.person.id))).toEqual(twins.map((t) => uuidOf(t.person.id)).sort());
    for (let i = 0; i < 3; i++) expect((await find(query)).map((m) => m.person.id)).toEqual(first.map((m) => m.person.id));
  });

  it('shows a station that is not party only that the record exists, with the attributes that matched', async () => {
    const number = idNumber('430521', '19650505');
    const c = await openCaseFor(hub, station.token, {
      name: '赵建华',
      idNumber: number,
      description: '左手有疤',
      vulnerabilities: ['MENTAL_ILLNESS'],
    });
    const m = matchOf(await find({ name: '赵建华', birthYear: 1965 }, otherStation.token), c.person.id);
    expect(m).toBeDefined();
    expect([...m!.matchedOn].sort()).toEqual(['birthYear', 'name']);
    expect(m!.person).toEqual({
      id: c.person.id,
      name: '赵建华',
      birthYear: 1965,
      gender: 'UNKNOWN',
      idNumber: null,
      identityStatus: 'UNKNOWN',
      originRegionCode: null,
      vulnerabilities: [],
      description: null,
      ageGroup: expect.any(String),
      custodian: null,
      custodyHistory: [],
      currentCase: null,
      cases: [],
    });
    // Knowing that the record exists does not open it.
    expect(codeOf(await hub.request(PersonDocument, { id: c.person.id }, otherStation.token))).toBe('NOT_FOUND');
    // The station with the case sees all of it.
    const own = matchOf(await find({ name: '赵建华', birthYear: 1965 }), c.person.id);
    expect(own!.person).toMatchObject({
      idNumber: number,
      description: '左手有疤',
      vulnerabilities: ['MENTAL_ILLNESS'],
      custodian: { id: station.id },
      cases: [{ id: c.id }],
    });
  });

  it('shows a station that is not party an ID-number match without the number itself', async () => {
    const number = idNumber('430521', '19660606');
    const c = await openCaseFor(hub, station.token, { name: '孙立新', idNumber: number });
    const [m] = await find({ idNumber: number }, otherStation.token);
    expect(m).toMatchObject({
      score: 1,
      matchedOn: ['idNumber'],
      person: { id: c.person.id, name: null, idNumber: null, birthYear: null },
    });
  });

  it('writes a read of the full records it shows to the audit log', async () => {
    const c = await openCaseFor(hub, station.token, { name: '马永福' });
    const reads = async () =>
      (
        await hub.hub.db.query(`SELECT agency_id FROM audit_log WHERE subject_id = $1 AND action = 'person.read'`, [uuidOf(c.person.id)])
      ).map((r: { agency_id: string }) => r.agency_id);
    const before = await reads();
    await find({ name: '马永福' });
    expect(await reads()).toEqual([...before, uuidOf(station.id)]);
  });

  it.each([
    [{}, 'input'],
    [{ name: '   ' }, 'input'],
    [{ name: '张三', limit: 0 }, 'input.limit'],
    [{ name: '张三', limit: 51 }, 'input.limit'],
    [{ idNumber: '430521198003151239' }, 'input.idNumber'],
    [{ originRegionCode: '990000' }, 'input.originRegionCode'],
    [{ birthYear: 1899 }, 'input.birthYear'],
    [{ name: '张'.repeat(51) }, 'input.name'],
  ])('refuses %j with BAD_USER_INPUT on %s', async (input, field) => {
    const res = await hub.request(FindPersonsDocument, { input }, station.token);
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('is for rescue and police stations only', async () => {
    const hospital = await anAgency(hub, 'PSYCHIATRIC_HOSPITAL', '第二精神病医院', '430406');
    expect(codeOf(await hub.request(FindPersonsDocument, { input: { name: '张三' } }, hospital.token))).toBe('FORBIDDEN');
    expect(codeOf(await hub.request(FindPersonsDocument, { input: { name: '张三' } }))).toBe('UNAUTHENTICATED');
  });
});
