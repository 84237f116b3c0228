import { eventFeedOf } from '../../src/events/event-feed';
import { wakeUpsOf } from '../../src/events/wake-up';
import type { Hub } from '../../src/server/app';
import { theSeedAgencies } from '../support/builders';
import { startAnotherHub, startTestHub, type TestHub } from '../support/hub';
import { eventually, followOn, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, dispatch, latestSeqOf, type Agencies } from './scenario';

/**
 * What a hub does for events nobody follows (issue 7): a process with no subscriber reads the event log only to
 * keep its place, at most once per HUB_EVENT_IDLE_READ, and a process alone on its database wakes no other.
 * Neither may cost a subscriber an event.
 */
let hub: TestHub;
let a: Agencies;
const open: Live<unknown>[] = [];
const others: Hub[] = [];
// Neither a poll nor the idle read comes during a test: whatever is read, is read because someone came.
beforeAll(async () => {
  hub = await startTestHub({ HUB_EVENT_POLL: '1h', HUB_EVENT_IDLE_READ: '1h' });
  a = await theSeedAgencies(hub);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  for (const other of others.reverse()) await other.stop();
  await hub.stop();
});

const feed = () => eventFeedOf(hub.hub.db);

const follow = (on: Hub, token: string) => followOn(on, token, open);

async function anotherHub(env: Record<string, string> = {}): Promise<Hub> {
  const other = await startAnotherHub(hub, { HUB_EVENT_POLL: '1h', ...env });
  others.push(other);
  return other;
}

describe('a hub process nobody follows', () => {
  it('does not read the event log at each commit, and a subscriber who comes misses nothing', async () => {
    const reads = feed().readCount;
    const { personId } = await aPersonAtTheStation(hub, a);
    const referralId = await anEvaluationRequest(hub, a, personId);
    expect(feed().readCount).toBe(reads);

    // The hospital subscribes: the feed reads at once what it had gathered, and goes on live.
    const hospital = await follow(hub.hub, a.hospital.token);
    await eventually('the feed has caught up', async () => feed().position === (await latestSeqOf(hub)));
    expect(feed().readCount).toBeGreaterThan(reads);
    await dispatch(hub, a.station.token, referralId);
    // What committed before it came (the REQUESTED), the feed had not dispatched yet: it arrives too, first.
    const items = await hospital.count(2);
    expect(items.map((i) => [i.referralEvents.type, i.referralEvents.referral.id])).toEqual([
      ['REQUESTED', referralId],
      ['DISPATCHED', referralId],
    ]);
    await hospital.dispose();
  });
});

describe('a hub process alone on its database', () => {
  it('wakes nobody when it commits events', async () => {
    const wakeUps = wakeUpsOf(hub.hub.db);
    expect(wakeUps.othersListen).toBe(false);
    const sent = wakeUps.eventWakeUpsSent;
    const { personId } = await aPersonAtTheStation(hub, a);
    await anEvaluationRequest(hub, a, personId);
    expect(wakeUps.eventWakeUpsSent).toBe(sent);
  });

  it('learns at once of a second process (its hello), which learns of the first (the answer), and wakes it from then on', async () => {
    const wakeUps = wakeUpsOf(hub.hub.db);
    const sent = wakeUps.eventWakeUpsSent;
    const b = await anotherHub();
    // Neither polls within the hour: only the hello and its answer can tell them of each other.
    await eventually('A knows of B', () => wakeUps.othersListen);
    await eventually('B knows of A', () => wakeUpsOf(b.db).othersListen);
    // The newcomer gets a wake-up at once, for what A committed while it was starting.
    await eventually('A woke B once on hearing it', () => wakeUps.eventWakeUpsSent > sent);

    const hospitalOnB = await follow(b, a.hospital.token);
    const before = wakeUps.eventWakeUpsSent;
    const { personId } = await aPersonAtTheStation(hub, a);
    const referralId = await anEvaluationRequest(hub, a, personId);
    const [event] = await hospitalOnB.count(1);
    expect(event.referralEvents).toMatchObject({ type: 'REQUESTED', referral: { id: referralId } });
    expect(wakeUps.eventWakeUpsSent).toBeGreaterThan(before);
  });

  it('stops waking a process that stopped, once three of its heartbeats are missed', async () => {
    const wakeUps = wakeUpsOf(hub.hub.db);
    for (const other of others.splice(0)) await other.stop();
    // A process whose heartbeat comes every 500 ms counts for 1.5 s after its last.
    const c = await anotherHub({ HUB_EVENT_POLL: '500ms' });
    const originOfC = wakeUpsOf(c.db).origin;
    await eventually('A knows of C', () => wakeUps.listeningPeers.includes(originOfC));
    // Heartbeats keep it known past the first 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(wakeUps.listeningPeers).toContain(originOfC);
    others.splice(others.indexOf(c), 1);
    await c.stop();
    await eventually('A forgets C', () => !wakeUps.listeningPeers.includes(originOfC));
    // B, stopped before C started, announced an hour's poll: A counts it for three hours. Nothing lost by that: a
    // wake-up too many costs a NOTIFY, never an event.
    expect(wakeUps.othersListen).toBe(true);
  });
});
