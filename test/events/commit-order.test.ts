import { inTransaction } from '../../src/db/transaction';
import { eventFeedOf } from '../../src/events/event-feed';
import { appendReferralEvents, eventCursor } from '../../src/events/outbox';
import { uuidOf } from '../../src/shared/relay';
import { LiveReferralEventsDocument } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startAnotherHub, startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, appendEvents, committedSeqs, latestSeqOf, seqOf, type Agencies } from './scenario';

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

/**
 * A transaction that has taken the next seq and stays open until `commit()` (or rolls back on `rollBack()`):
 * the late writer that seq order alone would let a reader pass.
 */
async function aLateWriter(referralGlobalId: string): Promise<{ seq: number; commit(): Promise<void>; rollBack(): Promise<void> }> {
  const referralId = uuidOf('Referral', referralGlobalId);
  let taken!: (seq: number) => void;
  const seq = new Promise<number>((resolve) => (taken = resolve));
  let end!: (commit: boolean) => void;
  const decided = new Promise<boolean>((resolve) => (end = resolve));
  const done = inTransaction(hub.hub.db, async (tx) => {
    const [e] = await appendReferralEvents(tx, [
      { referralId, type: 'BED_ASSIGNED', status: 'REQUESTED', actorAccountId: null, actorAgencyId: null },
    ]);
    taken(Number(e.seq));
    if (!(await decided)) throw new Error('rolled back on purpose');
  }).catch((err: Error) => {
    if (err.message !== 'rolled back on purpose') throw err;
  });
  return {
    seq: await seq,
    commit: () => (end(true), done),
    rollBack: () => (end(false), done),
  };
}

/** A fresh referral, the feed caught up with it, and the administrator subscribed to everything from now on. */
async function aReferralTheAdministratorFollows() {
  const feed = eventFeedOf(hub.hub.db);
  const { personId } = await aPersonAtTheStation(hub, a);
  const referral = await anEvaluationRequest(hub, a, personId);
  const start = await latestSeqOf(hub);
  await eventually('the feed has caught up', () => feed.position === start);
  return { feed, referral, start, admin: await theAdministratorFollows() };
}

/** The administrator subscribed to every event from now on, once the hub has registered the subscription. */
async function theAdministratorFollows() {
  const feed = eventFeedOf(hub.hub.db);
  const subscribers = feed.subscriberCount;
  const admin = subscribe(hub.url, hub.adminToken, LiveReferralEventsDocument, {});
  open.push(admin as Live<unknown>);
  await eventually('registered', () => feed.subscriberCount === subscribers + 1);
  return admin;
}

