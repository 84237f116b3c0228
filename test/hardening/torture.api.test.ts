import { randomInt } from 'node:crypto';
import { eventCursor } from '../../src/events/outbox';
import { eventually, subscribe, type Live } from '../events/live';
import { seqOf } from '../events/scenario';
import { uuidOf } from '../persons/people';
import { TtReferralEventsDocument, type TtReferralEventsSubscription } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';
import { auditSnapshot, checkInvariants } from '../support/invariants';
import { AGENCY_KEYS, isContractAnswer, runClients, seedWorld, type AgencyKey, type Outcome } from './torture-actions';

/**
 * Concurrency torture (Hardening: Faults). TORTURE_CLIENTS clients (default 50) send random legal and
 * illegal actions, with random and stale expectedVersions, on TORTURE_PERSONS shared persons (default 10)
 * and their referrals and cases, for TORTURE_SECONDS (default 8), over HTTP against a real hub, while
 * graphql-ws subscribers of every agency and the administrator collect events. Afterwards: no answer
 * outside the contract (no INTERNAL_SERVER_ERROR, no 5xx), the database invariants hold, and each
 * subscriber saw each committed event of its referrals exactly once, in seq order.
 *
 * TORTURE_SEED replays the clients' choices (each client draws from its own generator seeded from it);
 * the interleaving, and so what the answers teach the clients, still varies from run to run.
 */

const SECONDS = Number(process.env.TORTURE_SECONDS ?? 8);
const CLIENTS = Number(process.env.TORTURE_CLIENTS ?? 50);
const PERSONS = Number(process.env.TORTURE_PERSONS ?? 10);
const SEED = process.env.TORTURE_SEED ? Number(process.env.TORTURE_SEED) : randomInt(2 ** 31);

jest.setTimeout((SECONDS + 90) * 1000);

type Item = TtReferralEventsSubscription;
type Subscriber = { name: AgencyKey | 'admin' | 'resumer'; items: () => Item[]; errors: () => unknown[]; dispose(): Promise<void> };

let hub: TestHub;
const subscribers: Subscriber[] = [];
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await Promise.all(subscribers.map((s) => s.dispose()));
  await hub?.stop();
});

/** An administrator subscription that keeps disconnecting and resuming from its last cursor. */
function resumingSubscriber(url: string, token: string): Subscriber & { resume(): Promise<void> } {
  const done: Item[] = [];
  const errors: unknown[] = [];
  let live = subscribe(url, token, TtReferralEventsDocument, { after: eventCursor(0) });
  let resumes = 0;
  let chain = Promise.resolve();
  return {
    name: 'resumer',
    items: () => [...done, ...live.items],
    errors: () => [...errors, ...live.errors],
    resume: () =>
      (chain = chain.then(async () => {
        await live.dispose();
        done.push(...live.items);
        errors.push(...live.errors);
        const last = done.at(-1)?.referralEvents.cursor ?? eventCursor(0);
        live = subscribe(url, token, TtReferralEventsDocument, { after: last });
        resumes++;
      })),
    dispose: async () => {
      await live.dispose();
      console.log(`resuming subscriber: ${resumes} resumes`);
    },
  };
}

const liveSubscriber = (name: Subscriber['name'], live: Live<Item>): Subscriber => ({
  name,
  items: () => live.items,
  errors: () => live.errors,
  dispose: () => live.dispose(),
});

