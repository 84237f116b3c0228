import { print } from 'graphql';
import WebSocket from 'ws';
import { eventFeedOf } from '../../src/events/event-feed';
import { SUBSCRIBER_TOO_SLOW } from '../../src/events/event-stream';
import { BulkyReferralEventsDocument, EvRequestReferralDocument, LiveReferralEventsDocument } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, wsUrl, type Live } from './live';
import { aPersonAtTheStation, appendEvents, type Agencies } from './scenario';

const BUFFER = 5;
let hub: TestHub;
let a: Agencies;
const open: Live<unknown>[] = [];
beforeAll(async () => {
  hub = await startTestHub({ HUB_SUBSCRIPTION_BUFFER: String(BUFFER) });
  a = await theSeedAgencies(hub);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  await hub.stop();
});

/** A graphql-transport-ws client written by hand, so that the test can stop it reading. */
function rawSubscriber(token: string, query: string) {
  const ws = new WebSocket(wsUrl(hub.url), 'graphql-transport-ws');
  const state = { received: 0, closeCode: undefined as number | undefined };
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string };
    if (message.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
    if (message.type === 'next') state.received++;
  });
  ws.on('close', (code) => (state.closeCode = code));
  return { ws, state };
}

describe('a subscriber that stops reading', () => {
  it(`is disconnected with ${SUBSCRIBER_TOO_SLOW} once ${BUFFER} events wait for it, while another subscriber receives every event`, async () => {
    const { personId } = await aPersonAtTheStation(hub, a);
    // A long reason, 30 times in each of the slow client's payloads (~180 kB), so that its TCP buffers (a few
    // MB on loopback) fill within the test's events.
    const { requestReferral } = await hub.ok(
      EvRequestReferralDocument,
      { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id, reason: '疑似精神障碍'.repeat(333) } },
      a.station.token,
    );
    const referralId = requestReferral.id;

    const feed = eventFeedOf(hub.hub.db);
    // The feed dispatches a commit's events a moment after the commit's answer: wait until it has passed the
    // request's REQUESTED event, so that the live subscribers below start after it and hear only the 50 sent.
    const [{ seq }]: { seq: number }[] = await hub.hub.db.query('SELECT max(seq)::int AS seq FROM referral_event');
    await eventually('the feed past the request', () => feed.position >= seq);
    const slow = rawSubscriber(a.hospital.token, print(BulkyReferralEventsDocument));
    const healthy = subscribe(hub.url, a.hospital.supervisorToken, LiveReferralEventsDocument, {});
    open.push(healthy as Live<unknown>);
    await eventually('both registered', () => feed.subscriberCount === 2);
    slow.ws.pause(); // the underlying TCP socket: nothing more is read

    // One event at a time, each once the healthy subscriber has it: it never has more than one waiting,
    // whatever happens to the slow one.
    let sent = 0;
    while (sent < 50) {
      await appendEvents(hub, referralId, 1);
      sent++;
      await healthy.count(sent);
    }
    expect(healthy.closeCodes).toEqual([]);
    expect(healthy.errors).toEqual([]);
    const cursors = healthy.items.map((i) => i.referralEvents.cursor);
    expect(new Set(cursors).size).toBe(50);

    // The slow one was let go by the hub (no buffer kept for it) ...
    expect(feed.subscriberCount).toBe(1);
    // ... and, once it reads again, finds what it got before the cut and the close code telling it to resume.
    slow.ws.resume();
    const code = await eventually('slow client closed', () => slow.state.closeCode, 10_000);
    expect(code).toBe(SUBSCRIBER_TOO_SLOW);
    expect(slow.state.received).toBeGreaterThan(0);
    expect(slow.state.received).toBeLessThan(50);
  });
});
