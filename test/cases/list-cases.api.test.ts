import {
  CasesDocument,
  CasesWithPeopleDocument,
  CloseCaseDocument,
  ConfirmReceiptDocument,
  LogEscortedPersonDocument,
  OpenCaseDocument,
  type CasesWithPeopleQuery,
} from '../generated/graphql';
import { errorOf, idNumber, openCaseFor, uuidOf } from '../persons/people';
import { anAgency, type TestAgency } from '../support/builders';
import { requestStatementsDuring } from '../audit/sql-spy';
import { codeOf, startTestHub, type GraphQLResponse, type TestHub } from '../support/hub';

let hub: TestHub;
let station: TestAgency;
let otherStation: TestAgency;
let police: TestAgency;
/** The station's 50 cases, newest first. */
let caseIds: string[];

beforeAll(async () => {
  hub = await startTestHub();
  [station, otherStation, police] = await Promise.all([
    anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY'),
    anAgency(hub, 'RESCUE_STATION', '广州市救助管理站', '440103', 'GZ'),
    anAgency(hub, 'POLICE_STATION', '长湖派出所', '430406'),
  ]);
  caseIds = [];
  for (let batch = 0; batch < 5; batch++) {
    const opened = await Promise.all(Array.from({ length: 10 }, (_, i) => openCaseFor(hub, station.token, { name: `测试${batch}${i}` })));
    caseIds.push(...opened.map((c) => c.id));
  }
  await Promise.all(Array.from({ length: 3 }, () => openCaseFor(hub, otherStation.token, {})));
});
afterAll(() => hub.stop());

const page = (vars: { first?: number; after?: string | null; filter?: Record<string, unknown> }, token = station.token) =>
  hub.ok(CasesDocument, vars, token);