describe('a seq whose transaction commits late', () => {
  it('holds the events after it until it commits, then delivers them all in seq order', async () => {
    const { feed, referral, admin } = await aReferralTheAdministratorFollows();

    const late = await aLateWriter(referral);
    await appendEvents(hub, referral, 3);
    const after = (await committedSeqs(hub, late.seq)).slice(0, 3);
    expect(after).toEqual([late.seq + 1, late.seq + 2, late.seq + 3]);
    // The feed has read the three committed events and found the hole below them ...
    await eventually('the feed waits at the gap', () => feed.waitingAtGap);
    // ... and delivered none of them: a subscriber that saw late.seq + 1 would resume past late.seq.
    expect(feed.position).toBe(late.seq - 1);
    expect(admin.items).toEqual([]);

    await late.commit();
    await admin.count(4);
    expect(seqsOf(admin)).toEqual([late.seq, ...after]);
  });

  it('does not wait for ever behind a seq whose transaction rolled back', async () => {
    const { feed, referral, start, admin } = await aReferralTheAdministratorFollows();

    const late = await aLateWriter(referral);
    await appendEvents(hub, referral, 2);
    await eventually('the feed waits at the gap', () => feed.waitingAtGap);
    expect(admin.items).toEqual([]);

    await late.rollBack();
    await admin.count(2);
    expect(seqsOf(admin)).toEqual([late.seq + 1, late.seq + 2]);
    expect(await committedSeqs(hub, start)).toEqual([late.seq + 1, late.seq + 2]);
  });

  it('backs off while a gap stays open, instead of re-reading hundreds of times a second', async () => {
    const { feed, referral, admin } = await aReferralTheAdministratorFollows();
    const late = await aLateWriter(referral);
    await appendEvents(hub, referral, 1);
    await eventually('the feed waits at the gap', () => feed.waitingAtGap);
    const readsBefore = feed.readCount;
    // A transaction held open for a second (a slow client, a bulk import): at the first retry interval (3 ms)
    // the feed would read ~300 times; doubling up to 250 ms it reads about ten times.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(feed.readCount - readsBefore).toBeLessThan(30);
    await late.commit();
    await admin.count(2);
  });

  it('gives a subscriber resuming from its cursor the replay and then the live events without a gap or a duplicate', async () => {
    const feed = eventFeedOf(hub.hub.db);
    const { personId } = await aPersonAtTheStation(hub, a);
    const referral = await anEvaluationRequest(hub, a, personId);
    const start = await latestSeqOf(hub);
    await appendEvents(hub, referral, 5);
    await eventually('the feed has caught up', () => feed.position === start + 5);

    // A gap is open while the subscriber replays: the replay must stop below it, not read the committed rows above it.
    const late = await aLateWriter(referral);
    await appendEvents(hub, referral, 3);
    await eventually('the feed waits at the gap', () => feed.waitingAtGap);
    const resumer = subscribe(hub.url, hub.adminToken, LiveReferralEventsDocument, { after: eventCursor(start) });
    open.push(resumer as Live<unknown>);
    await resumer.count(5);
    // More commits race the replay's hand-over to live events.
    const racing = appendEvents(hub, referral, 20, 4);
    await late.commit();
    await racing;

    const committed = await committedSeqs(hub, start);
    expect(committed).toHaveLength(5 + 1 + 3 + 20);
    await resumer.count(committed.length);
    await eventually('the feed has delivered everything', () => feed.position === committed[committed.length - 1]);
    expect(seqsOf(resumer)).toEqual(committed);
  });
  it('never lets a hub start past a smaller seq that may still commit', async () => {
    const { personId } = await aPersonAtTheStation(hub, a);
    const referral = await anEvaluationRequest(hub, a, personId);
    const late = await aLateWriter(referral);
    await appendEvents(hub, referral, 2);

    // The second process either waits at start until the late writer has ended (the hub as built) or starts at
    // once; give it a moment to do the latter, then commit. Either way its subscriber must lose nothing.
    let other: Awaited<ReturnType<typeof startAnotherHub>> | undefined;
    const starting = startAnotherHub(hub).then((h) => (other = h));
    await Promise.race([starting, new Promise((r) => setTimeout(r, 300))]);
    const startedFirst = other !== undefined;
    let live: Live<{ referralEvents: { cursor: string } }> | undefined;
    if (startedFirst) {
      const feed = eventFeedOf(other!.db);
      live = subscribe(other!.url, hub.adminToken, LiveReferralEventsDocument, {});
      open.push(live as Live<unknown>);
      await eventually('registered', () => feed.subscriberCount === 1);
    }
    await late.commit();
    await starting;
    const feed = eventFeedOf(other!.db);
    if (!live) {
      live = subscribe(other!.url, hub.adminToken, LiveReferralEventsDocument, {});
      open.push(live as Live<unknown>);
      await eventually('registered', () => feed.subscriberCount === 1);
    }
    await appendEvents(hub, referral, 1);
    const last = await latestSeqOf(hub);
    await eventually('the other hub has delivered the newest event', () => feed.position === last);
    const expected = startedFirst ? [late.seq, last] : [last];
    await live.count(expected.length);
    expect(seqsOf(live)).toEqual(expected);
    await other!.stop();
  });
});

describe('events from concurrent writers', () => {
  it('reach a subscriber each exactly once, in seq order, however the transactions interleave', async () => {
    const feed = eventFeedOf(hub.hub.db);
    const persons = await Promise.all(Array.from({ length: 10 }, () => aPersonAtTheStation(hub, a)));
    const first = await anEvaluationRequest(hub, a, persons[0].personId);
    const start = await latestSeqOf(hub);
    await eventually('the feed has caught up', () => feed.position === start);
    const admin = await theAdministratorFollows();

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
