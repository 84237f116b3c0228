import {
  EvCloseCaseDocument,
  EvConfirmReceiptDocument,
  EvLogEscortedPersonDocument,
  LiveOccupancyDocument,
  OccupancyNowDocument,
  type OccupancyCountsFragment,
} from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, dispatch, type Agencies } from './scenario';

let hub: TestHub;
let a: Agencies;
const open: Live<unknown>[] = [];
beforeAll(async () => {
  // Re-counts without events often, so that "sent only when it changed" is put to the test.
  hub = await startTestHub({ HUB_OCCUPANCY_REFRESH: '100ms' });
  a = await theSeedAgencies(hub);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  await hub.stop();
});

type Counts = Omit<OccupancyCountsFragment, 'station' | 'at'>;
const ZERO: Counts = { inStation: 0, inHospital: 0, inWelfareHome: 0, inTransit: 0, overdueCases: 0 };
const countsOf = ({ station: _s, at: _a, ...counts }: OccupancyCountsFragment): Counts => counts;

function watch(token: string, stationId = a.station.id) {
  const live = subscribe(hub.url, token, LiveOccupancyDocument, { stationId });
  open.push(live as Live<unknown>);
  return {
    live,
    counts: () => live.items.map((i) => countsOf(i.occupancy)),
    /** Waits for the n-th value and returns its counts. */
    nth: async (n: number) => countsOf((await live.count(n))[n - 1].occupancy),
  };
}

describe('occupancy', () => {
  it('is sent at once, changes when a person is received into the station and when they leave, and only then', async () => {
    const station = watch(a.station.token);
    expect(await station.nth(1)).toEqual(ZERO);

    // The police are on their way with a man: not the station's yet.
    const { logEscortedPerson: escort } = await hub.ok(
      EvLogEscortedPersonDocument,
      {
        input: {
          person: { gender: 'MALE', birthYear: 1975, description: '约五十岁' },
          stationId: a.station.id,
          foundAt: '火车站广场',
          escortNames: ['李警官'],
        },
      },
      a.police.token,
    );
    await new Promise((r) => setTimeout(r, 250)); // a few re-counts: nothing changed for the station, nothing sent
    expect(station.live.items).toHaveLength(1);

    const { confirmReceipt } = await hub.ok(EvConfirmReceiptDocument, { input: { referralId: escort.id } }, a.station.token);
    expect(await station.nth(2)).toEqual({ ...ZERO, inStation: 1 });

    await hub.ok(EvCloseCaseDocument, { input: { caseId: confirmReceipt.case!.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    expect(await station.nth(3)).toEqual(ZERO);
    await new Promise((r) => setTimeout(r, 250));
    expect(station.live.items).toHaveLength(3);
    expect(station.live.errors).toEqual([]);
  });

  it('follows a person from the desk to the hospital: in the station, in transit, in hospital, overdue', async () => {
    const station = watch(a.station.token);
    const admin = watch(hub.adminToken);
    expect(await station.nth(1)).toEqual(ZERO);
    await admin.nth(1);

    // Opened at the desk: no referral event, the case's own wake-up.
    const { caseId, personId } = await aPersonAtTheStation(hub, a);
    expect(await station.nth(2)).toEqual({ ...ZERO, inStation: 1 });

    const referralId = await anEvaluationRequest(hub, a, personId);
    await dispatch(hub, a.station.token, referralId); // the station escorts him itself: still its custody
    expect(await station.nth(3)).toEqual({ ...ZERO, inStation: 1, inTransit: 1 });

    await hub.ok(EvConfirmReceiptDocument, { input: { referralId } }, a.hospital.token);
    expect(await station.nth(4)).toEqual({ ...ZERO, inHospital: 1 });

    // The rescue period runs out with no event at all: the clock alone makes the case overdue.
    await hub.hub.db.query(`UPDATE rescue_case SET rescue_period_ends_at = now() - interval '1 day' WHERE id = $1`, [
      Buffer.from(caseId, 'base64url').toString('utf8').split(':')[1],
    ]);
    expect(await station.nth(5)).toEqual({ ...ZERO, inHospital: 1, overdueCases: 1 });

    const now = (await hub.ok(OccupancyNowDocument, { stationId: a.station.id }, a.station.supervisorToken)).occupancy;
    expect(countsOf(now)).toEqual({ ...ZERO, inHospital: 1, overdueCases: 1 });
    expect(now.station.id).toBe(a.station.id);
    await eventually('the administrator saw the same', () => admin.counts().at(-1)?.overdueCases === 1);
    expect(admin.counts().at(-1)).toEqual(countsOf(now));
  });

  it('is FORBIDDEN to other agencies, by query and by subscription', async () => {
    for (const agency of [a.hospital, a.police, a.otherStation]) {
      expect(codeOf(await hub.request(OccupancyNowDocument, { stationId: a.station.id }, agency.token))).toBe('FORBIDDEN');
    }
    const hospital = watch(a.hospital.token);
    await eventually('an error', () => hospital.live.errors.length > 0);
    expect(hospital.live.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(hospital.live.items).toEqual([]);
  });

  it('asks for a rescue station: BAD_USER_INPUT for another kind of agency, NOT_FOUND for none', async () => {
    const res = await hub.request(OccupancyNowDocument, { stationId: a.hospital.id }, hub.adminToken);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'stationId' });
    const unknown = Buffer.from('Agency:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codeOf(await hub.request(OccupancyNowDocument, { stationId: unknown }, hub.adminToken))).toBe('NOT_FOUND');
  });
});
