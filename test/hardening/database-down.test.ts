import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { startEmbedded, type EmbeddedDatabase } from '../../src/db/embedded';
import { LISTENER_APPLICATION_NAME } from '../../src/events/event-feed';
import { eventCursor } from '../../src/events/outbox';
import { startHub, type Hub } from '../../src/server/app';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { eventually, subscribe, type Live } from '../events/live';
import {
  CreateAgencyDocument,
  ReferralsDocument,
  TtOpenCaseDocument,
  TtReferralEventsDocument,
  TtRequestReferralDocument,
} from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { freePort } from '../support/hub-process';
import { checkInvariants } from '../support/invariants';
import { isContractAnswer, post, remoteHub, runClients, seedWorld, type Outcome, type Reply } from './torture-actions';

/**
 * PostgreSQL goes away under a running hub, and comes back (Hardening: Faults). The hub has its own
 * embedded PostgreSQL (a fixed port, a kept data folder) so that the test can stop and start it, in the
 * middle of a load of DB_DOWN_CLIENTS clients (default 10). While it is down (DB_DOWN_SECONDS, default 1):
 * every request is answered promptly (well within the 5 s connection timeout) with SERVICE_UNAVAILABLE and
 * HTTP 503, including those whose transaction was cut, and /healthz with 503. Once it is back on the same
 * port and data: the hub recovers without a restart (healthz 200, mutations work), the invariants hold,
 * and the LISTEN connection reconnects, so a subscription receives a new event (the hub's safety-net
 * poll is set to a minute here: only LISTEN can deliver it in time).
 */

const CLIENTS = Number(process.env.DB_DOWN_CLIENTS ?? 10);
const DOWN_SECONDS = Number(process.env.DB_DOWN_SECONDS ?? 1);
const SEED = process.env.TORTURE_SEED ? Number(process.env.TORTURE_SEED) : randomInt(2 ** 31);
/** The pool's connectionTimeoutMillis (src/db/data-source.ts) and some slack: "promptly". */
const PROMPT_MS = 6_000;

jest.setTimeout(90_000 + DOWN_SECONDS * 1000);

let dataDir: string | undefined;
let pg: EmbeddedDatabase | undefined;
let hub: Hub | undefined;
let live: Live<unknown> | undefined;
let stopLoad = true;
let frozen: number[] = [];
const logLines: string[] = [];

afterAll(async () => {
  stopLoad = true;
  thaw();
  await live?.dispose();
  await hub?.stop();
  await pg?.stop();
  if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
});

/** The embedded server's processes (the postmaster and its children), which this test started. */
function postgresProcesses(pgDataDir: string): number[] {
  const postmaster = Number(fs.readFileSync(path.join(pgDataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

function thaw(): void {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // exited
    }
  }
  frozen = [];
}

const hubConfig = (env: Record<string, string>) =>
  loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    HUB_EXPIRY_SWEEP: '1h',
    HUB_RATE_LIMIT_PER_MINUTE: '10000000',
    HUB_RATE_LIMIT_BURST: '10000000',
    ...env,
  });

const sinkInto = (lines: string[]) =>
  new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      // TEST_HUB_LOG=1: the hub's log on stderr too, for finding out why a test failed.
      if (process.env.TEST_HUB_LOG) process.stderr.write(chunk);
      cb();
    },
  });

/** How long an answer took, and what it was. */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  const value = await work();
  return { ms: Date.now() - started, value };
}

async function healthz(h: Hub): Promise<number> {
  const res = await fetch(h.url.replace(/\/graphql$/, '/healthz'), { signal: AbortSignal.timeout(20_000) });
  await res.body?.cancel();
  return res.status;
}

const summary = (r: Reply<unknown>) => ({ http: r.http, codes: (r.errors ?? []).map((e) => e.extensions?.code), failure: r.failure });

/** A contract answer, or the database-away answer: SERVICE_UNAVAILABLE with HTTP 503. */
/** A subscriber's errors other than SERVICE_UNAVAILABLE (an event read while the database is away). */
const beyondUnavailable = (errors: unknown[]) =>
  errors.filter((e) => (e as { extensions?: { code?: string } }).extensions?.code !== 'SERVICE_UNAVAILABLE');

const acceptable = (o: Outcome) =>
  isContractAnswer(o) || (o.http === 503 && o.codes.length > 0 && o.codes.every((c) => c === 'SERVICE_UNAVAILABLE'));

