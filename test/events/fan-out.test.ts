import { LISTENER_APPLICATION_NAME } from '../../src/events/event-feed';
import { appendReferralEvents } from '../../src/events/outbox';
import type { Hub } from '../../src/server/app';
import { LiveOccupancyDocument } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startAnotherHub, startTestHub, type TestHub } from '../support/hub';
import { eventually, followOn as followLive, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, dispatch, type Agencies } from './scenario';

let hubA: TestHub;
let hubB: Hub;
let a: Agencies;
const open: Live<unknown>[] = [];
// Polls rarely: what arrives here arrives by NOTIFY, or by the listener's own catch-up after a reconnect.
const QUIET = { HUB_EVENT_POLL: '1h' };
beforeAll(async () => {
  hubA = await startTestHub(QUIET);
  hubB = await startAnotherHub(hubA, QUIET);
  a = await theSeedAgencies(hubA);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  await hubB.stop();
  await hubA.stop();
});

const followOn = (hub: Hub, token: string) => followLive(hub, token, open);

/** The listening connections of this test's database, by process. */
async function listeners(): Promise<number[]> {
  const rows: { pid: number }[] = await hubA.hub.db.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() ORDER BY pid`,
    [LISTENER_APPLICATION_NAME],
  );
  return rows.map((r) => r.pid);
}

describe('two hub processes on one database', () => {
  it('each keep one listening connection', async () => {
    expect(await listeners()).toHaveLength(2);
  });

  it('deliver a change made through hub A to a subscriber on hub B', async () => {
    const hospitalOnB = await followOn(hubB, a.hospital.token);
    const stationOnA = await followOn(hubA.hub, a.station.token);
    const { personId } = await aPersonAtTheStation(hubA, a);
    const referralId = await anEvaluationRequest(hubA, a, personId);

    const [onB] = await hospitalOnB.count(1);
    const [onA] = await stationOnA.count(1);
    expect(onB.referralEvents).toMatchObject({ type: 'REQUESTED', referral: { id: referralId } });
    expect(onB.referralEvents.cursor).toBe(onA.referralEvents.cursor);
  });

  it("show on hub B a case opened at hub A's desk (no referral event: the station's own wake-up)", async () => {
    const occupancy = subscribe(hubB.url, a.otherStation.token, LiveOccupancyDocument, { stationId: a.otherStation.id });
    open.push(occupancy as Live<unknown>);
    const [first] = await occupancy.count(1);
    await aPersonAtTheStation(hubA, a, a.otherStation);
    const [, second] = await occupancy.count(2);
    expect(second.occupancy.inStation).toBe(first.occupancy.inStation + 1);
  });
});

describe('the listening connection', () => {
  it('reconnects after it is killed and delivers the events committed meanwhile, then live ones', async () => {
    const station = await followOn(hubB, a.station.token);
    const { personId } = await aPersonAtTheStation(hubA, a);
    const referralId = await anEvaluationRequest(hubA, a, personId);
    await station.count(1);
    const before = await listeners();

    // Both processes' listeners are killed inside a transaction that commits right after: its NOTIFY finds
    // nobody, and the first reconnect comes at least 80 ms later.
    const uuid = Buffer.from(referralId, 'base64url').toString('utf8').split(':')[1];
    await hubA.hub.db.transaction(async (tx) => {
      await appendReferralEvents(tx, [
        { referralId: uuid, type: 'ACCEPTED', status: 'ACCEPTED', actorAccountId: null, actorAgencyId: null },
        { referralId: uuid, type: 'CANCELLED', status: 'CANCELLED', actorAccountId: null, actorAgencyId: null },
      ]);
      await tx.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
        [LISTENER_APPLICATION_NAME],
      );
    });

    const got = await station.count(3);
    expect(got.map((i) => i.referralEvents.type)).toEqual(['REQUESTED', 'ACCEPTED', 'CANCELLED']);
    // Hub B may deliver before hub A has logged its own reconnect: wait for the line, don't race it.
    await eventually('hub A logged its reconnect', () => hubA.logLines.some((l) => l.includes('event listener reconnected')));
    const after = await eventually('both processes listen again', async () => {
      const pids = await listeners();
      return pids.length === 2 && pids;
    });
    expect(after.filter((pid) => before.includes(pid))).toEqual([]);

    // And NOTIFY wakes it again (the poll is an hour away).
    const { personId: next } = await aPersonAtTheStation(hubA, a);
    const nextReferral = await anEvaluationRequest(hubA, a, next);
    await dispatch(hubA, a.station.token, nextReferral);
    const all = await station.count(5);
    expect(all.slice(3).map((i) => i.referralEvents.type)).toEqual(['REQUESTED', 'DISPATCHED']);
    expect(station.closeCodes).toEqual([]);
  });
});
