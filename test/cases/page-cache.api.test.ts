import { print } from 'graphql';
import {
  AcceptReferralDocument,
  IssueAccessTokenDocument,
  OpenCaseDocument,
  OverdueStationPageDocument,
  RequestReferralDocument,
  StationDashboardDocument,
  StationPageWithAgeGroupDocument,
  type StationDashboardQuery,
} from '../generated/graphql';
import { requestStatementsDuring } from '../audit/sql-spy';
import { openCaseFor, uuidOf } from '../persons/people';
import { theSeedAgencies, type TestAgency } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { casePageCacheStats } from '../../src/cases/case-page.cache';
import { sweepExpired } from '../../src/referrals/referral.expiry';

/**
 * The station page cache (src/cases/case-page.cache.ts) answers a station's unchanged dashboard again without
 * building it, and is never stale: every answer is what a fresh read would show at that moment, and every answer
 * audits its reads.
 */
let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
let station: TestAgency;
/** Each test its own page size, so that entries of one test never answer another. */
let pageSize = 10;

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
  station = a.station;
  for (let i = 0; i < 3; i++) await openCaseFor(hub, station.token, { name: `缓存${i}` });
});
afterAll(() => hub.stop());

const dashboard = (first: number, token = station.token, stationId = station.id) =>
  hub.ok(StationDashboardDocument, { stationId, first }, token);

/** How many times the cache has answered so far. */
const hits = () => casePageCacheStats.hits;

/** The 'person.read' entries written by the request with this id. */
async function readsOfRequest(requestId: string): Promise<string[]> {
  return (await entriesOfRequest(requestId)).map((r) => r.subject_id);
}

async function entriesOfRequest(requestId: string): Promise<{ subject_id: string; account_id: string }[]> {
  return hub.hub.db.query(
    `SELECT subject_id, account_id FROM audit_log WHERE request_id = $1 AND action = 'person.read' ORDER BY subject_id`,
    [requestId],
  );
}