test(`${CLIENTS} clients for ${SECONDS}s on ${PERSONS} shared persons: only contract answers, invariants hold, every subscriber sees each of its events once, in order`, async () => {
  console.log(`torture seed ${SEED} (replay: TORTURE_SEED=${SEED}); ${CLIENTS} clients, ${SECONDS}s, ${PERSONS} persons`);
  const a = await theSeedAgencies(hub);
  // From cursor 0: everything, with no race between subscribing and the first events.
  const from0 = { after: eventCursor(0) };
  subscribers.push(
    ...AGENCY_KEYS.map((key) => liveSubscriber(key, subscribe(hub.url, a[key].token, TtReferralEventsDocument, from0))),
    liveSubscriber('admin', subscribe(hub.url, hub.adminToken, TtReferralEventsDocument, from0)),
  );
  const resumer = resumingSubscriber(hub.url, hub.adminToken);
  subscribers.push(resumer);

  const world = await seedWorld(hub.url, a, PERSONS);
  const audit = await auditSnapshot(hub.hub.db);

  const outcomes: Outcome[] = [];
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  const resuming = setInterval(() => void resumer.resume(), 1500);
  try {
    await runClients({
      url: hub.url,
      world,
      clients: CLIENTS,
      seed: SEED,
      stop: () => Date.now() >= deadline,
      onOutcome: (o) => outcomes.push(o),
    });
  } finally {
    clearInterval(resuming);
  }
  const elapsed = (Date.now() - started) / 1000;

  // What happened, by action and answer.
  const table = new Map<string, Map<string, number>>();
  for (const o of outcomes) {
    const answer = o.failure ? 'FAILURE' : (o.codes[0] ?? 'ok');
    const row = table.get(o.action) ?? new Map<string, number>();
    table.set(o.action, row.set(answer, (row.get(answer) ?? 0) + 1));
  }
  const succeeded = outcomes.filter((o) => o.codes.length === 0 && !o.failure).length;
  const [{ events, referrals, cases, deadlocks }] = await hub.hub.db.query(
    `SELECT (SELECT count(*)::int FROM referral_event) AS events, (SELECT count(*)::int FROM referral) AS referrals,
            (SELECT count(*)::int FROM rescue_case) AS cases,
            (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) AS deadlocks`,
  );
  console.log(
    `torture: ${outcomes.length} requests in ${elapsed.toFixed(1)}s (${Math.round(outcomes.length / elapsed)}/s), ${succeeded} succeeded; ` +
      `database: ${events} events, ${referrals} referrals, ${cases} cases, ${deadlocks} deadlocks (retried)\n` +
      [...table].map(([action, row]) => `  ${action.padEnd(18)} ${[...row].map(([k, n]) => `${k} ${n}`).join(', ')}`).join('\n'),
  );

  // 1. Only the contract's answers.
  const faults = outcomes.filter((o) => !isContractAnswer(o));
  if (faults.length > 0) {
    const logged = hub.logLines.filter((l) => l.includes('unexpected error')).slice(0, 5);
    console.log(`unexpected errors in the hub's log:\n${logged.join('')}`);
  }
  expect(faults.slice(0, 10)).toEqual([]);
  expect(succeeded).toBeGreaterThanOrEqual(20); // the torture did move things (even on a busy machine)
  // Every change takes its locks in one order (the person first); a deadlock would cost a deadlock_timeout each.
  expect(deadlocks).toBe(0);

  // 2. The database is consistent.
  expect(await checkInvariants(hub.hub.db, { audit })).toEqual([]);

  // 3. Every subscriber saw each committed event of its referrals once, in order.
  const rows: { seq: number; referral_id: string; type: string; parties: string[]; escort: string | null }[] = await hub.hub.db.query(
    `SELECT e.seq, e.referral_id, e.type::text AS type,
            ARRAY[r.requested_by_id, r.from_agency_id, r.to_agency_id]::text[] AS parties, r.escort_agency_id AS escort
       FROM referral_event e JOIN referral r ON r.id = e.referral_id ORDER BY e.seq`,
  );
  const bySeq = new Map(rows.map((r) => [Number(r.seq), r]));
  // An agency that is only the escort of a referral may or may not get its events from before the dispatch
  // (parties are read when the event is delivered), so: at least those of its fixed roles, at most those too.
  const expected = (name: Subscriber['name']) => {
    if (name === 'admin' || name === 'resumer') {
      const all = rows.map((r) => Number(r.seq));
      return { least: all, most: new Set(all) };
    }
    const id = uuidOf(a[name].id);
    return {
      least: rows.filter((r) => r.parties.includes(id)).map((r) => Number(r.seq)),
      most: new Set(rows.filter((r) => r.parties.includes(id) || r.escort === id).map((r) => Number(r.seq))),
    };
  };
  await eventually(
    'every subscriber caught up',
    () => subscribers.every((s) => s.items().length >= expected(s.name).least.length),
    20_000,
  ).catch(() => undefined); // the comparison below says who is behind
  await resumer.resume(); // once more after the load, from its cursor
  await eventually('the resumed subscriber caught up', () => resumer.items().length >= rows.length, 20_000).catch(() => undefined);

  const report: Record<string, unknown> = {};
  for (const s of subscribers) {
    const got = s.items().map((i) => seqOf(i.referralEvents.cursor));
    const { least, most } = expected(s.name);
    const problems: string[] = [];
    const duplicates = got.filter((seq, i) => got.indexOf(seq) !== i);
    if (duplicates.length) problems.push(`duplicates: ${duplicates.slice(0, 10).join(', ')}`);
    const disorder = got.filter((seq, i) => i > 0 && seq <= got[i - 1]);
    if (disorder.length) problems.push(`out of order at: ${disorder.slice(0, 10).join(', ')}`);
    const gotSet = new Set(got);
    const missing = least.filter((seq) => !gotSet.has(seq));
    if (missing.length) problems.push(`missing ${missing.length}: ${missing.slice(0, 10).join(', ')}`);
    const foreign = got.filter((seq) => !most.has(seq));
    if (foreign.length) problems.push(`not its referrals' (or never committed) ${foreign.length}: ${foreign.slice(0, 10).join(', ')}`);
    const mismatched = s.items().filter((i) => {
      const row = bySeq.get(seqOf(i.referralEvents.cursor));
      return (
        row &&
        (row.type !== i.referralEvents.type ||
          Buffer.from(i.referralEvents.referral.id, 'base64url').toString().split(':')[1] !== row.referral_id)
      );
    });
    if (mismatched.length) problems.push(`${mismatched.length} events differ from the database`);
    if (s.errors().length) problems.push(`errors: ${JSON.stringify(s.errors().slice(0, 3))}`);
    report[s.name] = problems.length ? problems : `ok (${got.length} events)`;
  }
  console.log(`subscribers: ${JSON.stringify(report, null, 1)}`);
  for (const s of subscribers) expect([s.name, report[s.name]]).toEqual([s.name, expect.stringMatching(/^ok/)]);
});
