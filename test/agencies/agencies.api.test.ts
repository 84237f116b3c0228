import { AgenciesDocument, CreateAgencyDocument, IssueAccessTokenDocument, NodeDocument, ViewerDocument } from '../generated/graphql';
import { anAgency } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

describe('createAgency', () => {
  it('creates an agency for the administrator and lists it', async () => {
    const { createAgency } = await hub.ok(
      CreateAgencyDocument,
      { input: { kind: 'RESCUE_STATION', name: '  衡阳市救助管理站 ', regionCode: '430406', shortCode: 'HY' } },
      hub.adminToken,
    );
    expect(createAgency).toMatchObject({ kind: 'RESCUE_STATION', name: '衡阳市救助管理站', regionCode: '430406', shortCode: 'HY' });
    const { agencies } = await hub.ok(AgenciesDocument, { kind: 'RESCUE_STATION' }, hub.adminToken);
    expect(agencies.map((a) => a.id)).toContain(createAgency.id);
  });

  it.each([
    ['430406x', 'input.regionCode'],
    ['990406', 'input.regionCode'],
    ['4304', 'input.regionCode'],
  ])('refuses region code %s with BAD_USER_INPUT naming %s', async (regionCode, field) => {
    const res = await hub.request(CreateAgencyDocument, { input: { kind: 'POLICE_STATION', name: 'x', regionCode } }, hub.adminToken);
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
  });

  it.each(['71', '81', '82', '11', '65'])('accepts the province code %s', async (p) => {
    const res = await hub.request(
      CreateAgencyDocument,
      { input: { kind: 'POLICE_STATION', name: 'x', regionCode: `${p}0100` } },
      hub.adminToken,
    );
    expect(res.errors).toBeUndefined();
  });

  it('refuses an empty name and a bad short code, naming the field', async () => {
    const empty = await hub.request(
      CreateAgencyDocument,
      { input: { kind: 'POLICE_STATION', name: '   ', regionCode: '430406' } },
      hub.adminToken,
    );
    expect(empty.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    const code = await hub.request(
      CreateAgencyDocument,
      { input: { kind: 'RESCUE_STATION', name: 'x', regionCode: '430406', shortCode: 'hy' } },
      hub.adminToken,
    );
    expect(code.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.shortCode' });
  });

  it('is UNAUTHENTICATED without a token and FORBIDDEN to an agency account', async () => {
    const input = { kind: 'POLICE_STATION' as const, name: 'x', regionCode: '430406' };
    expect(codeOf(await hub.request(CreateAgencyDocument, { input }))).toBe('UNAUTHENTICATED');
    const police = await anAgency(hub, 'POLICE_STATION', '长湖派出所', '430406');
    expect(codeOf(await hub.request(CreateAgencyDocument, { input }, police.token))).toBe('FORBIDDEN');
  });
});

describe('issueAccessToken and viewer', () => {
  it('issues a token that authenticates as the account; only its hash is stored', async () => {
    const { createAgency } = await hub.ok(
      CreateAgencyDocument,
      { input: { kind: 'PSYCHIATRIC_HOSPITAL', name: '第二精神病医院', regionCode: '430406' } },
      hub.adminToken,
    );
    const { issueAccessToken } = await hub.ok(
      IssueAccessTokenDocument,
      { input: { agencyId: createAgency.id, displayName: '王医生', role: 'SUPERVISOR' } },
      hub.adminToken,
    );
    const { viewer } = await hub.ok(ViewerDocument, {}, issueAccessToken.token);
    expect(viewer).toEqual({
      isAdmin: false,
      account: {
        id: issueAccessToken.account.id,
        displayName: '王医生',
        role: 'SUPERVISOR',
        agency: { id: createAgency.id, kind: 'PSYCHIATRIC_HOSPITAL', name: '第二精神病医院' },
      },
    });
    const stored: { n: number }[] = await hub.hub.db.query(
      `SELECT count(*)::int AS n FROM account WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`,
      [issueAccessToken.token.slice(4, 20)],
    );
    expect(stored[0].n).toBe(0);
  });

  it('defaults the role to STAFF', async () => {
    const a = await anAgency(hub, 'WELFARE_HOME', '福利院', '430406');
    const { viewer } = await hub.ok(ViewerDocument, {}, a.token);
    expect(viewer.account!.role).toBe('STAFF');
  });

  it('tells the administrator it is the administrator, without an account', async () => {
    expect((await hub.ok(ViewerDocument, {}, hub.adminToken)).viewer).toEqual({ isAdmin: true, account: null });
  });

  it('is UNAUTHENTICATED for an unknown token and without one', async () => {
    expect(codeOf(await hub.request(ViewerDocument, {}, 'hub_not-a-real-token'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await hub.request(ViewerDocument, {}))).toBe('UNAUTHENTICATED');
  });

  it('refuses a token for an agency id that is not an agency', async () => {
    const res = await hub.request(IssueAccessTokenDocument, { input: { agencyId: 'bm9wZQ', displayName: 'x' } }, hub.adminToken);
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.agencyId' });
  });
});

describe('agencies(kind, regionCode)', () => {
  it('filters by kind and by a county, prefecture or province code', async () => {
    const a = await anAgency(hub, 'CIVIL_AFFAIRS_OFFICE', '邵阳市民政局', '430502');
    const b = await anAgency(hub, 'CIVIL_AFFAIRS_OFFICE', '长沙市民政局', '430102');
    const ids = async (regionCode: string) =>
      (await hub.ok(AgenciesDocument, { kind: 'CIVIL_AFFAIRS_OFFICE', regionCode }, a.token)).agencies.map((x) => x.id);
    expect(await ids('430502')).toEqual([a.id]);
    expect(await ids('430500')).toEqual([a.id]);
    expect(await ids('430000')).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(await ids('440000')).toEqual([]);
  });
});

describe('node(id)', () => {
  it('fetches an agency by its opaque id, and null for ids that name nothing', async () => {
    const a = await anAgency(hub, 'POLICE_STATION', '雁峰派出所', '430406');
    const { node } = await hub.ok(NodeDocument, { id: a.id }, a.token);
    expect(node).toEqual({ id: a.id, __typename: 'Agency', name: '雁峰派出所' });
    expect((await hub.ok(NodeDocument, { id: 'garbage' }, a.token)).node).toBeNull();
    expect(a.id).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/); // opaque, not a raw uuid
  });

  it('shows an account to its own agency only', async () => {
    const a = await anAgency(hub, 'POLICE_STATION', 'A所', '430406');
    const b = await anAgency(hub, 'POLICE_STATION', 'B所', '430406');
    const { viewer } = await hub.ok(ViewerDocument, {}, a.token);
    expect((await hub.ok(NodeDocument, { id: viewer.account!.id }, a.token)).node).toMatchObject({ __typename: 'Account' });
    expect((await hub.ok(NodeDocument, { id: viewer.account!.id }, b.token)).node).toBeNull();
  });
});