/** The dashboard over HTTP with its response headers, for the request id the audit entries carry. */
async function dashboardWithRequestId(first: number, token = station.token): Promise<{ data: StationDashboardQuery; requestId: string }> {
  const res = await fetch(`${hub.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(StationDashboardDocument), variables: { stationId: station.id, first } }),
  });
  const body = (await res.json()) as { data: StationDashboardQuery; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return { data: body.data, requestId: res.headers.get('x-request-id')! };
}

/** The station asks the hospital to evaluate the person of a case on its page that has no referral yet. */
async function referralForACaseWithoutOne() {
  const page = await dashboard(pageSize);
  const node = page.cases.edges.find((e) => e.node.referrals.length === 0)!.node;
  const { requestReferral } = await hub.ok(
    RequestReferralDocument,
    { input: { personId: node.person.id, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
    station.token,
  );
  return { node, requestReferral };
}

beforeEach(() => {
  pageSize++;
});

describe('a station’s unchanged dashboard', () => {
  it('is answered again from the cache, the same answer, in one statement', async () => {
    const first = await dashboard(pageSize);
    const before = hits();
    let again: StationDashboardQuery | undefined;
    const statements = await requestStatementsDuring(async () => (again = await dashboard(pageSize)));
    expect(hits()).toBe(before + 1);
    expect(again).toEqual(first);
    expect(statements).toHaveLength(1);
  });

  it('still writes a person.read entry for every person it shows, each time', async () => {
    const built = await dashboardWithRequestId(pageSize);
    const before = hits();
    const cached = await dashboardWithRequestId(pageSize);
    expect(hits()).toBe(before + 1);
    const shown = built.data.cases.edges.map((e) => uuidOf(e.node.person.id)).sort();
    expect(shown.length).toBeGreaterThan(0);
    expect(await readsOfRequest(built.requestId)).toEqual(shown);
    expect(await readsOfRequest(cached.requestId)).toEqual(shown);
  });

  it('is shared by the station’s screens: another account of the station is answered from it, audited as its own', async () => {
    const { issueAccessToken } = await hub.ok(
      IssueAccessTokenDocument,
      { input: { agencyId: station.id, displayName: '第二块屏幕', role: 'STAFF' } },
      hub.adminToken,
    );
    const first = await dashboardWithRequestId(pageSize);
    const before = hits();
    const second = await dashboardWithRequestId(pageSize, issueAccessToken.token);
    expect(hits()).toBe(before + 1);
    expect(second.data).toEqual(first.data);
    const [byFirst, bySecond] = [await entriesOfRequest(first.requestId), await entriesOfRequest(second.requestId)];
    expect(bySecond.map((e) => e.subject_id)).toEqual(byFirst.map((e) => e.subject_id));
    expect(new Set(bySecond.map((e) => e.account_id)).size).toBe(1);
    expect(bySecond[0].account_id).not.toBe(byFirst[0].account_id);
  });

  it('is not another agency’s: a station asking with the same variables gets its own page', async () => {
    await dashboard(pageSize);
    const other = await dashboard(pageSize, a.otherStation.token);
    expect(other.cases.totalCount).toBe(0); // not its station: it sees none of those cases
  });
});

describe('a change shows at once', () => {
  it('a case opened at the station', async () => {
    const before = await dashboard(pageSize);
    const { openCase } = await hub.ok(
      OpenCaseDocument,
      { input: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'FEMALE', name: '新到' } } },
      station.token,
    );
    const after = await dashboard(pageSize);
    expect(after.cases.totalCount).toBe(before.cases.totalCount + 1);
    expect(after.cases.edges[0].node.id).toBe(openCase.id);
  });

  it('a referral requested by the station, then accepted by the hospital (another agency’s change)', async () => {
    const { node, requestReferral } = await referralForACaseWithoutOne();
    const requested = await dashboard(pageSize);
    expect(requested.cases.edges.find((e) => e.node.id === node.id)!.node.referrals.map((r) => [r.id, r.status])).toEqual([
      [requestReferral.id, 'REQUESTED'],
    ]);
    await dashboard(pageSize); // cached again
    await hub.ok(AcceptReferralDocument, { input: { referralId: requestReferral.id } }, a.hospital.token);
    const accepted = await dashboard(pageSize);
    expect(accepted.cases.edges.find((e) => e.node.id === node.id)!.node.referrals[0].status).toBe('ACCEPTED');
  });

  it('a referral expired by the hub itself, with no account behind it', async () => {
    const { node, requestReferral } = await referralForACaseWithoutOne();
    await dashboard(pageSize);
    await dashboard(pageSize); // cached
    // The answer deadline passed: what the background sweep does, done now.
    await hub.hub.db.query(`UPDATE referral SET respond_by = now() - interval '1 second' WHERE id = $1`, [uuidOf(requestReferral.id)]);
    expect(await sweepExpired(hub.hub.db)).toBeGreaterThan(0);
    const expired = await dashboard(pageSize);
    expect(expired.cases.edges.find((e) => e.node.id === node.id)!.node.referrals[0].status).toBe('EXPIRED');
  });

  it('while a change at another station leaves the page cached', async () => {
    await dashboard(pageSize);
    await openCaseFor(hub, a.otherStation.token, { name: '别处' });
    const before = hits();
    await dashboard(pageSize);
    expect(hits()).toBe(before + 1);
  });
});

describe('what the cache does not keep', () => {
  it('a case turning overdue ends the entry: the next answer says overdue', async () => {
    const page = await dashboard(pageSize);
    const id = uuidOf(page.cases.edges[0].node.id);
    // The clock, brought forward for one case: its rescue period ends in a second (a direct write, as time is).
    await hub.hub.db.query(`UPDATE rescue_case SET rescue_period_ends_at = now() + interval '1 second' WHERE id = $1`, [id]);
    pageSize++;
    const soon = await dashboard(pageSize);
    expect(soon.cases.edges[0].node.overdue).toBe(false);
    await new Promise((r) => setTimeout(r, 1_200));
    const later = await dashboard(pageSize);
    expect(later.cases.edges[0].node.overdue).toBe(true);
    await hub.hub.db.query(`UPDATE rescue_case SET rescue_period_ends_at = now() + interval '10 days' WHERE id = $1`, [id]);
  });

  it('a page that selects what moves with the calendar (ageGroup)', async () => {
    const stored = casePageCacheStats.stored;
    await hub.ok(StationPageWithAgeGroupDocument, { first: pageSize }, station.token);
    await hub.ok(StationPageWithAgeGroupDocument, { first: pageSize }, station.token);
    expect(casePageCacheStats.stored).toBe(stored);
  });

  it('a page filtered on overdue', async () => {
    const stored = casePageCacheStats.stored;
    await hub.ok(OverdueStationPageDocument, { first: pageSize }, station.token);
    expect(casePageCacheStats.stored).toBe(stored);
  });

  it('a page asked for by an agency that is not a station', async () => {
    const stored = casePageCacheStats.stored;
    await hub.ok(StationDashboardDocument, { stationId: station.id, first: pageSize }, a.hospital.token);
    expect(casePageCacheStats.stored).toBe(stored);
  });
});