describe('cases(filter, first, after)', () => {
  it('pages through the station’s cases newest first, each exactly once, with totalCount', async () => {
    const seen: string[] = [];
    const openedAt: string[] = [];
    let after: string | null = null;
    const sizes: number[] = [];
    for (;;) {
      const { cases }: Awaited<ReturnType<typeof page>> = await page({ first: 20, after });
      expect(cases.totalCount).toBe(50);
      sizes.push(cases.edges.length);
      seen.push(...cases.edges.map((e) => e.node.id));
      openedAt.push(...cases.edges.map((e) => e.node.openedAt));
      if (!cases.pageInfo.hasNextPage) break;
      after = cases.pageInfo.endCursor!;
      expect(after).toBe(cases.edges.at(-1)!.cursor);
    }
    expect(sizes).toEqual([20, 20, 10]);
    expect(new Set(seen).size).toBe(50);
    expect([...seen].sort()).toEqual([...caseIds].sort());
    const times = openedAt.map((t) => Date.parse(t));
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('keeps the pages stable while cases are opened', async () => {
    const fresh = await anAgency(hub, 'RESCUE_STATION', '长沙市救助管理站', '430102', 'CS');
    for (let i = 0; i < 6; i++) await openCaseFor(hub, fresh.token, {});
    const p1 = (await page({ first: 3 }, fresh.token)).cases;
    const p2before = (await page({ first: 3, after: p1.pageInfo.endCursor }, fresh.token)).cases;
    const newer = await openCaseFor(hub, fresh.token, {});
    const p2after = (await page({ first: 3, after: p1.pageInfo.endCursor }, fresh.token)).cases;
    expect(p2after.edges.map((e) => e.node.id)).toEqual(p2before.edges.map((e) => e.node.id));
    expect(p2after.totalCount).toBe(7);
    expect((await page({ first: 1 }, fresh.token)).cases.edges[0].node.id).toBe(newer.id);
  });

  it('orders cases opened in the same instant in a fixed order, without skipping any', async () => {
    const fresh = await anAgency(hub, 'RESCUE_STATION', '株洲市救助管理站', '430202', 'ZZ');
    for (let i = 0; i < 4; i++) await openCaseFor(hub, fresh.token, {});
    await hub.hub.db.query(`UPDATE rescue_case SET opened_at = '2026-01-01T00:00:00+08:00' WHERE station_id = $1`, [uuidOf(fresh.id)]);
    const ids: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 4; i++) {
      const { cases }: Awaited<ReturnType<typeof page>> = await page({ first: 1, after }, fresh.token);
      ids.push(cases.edges[0].node.id);
      after = cases.pageInfo.endCursor;
    }
    expect(new Set(ids).size).toBe(4);
    const all = (await page({ first: 4 }, fresh.token)).cases.edges.map((e) => e.node.id);
    expect(ids).toEqual(all);
  });

  it.each([0, -1, 101])('refuses first: %i (BAD_USER_INPUT on first)', async (first) => {
    const res = await hub.request(CasesDocument, { first }, station.token);
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('accepts first: 100 and defaults to 20', async () => {
    expect((await page({ first: 100 })).cases.edges).toHaveLength(50);
    expect((await page({})).cases.edges).toHaveLength(20);
  });

  it('refuses a cursor it did not issue (BAD_USER_INPUT on after)', async () => {
    const res = await hub.request(CasesDocument, { first: 5, after: 'not-a-cursor' }, station.token);
    expect(errorOf(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('shows a station only its own cases, whatever the filter', async () => {
    const theirs = (await page({ first: 100 }, otherStation.token)).cases;
    expect(theirs.totalCount).toBe(3);
    expect(theirs.edges.every((e) => e.node.station.id === otherStation.id)).toBe(true);
    const peeking = (await page({ first: 100, filter: { stationId: station.id } }, otherStation.token)).cases;
    expect(peeking).toMatchObject({ totalCount: 0, edges: [] });
  });

  it('shows the police only the cases of persons they are party to', async () => {
    expect((await page({ first: 100 }, police.token)).cases.totalCount).toBe(0);
    // One person the police bring in and hand over (the case is broughtBy them) ...
    const escort = (
      await hub.ok(
        LogEscortedPersonDocument,
        { input: { stationId: otherStation.id, foundAt: '火车站', escortNames: ['李警官'], person: { gender: 'MALE' } } },
        police.token,
      )
    ).logEscortedPerson;
    const { confirmReceipt } = await hub.ok(ConfirmReceiptDocument, { input: { referralId: escort.id } }, otherStation.token);
    expect(confirmReceipt.case?.broughtBy?.id).toBe(police.id);
    // ... and one registered at the desk while the police still hold them.
    const held = (
      await hub.ok(
        LogEscortedPersonDocument,
        { input: { stationId: otherStation.id, foundAt: '汽车站', escortNames: ['王警官'], person: { gender: 'FEMALE' } } },
        police.token,
      )
    ).logEscortedPerson;
    const { openCase } = await hub.ok(
      OpenCaseDocument,
      { input: { intakeChannel: 'POLICE_ESCORT', personId: held.person.id } },
      otherStation.token,
    );
    const seen = (await page({ first: 100 }, police.token)).cases;
    expect(seen.totalCount).toBe(2);
    expect(seen.edges.map((e) => e.node.id).sort()).toEqual([confirmReceipt.case!.id, openCase.id].sort());
  });

  it('filters by status', async () => {
    await hub.ok(CloseCaseDocument, { input: { caseId: caseIds[0], outcome: 'LEFT_VOLUNTARILY' } }, station.token);
    const closed = (await page({ first: 100, filter: { status: 'CLOSED' } })).cases;
    expect(closed.edges.map((e) => e.node.id)).toEqual([caseIds[0]]);
    expect((await page({ first: 100, filter: { status: 'OPEN' } })).cases.totalCount).toBe(49);
  });

  it('is UNAUTHENTICATED without a token', async () => {
    expect(codeOf(await hub.request(CasesDocument, { first: 5 }))).toBe('UNAUTHENTICATED');
  });
});

describe('batching (DataLoaders)', () => {
  it('loads a page of 50 cases with person, custodian and station in as many SQL statements as a page of 10', async () => {
    await hub.request(CasesWithPeopleDocument, { first: 1 }, station.token); // warm up
    let ten: GraphQLResponse<CasesWithPeopleQuery> | undefined;
    let fifty: GraphQLResponse<CasesWithPeopleQuery> | undefined;
    const s10 = await requestStatementsDuring(async () => (ten = await hub.request(CasesWithPeopleDocument, { first: 10 }, station.token)));
    const s50 = await requestStatementsDuring(
      async () => (fifty = await hub.request(CasesWithPeopleDocument, { first: 50 }, station.token)),
    );
    expect(ten!.errors).toBeUndefined();
    expect(fifty!.errors).toBeUndefined();
    const edges = fifty!.data!.cases.edges;
    expect(edges).toHaveLength(50);
    expect(edges.filter((e) => e.node.person.custodian?.id === station.id).length).toBeGreaterThanOrEqual(49);
    expect(edges.every((e) => e.node.station.id === station.id)).toBe(true);
    // The page with its persons, their custody and the audit entries of their reads, in one statement (the token,
    // stations and agencies: caches).
    expect(s10.length).toBe(1);
    expect(s10[0]).toMatch(/INSERT INTO audit_log/);
    expect(s50.length).toBe(s10.length);
    expect(s50.length).toBeLessThan(20);
  });

  it("reads a station's own persons and their open custody with the page itself: no need-to-know or person statement", async () => {
    const statements = await requestStatementsDuring(() => hub.ok(CasesWithPeopleDocument, { first: 50 }, station.token));
    // The need-to-know check (access.policy.ts) and the loaders' own reads of persons and custody records.
    expect(statements.filter((s) => /holds_case/.test(s))).toEqual([]);
    expect(statements.filter((s) => /FROM\s+"?person"?\s+t\b/i.test(s))).toEqual([]);
    expect(statements.filter((s) => /FROM\s+custody_record\s+t\b/i.test(s))).toEqual([]);
  });

  it('still asks need to know for the page of an agency that is not the cases’ station', async () => {
    const escort = (
      await hub.ok(
        LogEscortedPersonDocument,
        { input: { stationId: station.id, foundAt: '解放路', escortNames: ['赵警官'], person: { gender: 'MALE', name: '护送来的人' } } },
        police.token,
      )
    ).logEscortedPerson;
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: escort.id } }, station.token);
    let page: CasesWithPeopleQuery | undefined;
    const statements = await requestStatementsDuring(
      async () => (page = await hub.ok(CasesWithPeopleDocument, { first: 5 }, police.token)),
    );
    expect(page!.cases.edges.map((e) => e.node.person.id)).toContain(escort.person.id);
    expect(statements.filter((s) => /holds_case/.test(s))).toHaveLength(1);
  });

  it('reads the referrals of a whole page in one statement, and none when the query does not show them', async () => {
    const post = async (query: string) => {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${station.token}` },
        body: JSON.stringify({ query }),
      });
      const body = (await res.json()) as {
        data?: { cases: { edges: { node: { id: string; referrals?: { id: string }[] } }[] } };
        errors?: unknown;
      };
      expect(body.errors).toBeUndefined();
      return body.data!.cases.edges.map((e) => e.node);
    };
    const referralReads = (statements: string[]) => statements.filter((s) => /"__key"[\s\S]*FROM\s+"?referral"?\s+t\b/i.test(s));
    let withReferrals: { id: string; referrals?: { id: string }[] }[] = [];
    const shown = await requestStatementsDuring(
      async () => (withReferrals = await post('{ cases(first: 50) { edges { node { id referrals { id } } } } }')),
    );
    expect(referralReads(shown)).toHaveLength(1);
    expect(referralReads(await requestStatementsDuring(() => post('{ cases(first: 50) { edges { node { id } } } }')))).toEqual([]);
    // The same referrals, in the same order, as each case read alone.
    for (const node of withReferrals.filter((n) => n.referrals!.length > 0).slice(0, 3)) {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${station.token}` },
        body: JSON.stringify({ query: 'query ($id: ID!) { rescueCase(id: $id) { referrals { id } } }', variables: { id: node.id } }),
      });
      const one = (await res.json()) as { data: { rescueCase: { referrals: { id: string }[] } } };
      expect(one.data.rescueCase.referrals).toEqual(node.referrals);
    }
    expect(withReferrals.some((n) => n.referrals!.length > 0)).toBe(true);
  });

  it('writes the reads of a whole page to the audit log in one INSERT', async () => {
    let requestId = '';
    const statements = await requestStatementsDuring(async () => {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${station.token}` },
        body: JSON.stringify({
          query: 'query { cases(first: 50) { edges { node { person { id idNumber } } } } }',
        }),
      });
      requestId = res.headers.get('x-request-id') ?? '';
      expect(res.status).toBe(200);
    });
    expect(statements.filter((s) => /INSERT\s+INTO\s+"?audit_log/i.test(s))).toHaveLength(1);
    const rows: { action: string; n: number }[] = await hub.hub.db.query(
      `SELECT action, count(DISTINCT subject_id)::int AS n FROM audit_log WHERE request_id = $1 GROUP BY action ORDER BY action`,
      [requestId],
    );
    expect(rows).toEqual([{ action: 'person.read', n: 50 }]);
  });

  describe("the page's statement writes the reads of the persons it shows", () => {
    const readsOf = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${station.token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: { cases: { edges: { node: { person?: { id: string } } }[] } }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      const rows: { subject_id: string }[] = await hub.hub.db.query(
        `SELECT subject_id FROM audit_log WHERE request_id = $1 AND action = 'person.read' ORDER BY subject_id`,
        [res.headers.get('x-request-id')],
      );
      const shown = body.data!.cases.edges.flatMap((e) => (e.node.person ? [uuidOf(e.node.person.id)] : []));
      return { written: rows.map((r) => r.subject_id), shown: [...shown].sort() };
    };

    it('one entry for each person shown, none for the row read to tell whether a next page exists', async () => {
      const { written, shown } = await readsOf('{ cases(first: 3) { pageInfo { hasNextPage } edges { node { person { id } } } } }');
      expect(shown).toHaveLength(3);
      expect(written).toEqual(shown);
    });

    it('the persons of a later page, not those of the first', async () => {
      const first = await hub.ok(CasesDocument, { first: 2 }, station.token);
      const { written, shown } = await readsOf(
        'query ($after: String) { cases(first: 2, after: $after) { edges { node { person { id } } } } }',
        { after: first.cases.pageInfo.endCursor },
      );
      expect(shown).toHaveLength(2);
      expect(written).toEqual(shown);
    });

    it('nothing when @skip or @include drops the persons', async () => {
      const skip = 'query ($no: Boolean!) { cases(first: 5) { edges { node { id person @skip(if: $no) { id } } } } }';
      const include =
        'query ($yes: Boolean!) { cases(first: 5) { edges { node { id ... on RescueCase @include(if: $yes) { person { id } } } } } }';
      for (const [query, variables] of [
        [skip, { no: true }],
        [include, { yes: false }],
      ] as const) {
        const { written, shown } = await readsOf(query, variables);
        expect(shown).toEqual([]);
        expect(written).toEqual([]);
      }
      for (const [query, variables] of [
        [skip, { no: false }],
        [include, { yes: true }],
      ] as const) {
        const { written, shown } = await readsOf(query, variables);
        expect(shown).toHaveLength(5);
        expect(written).toEqual(shown);
      }
    });
  });
});

// Last: the person opened here, with an ID number, becomes the newest of the station's page.
describe('what a station sees of its own page', () => {
  it('shows a station the whole ID number of the persons of its own page, as for one person read alone', async () => {
    const id = idNumber('430406', '19800517');
    const opened = await openCaseFor(hub, station.token, { name: '有身份证的人', idNumber: id });
    const { cases } = await hub.ok(CasesWithPeopleDocument, { first: 1 }, station.token);
    expect(cases.edges[0].node.id).toBe(opened.id);
    expect(cases.edges[0].node.person.idNumber).toBe(id);
    const { cases: otherPage } = await hub.ok(CasesWithPeopleDocument, { first: 1 }, otherStation.token);
    expect(otherPage.edges[0].node.person.idNumber).not.toBe(id);
  });
});
