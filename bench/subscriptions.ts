import { createClient, type Client } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import WebSocket from 'ws';
import { cycle, type HandoffPerson } from './handoff';
import { collectGarbage } from './inspector';
import { percentile, rssMb } from './load';

/**
 * Workload 4: graphql-ws subscribers to `referralEvents`, all of the
 * station's agency, while the bench drives hand-offs of that station's
 * persons. Latency is from the mutation's HTTP answer (in this process) to
 * each subscriber's receipt of the event; it can be negative when the event
 * overtakes the answer (NOTIFY is delivered at commit, the answer after it).
 */

export const SUBSCRIPTION = `subscription BenchReferralEvents { referralEvents { cursor type referral { id status } } }`;

export interface SubscriptionMeasurement {
  subscribers: number;
  events: number;
  delivered: number;
  expected: number;
  p50Ms: number;
  p99Ms: number;
  /** ms from sending the mutation (not its answer) to receipt, for comparison. */
  p50FromRequestMs: number;
  rssBeforeMb: number | null;
  rssAfterMb: number | null;
  /** RSS growth from before the first subscriber to after the last, per subscriber. */
  kbPerSubscriber: number | null;
  /** RSS growth from half the subscribers to all, per subscriber of the second half: the marginal cost. */
  kbPerSubscriberMarginal?: number | null;
  /**
   * The same three readings, each right after a full garbage collection of the hub (bench/inspector.ts): what
   * the subscribers hold, without the garbage the young generation (64 MB semi-spaces) had not collected yet.
   */
  afterGc?: {
    rssBeforeMb: number | null;
    rssAfterMb: number | null;
    kbPerSubscriber: number | null;
    kbPerSubscriberMarginal: number | null;
  } | null;
  /** Transactions PostgreSQL committed during the measured events (each autocommit statement is one), per delivery. */
  dbTransactionsPerDelivery: number | null;
}

/** Committed transactions of the database so far (pg_stat_database, flushed by backends within about a second). */
async function commits(databaseUrl: string): Promise<number> {
  const c = new PgClient({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ n: string }>(`SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()`);
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}

interface Subscriber {
  client: Client;
  /** `${referralId}|${type}` → performance.now() at receipt. */
  seen: Map<string, number>;
}

function subscribe(wsUrl: string, token: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const seen = new Map<string, number>();
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
      keepAlive: 0,
      on: { connected: () => resolve({ client, seen }), closed: (e) => reject(new Error(`socket closed: ${JSON.stringify(e)}`)) },
    });
    client.subscribe<{ referralEvents: { type: string; referral: { id: string } } }>(
      { query: SUBSCRIPTION },
      {
        next: (msg) => {
          const e = msg.data?.referralEvents;
          if (e) seen.set(`${e.referral.id}|${e.type}`, performance.now());
        },
        error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
        complete: () => {},
      },
    );
  });
}

async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

export async function runSubscriptions(
  databaseUrl: string,
  httpUrl: string,
  hubPid: number,
  /** The hub's inspector (spawnHub `inspect`), or undefined: no readings after a collection. */
  inspectorUrl: string | undefined,
  token: string,
  persons: HandoffPerson[],
  subscriberCount: number,
  cycles: number,
): Promise<SubscriptionMeasurement> {
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  // One hand-off first, so the baseline includes the code and connections any busy hub has.
  await cycle(httpUrl, persons[0]);
  await new Promise((r) => setTimeout(r, 1000));
  const rssBeforeMb = rssMb(hubPid);
  const collected = async () => {
    if (!inspectorUrl) return null;
    await collectGarbage(inspectorUrl);
    await new Promise((r) => setTimeout(r, 200)); // the freed pages leave the RSS as the collector returns them
    return rssMb(hubPid);
  };
  const gcBeforeMb = await collected();
  let gcHalfMb: number | null = null;
  const subs: Subscriber[] = [];
  try {
    // In two halves, each followed by a priming hand-off that every subscriber must hear before memory is read:
    // the second half's growth is the marginal cost of a subscriber, without the fixed costs (code paths first
    // taken, the young generation growing to its working size) that the first subscribers also bring.
    let rssHalfMb: number | null = null;
    for (const target of [Math.ceil(subscriberCount / 2), subscriberCount]) {
      while (subs.length < target) {
        const batch = Math.min(50, target - subs.length);
        subs.push(...(await Promise.all(Array.from({ length: batch }, () => subscribe(wsUrl, token)))));
      }
      const prime = await cycle(httpUrl, persons[0]);
      const primed = await waitFor(() => subs.every((s) => s.seen.has(`${prime.referralId}|RECEIVED`)), 30_000);
      if (!primed)
        throw new Error(`only ${subs.filter((s) => s.seen.size > 0).length} of ${subs.length} subscribers heard the priming events`);
      await new Promise((r) => setTimeout(r, 1000));
      if (target < subscriberCount) {
        rssHalfMb = rssMb(hubPid);
        gcHalfMb = await collected();
      }
    }
    const rssAfterMb = rssMb(hubPid);
    const gcAfterMb = await collected();

    const commitsBefore = await commits(databaseUrl);
    const sent: { key: string; respondedAt: number; requestedAt: number }[] = [];
    for (let i = 0; i < cycles; i++) {
      const started = performance.now();
      const c = await cycle(httpUrl, persons[i % persons.length]);
      let prev = started;
      for (const s of c.steps) {
        sent.push({ key: `${c.referralId}|${s.type}`, respondedAt: s.respondedAt, requestedAt: prev });
        prev = s.respondedAt;
      }
    }
    await waitFor(() => subs.every((s) => sent.every((e) => s.seen.has(e.key))), 15_000);
    await new Promise((r) => setTimeout(r, 1500)); // backends report their counts to pg_stat_database within a second
    const transactions = (await commits(databaseUrl)) - commitsBefore;
    const lat: number[] = [];
    const fromRequest: number[] = [];
    for (const s of subs) {
      for (const e of sent) {
        const at = s.seen.get(e.key);
        if (at === undefined) continue;
        lat.push(at - e.respondedAt);
        fromRequest.push(at - e.requestedAt);
      }
    }
    lat.sort((a, b) => a - b);
    fromRequest.sort((a, b) => a - b);
    return {
      subscribers: subs.length,
      events: sent.length,
      delivered: lat.length,
      expected: sent.length * subs.length,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      p50FromRequestMs: percentile(fromRequest, 50),
      rssBeforeMb,
      rssAfterMb,
      kbPerSubscriber: rssBeforeMb !== null && rssAfterMb !== null ? ((rssAfterMb - rssBeforeMb) * 1024) / subs.length : null,
      afterGc: inspectorUrl
        ? {
            rssBeforeMb: gcBeforeMb,
            rssAfterMb: gcAfterMb,
            kbPerSubscriber: gcBeforeMb !== null && gcAfterMb !== null ? ((gcAfterMb - gcBeforeMb) * 1024) / subs.length : null,
            kbPerSubscriberMarginal:
              gcHalfMb !== null && gcAfterMb !== null ? ((gcAfterMb - gcHalfMb) * 1024) / (subs.length - Math.ceil(subs.length / 2)) : null,
          }
        : null,
      kbPerSubscriberMarginal:
        rssHalfMb !== null && rssAfterMb !== null ? ((rssAfterMb - rssHalfMb) * 1024) / (subs.length - Math.ceil(subs.length / 2)) : null,
      dbTransactionsPerDelivery: lat.length ? transactions / lat.length : null,
    };
  } finally {
    await Promise.all(subs.map((s) => s.client.dispose()));
  }
}
