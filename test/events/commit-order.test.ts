import { eventFeedOf } from '../../src/events/event-feed';
import { appendReferralEvents, eventCursor } from '../../src/events/outbox';
import { uuidOf } from '../../src/shared/relay';
import { LiveReferralEventsDocument } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, committedSeqs, latestSeqOf, seqOf, type Agencies } from './scenario';

let hub: TestHub;
let a: Agencies;
const open: Live<unknown>[] = [];
beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  await hub.stop();
});

const seqsOf = (live: Live<{ referralEvents: { cursor: string } }>) => live.items.map((i) => seqOf(i.referralEvents.cursor));

describe('events from concurrent writers', () => {
  it('reach a subscriber each exactly once, in commit order, however the transactions interleave', async () => {
    const feed = eventFeedOf(hub.hub.db);
    const persons = await Promise.all(Array.from({ length: 10 }, () => aPersonAtTheStation(hub, a)));
    const first = await anEvaluationRequest(hub, a, persons[0].personId);
    const start = await latestSeqOf(hub);

    const admin = subscribe(hub.url, hub.adminToken, LiveReferralEventsDocument, {});
    open.push(admin as Live<unknown>);
    await eventually('registered', () => feed.subscriberCount === 1);

    // 20 direct writers, some sleeping between their insert and their commit, some rolling back (gaps in seq) ...
    const uuid = uuidOf('Referral', first);
    const direct = Array.from({ length: 20 }, (_, i) =>
      hub.hub.db
        .transaction(async (tx) => {
          await appendReferralEvents(tx, [
            { referralId: uuid, type: 'BED_ASSIGNED', status: 'REQUESTED', actorAccountId: null, actorAgencyId: null },
          ]);
          if (i % 3 === 0) await tx.query('SELECT pg_sleep(0.03)');
          if (i % 7 === 6) throw new Error('rolled back');
        })
        .catch(() => undefined),
    );
    // ... racing 9 referral requests through the API, and a subscriber resuming from the start meanwhile.
    const api = persons.slice(1).map((p) => anEvaluationRequest(hub, a, p.personId));
    const resumer = subscribe(hub.url, hub.adminToken, LiveReferralEventsDocument, { after: eventCursor(start) });
    open.push(resumer as Live<unknown>);
    await Promise.all([...direct, ...api]);

    const committed = await committedSeqs(hub, start);
    expect(committed).toHaveLength(20 - 2 + 9);
    await admin.count(committed.length);
    await resumer.count(committed.length);
    await new Promise((r) => setTimeout(r, 100)); // and nothing more
    expect(seqsOf(admin)).toEqual(committed);
    expect(seqsOf(resumer)).toEqual(committed);
  });

  it("gives a party only its referrals' events, in order, from the same stream", async () => {
    const feed = eventFeedOf(hub.hub.db);
    const start = await latestSeqOf(hub);
    const before = feed.subscriberCount;
    const other = subscribe(hub.url, a.otherStation.token, LiveReferralEventsDocument, {});
    open.push(other as Live<unknown>);
    await eventually('registered', () => feed.subscriberCount === before + 1);

    const mine = await Promise.all(Array.from({ length: 5 }, () => aPersonAtTheStation(hub, a, a.otherStation)));
    const theirs = await Promise.all(Array.from({ length: 5 }, () => aPersonAtTheStation(hub, a)));
    await Promise.all([
      ...mine.map((p) => anEvaluationRequest(hub, a, p.personId, a.otherStation)),
      ...theirs.map((p) => anEvaluationRequest(hub, a, p.personId)),
    ]);
    const expected: { seq: number }[] = await hub.hub.db.query(
      `SELECT e.seq FROM referral_event e JOIN referral r ON r.id = e.referral_id
        WHERE e.seq > $1 AND r.requested_by_id = $2 ORDER BY e.seq`,
      [start, uuidOf('Agency', a.otherStation.id)],
    );
    expect(expected).toHaveLength(5);
    await other.count(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(seqsOf(other)).toEqual(expected.map((e) => Number(e.seq)));
  });
});