test('PostgreSQL stopped under load: prompt SERVICE_UNAVAILABLE (503), healthz 503; started again: the hub recovers without a restart, LISTEN included', async () => {
  console.log(`database-down seed ${SEED}; ${CLIENTS} clients; down for ${DOWN_SECONDS}s`);
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hub-db-down-'));
  const port = await freePort();
  // persistent: the data folder must survive the stop (a throwaway server deletes it on stop).
  pg = await startEmbedded({ dataDir, port, persistent: true });
  const adminToken = `admin_${randomBytes(24).toString('hex')}`;
  // A new event can then only arrive in time through the LISTEN connection.
  const config = hubConfig({ HUB_EVENT_POLL: '60s' });
  hub = await startHub({
    config,
    logger: createLogger(config.logLevel, sinkInto(logLines)),
    databaseUrl: pg.url,
    adminToken,
    idNumberKey: randomBytes(32),
  });
  const h = hub;
  const a = await theSeedAgencies(remoteHub(h.url, adminToken));
  const walkIn = async () =>
    post(
      h.url,
      TtOpenCaseDocument,
      { input: { person: { gender: 'MALE', birthYear: 1970, description: '来站求助者' }, intakeChannel: 'SELF_PRESENTED' } },
      a.station.token,
    );
  const evaluation = (personId: string) =>
    post(
      h.url,
      TtRequestReferralDocument,
      { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
      a.station.token,
    );

  // A subscriber of the hospital.
  const events = subscribe(h.url, a.hospital.token, TtReferralEventsDocument, { after: eventCursor(0) });
  live = events as Live<unknown>;
  const first = await walkIn();
  expect((await evaluation(first.data!.openCase.person.id)).errors).toBeUndefined();
  await events.count(1);
  expect(await healthz(h)).toBe(200);

  // --- PostgreSQL stops in the middle of a load ------------------------------------------------
  const world = await seedWorld(h.url, a, 6);
  const outcomes: Outcome[] = [];
  stopLoad = false;
  const load = runClients({ url: h.url, world, clients: CLIENTS, seed: SEED, stop: () => stopLoad, onOutcome: (o) => outcomes.push(o) });
  await eventually('some load', () => outcomes.length >= 20, 20_000);
  const stop = await timed(() => pg!.stop());
  const downSince = Date.now();
  const down = {
    healthz: await timed(() => healthz(h)),
    // An agency's token: the hub cannot even authenticate it.
    mutation: await timed(async () => summary(await walkIn())),
    // The administrator's token needs no database to authenticate; the resolvers do.
    adminQuery: await timed(async () => summary(await post(h.url, ReferralsDocument, { first: 5 }, adminToken))),
    adminMutation: await timed(async () =>
      summary(
        await post(h.url, CreateAgencyDocument, { input: { kind: 'WELFARE_HOME', name: '新福利院', regionCode: '430406' } }, adminToken),
      ),
    ),
  };
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, DOWN_SECONDS * 1000 - (Date.now() - downSince))));
  const duringOutage = outcomes.length;
  console.log(`database down (stopped in ${stop.ms} ms): ${JSON.stringify(down)}`);
  expect(down.healthz.value).toBe(503);
  for (const answer of [down.mutation, down.adminQuery, down.adminMutation]) {
    expect(answer.value).toEqual({ http: 503, codes: ['SERVICE_UNAVAILABLE'], failure: undefined });
  }
  for (const answer of Object.values(down)) expect(answer.ms).toBeLessThan(PROMPT_MS);
  // The WebSocket stays open. An event committed just before the stop may still be delivered during the outage, its
  // fields unreadable: then as SERVICE_UNAVAILABLE only, never a masked internal error nor a closed subscription.
  expect(beyondUnavailable(events.errors)).toEqual([]);

  // --- PostgreSQL is back, same port and data ----------------------------------------------------
  const back = Date.now();
  pg = await startEmbedded({ dataDir, port, persistent: true });
  const restarted = Date.now() - back;
  const sql = new Client({ connectionString: pg.url });
  await sql.connect();
  try {
    await eventually('healthz 200', async () => (await healthz(h)) === 200, 15_000);
    const healthy = Date.now() - back;
    const again = await eventually(
      'a mutation succeeds',
      async () => {
        const res = await walkIn();
        return res.data && !res.errors ? res.data : undefined;
      },
      15_000,
    );
    const mutating = Date.now() - back;
    const recovered = outcomes.length;
    await eventually('the load succeeds again', () => outcomes.slice(recovered).some((o) => o.acks.length > 0), 15_000);
    stopLoad = true;
    await load;

    const unavailable = outcomes.filter((o) => o.codes.includes('SERVICE_UNAVAILABLE')).length;
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    console.log(
      `load: ${outcomes.length} answers, ${unavailable} SERVICE_UNAVAILABLE (${duringOutage} answered by the end of the outage), ` +
        `slowest ${slowest} ms; unexpected: ${JSON.stringify(outcomes.filter((o) => !acceptable(o)).slice(0, 5))}`,
    );
    console.log(
      logLines
        .filter((l) => l.includes('"unexpected error"'))
        .slice(0, 3)
        .join('\n'),
    );
    expect(outcomes.filter((o) => !acceptable(o)).slice(0, 10)).toEqual([]);
    expect(unavailable).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(PROMPT_MS);
    expect(logLines.filter((l) => l.includes('"unexpected error"')).slice(0, 3)).toEqual([]);
    expect(await checkInvariants(sql)).toEqual([]);

    await eventually(
      'the LISTEN connection is back',
      async () =>
        (await sql.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [LISTENER_APPLICATION_NAME])).rowCount === 1,
      15_000,
    );
    const listening = Date.now() - back;
    const sent = Date.now();
    const { data, errors } = await evaluation(again.openCase.person.id);
    expect(errors).toBeUndefined();
    await eventually('the new event', () => events.items.some((i) => i.referralEvents.referral.id === data!.requestReferral.id), 5_000);
    console.log(
      `database back (started in ${restarted} ms): healthz 200 after ${healthy} ms, a mutation after ${mutating} ms, ` +
        `LISTEN after ${listening} ms, the next event delivered in ${Date.now() - sent} ms`,
    );
    // Whatever the subscriber was told during the outage was SERVICE_UNAVAILABLE (above), and nothing else since.
    expect(beyondUnavailable(events.errors)).toEqual([]);
  } finally {
    await sql.end();
  }
});

