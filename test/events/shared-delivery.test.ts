import { eventFeedOf } from '../../src/events/event-feed';
import {
  EvCancelDocument,
  EvConfirmReceiptDocument,
  EvOpenCaseDocument,
  LiveReferralEventsDocument,
  LiveReferralEventsWithIdentityDocument,
} from '../generated/graphql';
import { idNumber } from '../persons/people';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { eventually, subscribe, type Live } from './live';
import { aPersonAtTheStation, anEvaluationRequest, dispatch, type Agencies } from './scenario';

/**
 * One process executes each event once per (document, variables, viewer) and
 * reads each event's referral once for all its subscribers: sharing must never
 * carry one agency's events or fields to another.
 */
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
const uuid = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];

/** A person who came to the station with an identity card: the station may see the number whole, the hospital not. */
async function aPersonWithAnIdNumber(birthYear: number, birthDate: string) {
  const whole = idNumber('430406', birthDate);
  const { openCase } = await hub.ok(
    EvOpenCaseDocument,
    { input: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'MALE', birthYear, idNumber: whole, description: '持证来站者' } } },
    a.station.token,
  );
  return { whole, openCase };
}

/** `n` subscribers with one token and one document, resolved once the hub has registered them all. */
async function followers<R>(n: number, start: () => Live<R>): Promise<Live<R>[]> {
  const before = feed().subscriberCount;
  const lives = Array.from({ length: n }, start);
  open.push(...(lives as Live<unknown>[]));
  await eventually(`${n} subscriptions registered`, () => feed().subscriberCount >= before + n);
  return lives;
}

const everyEvent = (token: string, n: number) => followers(n, () => subscribe(hub.url, token, LiveReferralEventsDocument, {}));
const withIdentity = (token: string, n: number) =>
  followers(n, () => subscribe(hub.url, token, LiveReferralEventsWithIdentityDocument, {}));

/** Each test starts with no subscriber left from the one before (whose payloads would be audited too). */
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.dispose()));
  await eventually('every subscription released', () => feed().subscriberCount === 0);
});

describe('many subscribers on one process', () => {
  it('each receive exactly the events of their own agency, in order, with the same document', async () => {
    const [station, other, hospital, home, admin] = await Promise.all([
      everyEvent(a.station.token, 3),
      everyEvent(a.otherStation.token, 3),
      everyEvent(a.hospital.token, 3),
      everyEvent(a.welfareHome.token, 2),
      everyEvent(hub.adminToken, 2),
    ]);
    const { personId: theirs } = await aPersonAtTheStation(hub, a, a.otherStation);
    const { personId: ours } = await aPersonAtTheStation(hub, a);
    // Interleaved: the other station's referral before, between and after ours.
    const r2 = await anEvaluationRequest(hub, a, theirs, a.otherStation);
    const r1 = await anEvaluationRequest(hub, a, ours);
    await dispatch(hub, a.station.token, r1);
    await hub.ok(EvCancelDocument, { input: { referralId: r2 } }, a.otherStation.token);
    await hub.ok(EvConfirmReceiptDocument, { input: { referralId: r1 } }, a.hospital.token);

    const all = [`${r2} REQUESTED`, `${r1} REQUESTED`, `${r1} DISPATCHED`, `${r2} CANCELLED`, `${r1} RECEIVED`];
    const expected: [Live<{ referralEvents: { type: string; referral: { id: string } } }>[], string[]][] = [
      [station, all.filter((e) => e.startsWith(r1))],
      [other, all.filter((e) => e.startsWith(r2))],
      [hospital, all],
      [admin, all],
      [home, []],
    ];
    for (const [lives, events] of expected) for (const l of lives) await l.count(events.length);
    // The last event reached everyone it concerns: anything else would have arrived before it.
    await new Promise((r) => setTimeout(r, 100));
    for (const [lives, events] of expected) {
      for (const l of lives) {
        expect(l.items.map((i) => `${i.referralEvents.referral.id} ${i.referralEvents.type}`)).toEqual(events);
        expect(l.errors).toEqual([]);
      }
    }
  });

  it('gives each viewer of one event only the fields it may read: the station the whole ID number, the hospital a masked one', async () => {
    const { whole, openCase } = await aPersonWithAnIdNumber(1980, '19800101');
    // Hospital first, so that a result shared across viewers would be the masked one seen by the station too, and vice versa.
    const hospital = await withIdentity(a.hospital.token, 2);
    const station = await withIdentity(a.station.token, 2);
    const referralId = await anEvaluationRequest(hub, a, openCase.person.id);

    for (const l of [...station, ...hospital]) await l.count(1);
    for (const l of station) {
      expect(l.items[0].referralEvents.referral).toEqual({ id: referralId, person: { id: openCase.person.id, idNumber: whole } });
    }
    for (const l of hospital) {
      const seen = l.items[0].referralEvents.referral.person.idNumber;
      expect(seen).not.toBe(whole);
      expect(seen).toMatch(/^430406\*+/);
    }
  });

  it("audits the whole ID number's reveal once per receiving subscriber, under its own request, though executed once", async () => {
    const { openCase } = await aPersonWithAnIdNumber(1981, '19810202');
    const station = await withIdentity(a.station.token, 3);
    const referralId = await anEvaluationRequest(hub, a, openCase.person.id);
    for (const l of station) expect((await l.count(1))[0].referralEvents.referral.id).toBe(referralId);

    const reveals = await eventually('audited', async () => {
      const rows: { request_id: string }[] = await hub.hub.db.query(
        `SELECT request_id FROM audit_log WHERE subject_id = $1 AND agency_id = $2 AND action = 'person.idNumber.reveal'`,
        [uuid(openCase.person.id), uuid(a.station.id)],
      );
      return rows.length >= 3 && rows;
    });
    await new Promise((r) => setTimeout(r, 100)); // and no more than that
    const rows: unknown[] = await hub.hub.db.query(
      `SELECT 1 FROM audit_log WHERE subject_id = $1 AND agency_id = $2 AND action = 'person.idNumber.reveal'`,
      [uuid(openCase.person.id), uuid(a.station.id)],
    );
    expect(rows).toHaveLength(3);
    expect(new Set(reveals.map((r) => r.request_id)).size).toBe(3);
  });
});
