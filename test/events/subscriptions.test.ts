import { eventFeedOf } from '../../src/events/event-feed';
import { eventCursor } from '../../src/events/outbox';
import {
  EvConfirmReceiptDocument,
  LiveReferralEventsDocument,
  LiveReferralEventsWithPersonDocument,
  RevokeAccessTokenDocument,
  ViewerDocument,
} from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, dispatch, type Agencies } from './scenario';

let hub: TestHub;
let a: Agencies;
const open: Live<unknown>[] = [];
beforeAll(async () => {
  hub = await startTestHub({ HUB_WS_ACCOUNT_RECHECK: '1h' });
  a = await theSeedAgencies(hub);
});
afterAll(async () => {
  await Promise.all(open.map((l) => l.dispose()));
  await hub.stop();
});

const feed = () => eventFeedOf(hub.hub.db);

/** A live subscription, resolved once the hub has registered it (so nothing committed afterwards can be missed). */
async function follow(token: string, after?: string) {
  const before = feed().subscriberCount;
  const live = subscribe(hub.url, token, LiveReferralEventsDocument, { after });
  open.push(live as Live<unknown>);
  await eventually('subscription registered', () => feed().subscriberCount > before);
  return live;
}

describe('Subscription.referralEvents', () => {
  it('reaches the hospital when the station sends it an evaluation request (REQUESTED)', async () => {
    const hospital = await follow(a.hospital.token);
    const { personId } = await aPersonAtTheStation(hub, a);
    const referralId = await anEvaluationRequest(hub, a, personId);

    const [event] = await hospital.count(1);
    expect(event.referralEvents).toMatchObject({
      type: 'REQUESTED',
      referral: { id: referralId, status: 'REQUESTED', kind: 'PSYCHIATRIC_EVALUATION' },
    });
    expect(event.referralEvents.actor).not.toBeNull();
    expect(hospital.errors).toEqual([]);
  });

  it('after a reconnect with `after` = the last cursor, delivers exactly the three changes it missed, in order', async () => {
    const { personId } = await aPersonAtTheStation(hub, a);
    const first = await follow(a.station.token);
    const referralId = await anEvaluationRequest(hub, a, personId);
    const [requested] = await first.count(1);
    const following = feed().subscriberCount;
    await first.dispose();
    await eventually('disconnected', () => feed().subscriberCount === following - 1);

    // Three changes while the station is away.
    await dispatch(hub, a.station.token, referralId);
    await hub.ok(EvConfirmReceiptDocument, { input: { referralId } }, a.hospital.token);
    const { personId: other } = await aPersonAtTheStation(hub, a);
    await anEvaluationRequest(hub, a, other);

    const again = await follow(a.station.token, requested.referralEvents.cursor);
    const missed = await again.count(3);
    await new Promise((r) => setTimeout(r, 100)); // nothing more may follow
    expect(again.items.map((i) => i.referralEvents.type)).toEqual(['DISPATCHED', 'RECEIVED', 'REQUESTED']);
    const cursors = missed.map((i) => i.referralEvents.cursor);
    expect(new Set([requested.referralEvents.cursor, ...cursors]).size).toBe(4);

    // Then it is live: the next change arrives too, once.
    const { personId: third } = await aPersonAtTheStation(hub, a);
    await anEvaluationRequest(hub, a, third);
    await again.count(4);
    await new Promise((r) => setTimeout(r, 100));
    expect(again.items).toHaveLength(4);
  });

  it('gives an agency that is no party to a referral none of its events', async () => {
    const stranger = await follow(a.otherStation.token);
    const { personId } = await aPersonAtTheStation(hub, a);
    const referralId = await anEvaluationRequest(hub, a, personId);
    await dispatch(hub, a.station.token, referralId);
    // A referral of the stranger's own, committed last: when it arrives, anything earlier would have too.
    const { personId: own } = await aPersonAtTheStation(hub, a, a.otherStation);
    const ownReferral = await anEvaluationRequest(hub, a, own, a.otherStation);

    await stranger.count(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(stranger.items.map((i) => i.referralEvents.referral.id)).toEqual([ownReferral]);
  });

  it('gives the same stranger none of them on a replay either', async () => {
    const stranger = await follow(a.otherStation.token, eventCursor(0)); // from the beginning
    const station = await follow(a.station.token, eventCursor(0));
    await eventually('the station replayed its history', () => station.items.length >= 6 && station.items);
    await stranger.count(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(stranger.items).toHaveLength(1);
    const seqs = station.items.map((i) => i.referralEvents.cursor);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('refuses an invalid token: the socket closes with 4403 and nothing is delivered', async () => {
    const intruder = subscribe(hub.url, 'not-a-token', LiveReferralEventsDocument, {});
    open.push(intruder as Live<unknown>);
    await eventually('closed', () => intruder.closeCodes.length > 0);
    expect(intruder.closeCodes).toEqual([4403]);
    expect(intruder.items).toEqual([]);
  });

  it('refuses a cursor it did not issue with BAD_USER_INPUT on `after`', async () => {
    const live = subscribe(hub.url, a.station.token, LiveReferralEventsDocument, { after: 'garbage' });
    open.push(live as Live<unknown>);
    await eventually('an error', () => live.errors.length > 0);
    expect(live.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
  });

  it('ends the subscriptions of a token revoked later (4403), and the hub lets go of them', async () => {
    const viewer = await hub.ok(ViewerDocument, {}, a.welfareHome.token);
    const before = feed().subscriberCount;
    const home = await follow(a.welfareHome.token);
    await hub.ok(RevokeAccessTokenDocument, { accountId: viewer.viewer.account!.id }, hub.adminToken);
    await eventually('closed', () => home.closeCodes.length > 0);
    expect(home.closeCodes).toEqual([4403]);
    await eventually('subscription released', () => feed().subscriberCount === before);
  });

  it("audits each payload's read of the person as it is sent, with current data in every payload", async () => {
    const before = feed().subscriberCount;
    const hospital = subscribe(hub.url, a.hospital.token, LiveReferralEventsWithPersonDocument, {});
    open.push(hospital as Live<unknown>);
    await eventually('registered', () => feed().subscriberCount > before);
    const { personId } = await aPersonAtTheStation(hub, a);
    const referralId = await anEvaluationRequest(hub, a, personId);
    await dispatch(hub, a.station.token, referralId);
    const got = await hospital.count(2);
    expect(got.map((i) => i.referralEvents.referral.person.id)).toEqual([personId, personId]);
    // A payload shows the referral as it is when sent: the first may already see the dispatch if it raced
    // it, but the second must never show a stale REQUESTED (its loaders start afresh).
    expect(['REQUESTED', 'IN_TRANSIT']).toContain(got[0].referralEvents.referral.status);
    expect(got[1].referralEvents.referral.status).toBe('IN_TRANSIT');

    const person = Buffer.from(personId, 'base64url').toString('utf8').split(':')[1];
    const hospitalId = Buffer.from(a.hospital.id, 'base64url').toString('utf8').split(':')[1];
    const reads = await eventually('audited', async () => {
      const rows: { request_id: string }[] = await hub.hub.db.query(
        `SELECT request_id FROM audit_log WHERE subject_id = $1 AND agency_id = $2 AND action = 'person.read'`,
        [person, hospitalId],
      );
      return rows.length >= 2 && rows;
    });
    expect(reads).toHaveLength(2); // one per payload, in the subscription's one request
    expect(new Set(reads.map((r) => r.request_id)).size).toBe(1);
  });

  it('gives the administrator every event', async () => {
    const admin = await follow(hub.adminToken);
    const { personId } = await aPersonAtTheStation(hub, a, a.otherStation);
    await anEvaluationRequest(hub, a, personId, a.otherStation);
    const [event] = await admin.count(1);
    expect(event.referralEvents.type).toBe('REQUESTED');
  });
});