/**
 * PostgreSQL stops answering without closing anything (SIGSTOP: a hung server, or a network gone silent).
 * /healthz must still answer (503) within its 3 s bound, and the LISTEN connection must notice that its
 * pings go unanswered and reconnect once the server answers again. Requests that already hold a pooled
 * connection wait for the server (there is no client-side query timeout); the rest get SERVICE_UNAVAILABLE
 * after the pool's 5 s connection timeout.
 */
const linuxOnly = process.platform === 'linux' ? test : test.skip;
linuxOnly('PostgreSQL frozen: healthz 503 within its bound, the listener notices and reconnects after the thaw', async () => {
  if (!pg || !dataDir) throw new Error('runs after the first test, on its PostgreSQL');
  const lines: string[] = [];
  const config = hubConfig({ HUB_EVENT_POLL: '1s' }); // pings every second
  const adminToken = `admin_${randomBytes(24).toString('hex')}`;
  const h = await startHub({
    config,
    logger: createLogger(config.logLevel, sinkInto(lines)),
    databaseUrl: pg.url,
    adminToken,
    idNumberKey: randomBytes(32),
  });
  try {
    const a = await theSeedAgencies(remoteHub(h.url, adminToken));
    const walkIn = () =>
      post(
        h.url,
        TtOpenCaseDocument,
        { input: { person: { gender: 'FEMALE', birthYear: 1960, description: '冻结测试' }, intakeChannel: 'SELF_PRESENTED' } },
        a.station.token,
        30_000,
      );
    expect((await walkIn()).errors).toBeUndefined();

    frozen = postgresProcesses(dataDir);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    const frozenAt = Date.now();
    const duringFreeze = timed(async () => summary(await walkIn()));
    const health = await timed(() => healthz(h));
    const gaveUp = await eventually(
      'the listener gives up on its connection',
      () => lines.find((l) => l.includes('event listener connection lost')),
      10_000,
    );
    const noticed = (JSON.parse(gaveUp) as { time: number }).time - frozenAt;
    thaw();
    const thawedAt = Date.now();
    await eventually('healthz 200', async () => (await healthz(h)) === 200, 15_000);
    await eventually('the listener reconnected', () => lines.some((l) => l.includes('event listener reconnected')), 15_000);
    const reconnected = Date.now() - thawedAt;
    const request = await duringFreeze;
    console.log(
      `frozen: healthz ${health.value} in ${health.ms} ms; the listener gave up after ${noticed} ms, reconnected ${reconnected} ms after the thaw; ` +
        `a request sent during the freeze: ${JSON.stringify(request.value)} after ${request.ms} ms (frozen for ${thawedAt - frozenAt} ms)`,
    );
    expect(health.value).toBe(503);
    expect(health.ms).toBeLessThan(4_000);
    expect((await walkIn()).errors).toBeUndefined();
  } finally {
    thaw();
    await h.stop();
  }
});
