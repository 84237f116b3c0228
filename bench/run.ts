import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { bearer, document, globalId, gql, requestBody } from './client';
import { migrate, startBenchDatabase, type BenchDatabase } from './database';
import { agencyOffsets, benchId, benchToken, checkLedger, generate, ID_SPACE } from './generate';
import { checkHandoffs, mergeHandoffs, runHandoff, type HandoffMeasurement, type HandoffPerson } from './handoff';
import { cannon, type HttpRequest, type Measurement } from './load';
import { installLimitHandoff } from './limit-handoff';
import { pgStatementsWanted, printPgStatements, resetPgStatements } from './pg-statements';
import { benchWorkers, spawnHub, spawnLimitServer, type Server } from './processes';
import { summarizeProfile } from './profile';
import { markdown, type HttpWorkload, type Machine, type Results } from './report';
import { countStatements } from './sql-count';
import { runSubscriptions } from './subscriptions';

/**
 * `npm run bench` (issue 7): its own database, generated data, the hub in a
 * separate process, the workloads against it and against the limit server,
 * results in bench/results/<date>.json and .md. Settings: BENCH_SCALE (1),
 * BENCH_DURATION seconds per run (10), BENCH_CONNECTIONS ("10,50"),
 * BENCH_SUBSCRIBERS (1000), BENCH_DATABASE_URL (default: embedded),
 * BENCH_CPU_PROFILE=1 (profile the hub during the dashboard afterwards),
 * BENCH_HUB_PROFILE=<dir> (every hub process the bench spawns writes a CPU
 * profile there when it stops: one for the HTTP workloads and hand-offs, one
 * for the subscriptions),
 * BENCH_WORKERS (processes of the hub and of the limit server; default 1),
 * BENCH_ONLY (comma-separated subset of sql, dashboard, person, handoff,
 * subscriptions, report: for working on one workload; such runs are written
 * as <date>-partial.*).
 * BENCH_AB_ENV="NAME=value ...", BENCH_AB_NODE_ARGS="--flag ..." and/or
 * BENCH_AB_ROOT=<another checkout, built>: a second hub B (this build with
 * those settings or Node flags added, or that build) beside
 * the first, A; the dashboard, the person by id and the hand-off then run as
 * BENCH_AB_PAIRS (3) alternating pairs A, B at the first of BENCH_CONNECTIONS
 * instead of beside the limit:
 * how a change is kept or dropped on this noisy machine (issue 7).
 */

const ROOT = path.join(__dirname, '..');
const log = (msg: string) => console.log(msg);

function positive(name: string, def: string): number {
  const n = Number(process.env[name] ?? def);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${process.env[name]}"`);
  return n;
}

function machine(): Machine {
  const model = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return { cpus: os.availableParallelism(), model, ramGb: os.totalmem() / 2 ** 30, node: process.version, loadBefore: os.loadavg() };
}

/** One hand-off run for the log: rate, latency, failures, CPU per cycle by whom, writes per cycle. */
function describeHandoff(m: HandoffMeasurement): string {
  return (
    `${m.cyclesPerSecond.toFixed(1)} cycles/s p50 ${m.p50Ms.toFixed(0)} p99 ${m.p99Ms.toFixed(0)} ms, ${m.failures.length} failed, ` +
    `CPU ${m.cpuMsPerCycle?.toFixed(2)} ms/cycle (load generator ${m.benchCpuMsPerCycle?.toFixed(2)}, ` +
    `PostgreSQL and the rest ${m.othersCpuMsPerCycle?.toFixed(2)}), ${m.writesPerCycle?.toFixed(1)} writes/cycle`
  );
}

/** Key-sorted JSON, to compare the limit server's answer with the hub's whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The first place where two JSON values differ, for the log. */
function firstDifference(a: unknown, b: unknown, at = ''): string | null {
  if (canonical(a) === canonical(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at}: hub ${JSON.stringify(a)?.slice(0, 120)} / limit ${JSON.stringify(b)?.slice(0, 120)}`;
}

async function post(url: string, r: HttpRequest): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...r.headers }, body: r.body });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  const json = JSON.parse(text) as { errors?: unknown[] };
  if (json.errors?.length) throw new Error(`${url}: ${JSON.stringify(json.errors).slice(0, 300)}`);
  return text;
}

/** Checks the first `n` requests on both servers; returns the hub's answer size and whether the answers agree. */
async function verify(
  hubUrl: string,
  limitUrl: string | undefined,
  requests: HttpRequest[],
  n: number,
): Promise<{ bytes: number; same?: string }> {
  let bytes = 0;
  let differing = 0;
  const checked = requests.slice(0, n);
  for (const r of checked) {
    const hub = await post(hubUrl, r);
    bytes = Math.max(bytes, Buffer.byteLength(hub));
    if (!limitUrl) continue;
    const diff = firstDifference(JSON.parse(hub), JSON.parse(await post(limitUrl, r)));
    if (diff && differing++ === 0) log(`  first difference: ${diff}`);
  }
  const same = limitUrl
    ? differing === 0
      ? `identical for ${checked.length} checked requests`
      : `DIFFERS in ${differing} of ${checked.length}`
    : undefined;
  return { bytes, same };
}

async function measureHttp(
  name: string,
  requests: HttpRequest[],
  hub: Server,
  limit: { server: Server; path: string } | undefined,
  connections: number[],
  seconds: number,
  warmup: number,
  dbUrl: string,
): Promise<HttpWorkload> {
  const check = await verify(hub.url, limit && limit.server.url + limit.path, requests, Math.min(requests.length, 20));
  log(`${name}: response ${(check.bytes / 1024).toFixed(1)} KB${check.same ? `; limit server ${check.same}` : ''}`);
  const w: HttpWorkload = { name, hub: [], limit: limit ? [] : undefined, responseBytes: check.bytes, sameAnswer: check.same };
  await cannon(hub.url, requests, connections[0], warmup, hub.pid);
  if (limit) await cannon(limit.server.url + limit.path, requests, connections[0], warmup, limit.server.pid);
  for (const c of connections) {
    if (pgStatementsWanted) await resetPgStatements(dbUrl);
    const h = await cannon(hub.url, requests, c, seconds, hub.pid);
    if (pgStatementsWanted) await printPgStatements(dbUrl, `hub ${name} ${c} conn`, h.requests, log);
    w.hub.push(h);
    let line = `  ${c} conn: hub ${h.rps.toFixed(0)} req/s p50 ${h.p50Ms} p99 ${h.p99Ms} ms RSS ${h.rssMb?.toFixed(0)} MB CPU ${h.cpuMsPerRequest?.toFixed(2)} ms/req`;
    if (limit) {
      if (pgStatementsWanted) await resetPgStatements(dbUrl);
      const l: Measurement = await cannon(limit.server.url + limit.path, requests, c, seconds, limit.server.pid);
      if (pgStatementsWanted) await printPgStatements(dbUrl, `limit ${name} ${c} conn`, l.requests, log);
      w.limit!.push(l);
      line += ` | limit ${l.rps.toFixed(0)} req/s p50 ${l.p50Ms} p99 ${l.p99Ms} ms | hub/limit ${(h.rps / l.rps).toFixed(2)}`;
    }
    if (h.errors || h.non2xx) line += ` (hub: ${h.errors} errors, ${h.non2xx} non-2xx)`;
    log(line);
  }
  return w;
}

/**
 * An A/B run: `pairs` pairs of runs against hub A and hub B, alternating which goes first (A B, B A, ...), so
 * that the machine's drift weighs on both alike; each run logged as it ends.
 */
async function alternatingPairs<M>(
  pairs: number,
  a: Server,
  b: Server,
  run: (server: Server) => Promise<M>,
  logRun: (label: 'A' | 'B', m: M) => void,
): Promise<Record<'A' | 'B', M[]>> {
  const results: Record<'A' | 'B', M[]> = { A: [], B: [] };
  for (let i = 0; i < pairs; i++) {
    const order: ['A' | 'B', Server][] =
      i % 2
        ? [
            ['B', b],
            ['A', a],
          ]
        : [
            ['A', a],
            ['B', b],
          ];
    for (const [label, server] of order) {
      const m = await run(server);
      results[label].push(m);
      logRun(label, m);
    }
  }
  return results;
}

/** The mean of one figure over runs (NaN if any run lacks it). */
function meanOf<M>(ms: M[], of: (m: M) => number | null | undefined): number {
  return ms.reduce((n, m) => n + (of(m) ?? NaN), 0) / ms.length;
}

function stamp(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', '_').replace(':', '');
}

async function main(): Promise<void> {
  const scale = positive('BENCH_SCALE', '1');
  const seconds = positive('BENCH_DURATION', '10');
  const warmup = Math.min(5, Math.max(2, seconds / 3));
  // The hand-off's rounds per server (mergeHandoffs); one with BENCH_PG_STATEMENTS, whose figures are per run.
  const rounds = pgStatementsWanted ? 1 : positive('BENCH_HANDOFF_ROUNDS', '2');
  if (!Number.isInteger(rounds)) throw new Error(`BENCH_HANDOFF_ROUNDS must be a whole number, got "${process.env.BENCH_HANDOFF_ROUNDS}"`);
  const connections = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map((x) => Number(x.trim()));
  const subscriberCount = positive('BENCH_SUBSCRIBERS', '1000');
  const WORKLOADS = ['sql', 'dashboard', 'person', 'handoff', 'subscriptions', 'report'] as const;
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((w) => w.trim()) : undefined;
  for (const w of only ?? [])
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`BENCH_ONLY: unknown workload "${w}" (${WORKLOADS.join(', ')})`);
  const wanted = (w: (typeof WORKLOADS)[number]) => !only || only.includes(w);
  const schema = fs.readFileSync(path.join(ROOT, 'schema', 'schema.graphql'), 'utf8');
  const typeBody = (name: string) => new RegExp(`type ${name}\\s*\\{([^}]*)\\}`).exec(schema)?.[1] ?? '';
  const hasSubscriptions = /\breferralEvents\s*\(/.test(typeBody('Subscription')) || /\breferralEvents\s*:/.test(typeBody('Subscription'));
  const hasReport = /\bstationReport\s*\(/.test(typeBody('Query'));
  const started = new Date();
  const mach = machine();
  log(
    `bench: scale ${scale}, ${seconds} s per run, connections ${connections.join('/')}; ${mach.cpus} CPUs (${mach.model}), ${mach.ramGb.toFixed(0)} GB`,
  );

  const running: { stop(): Promise<void> }[] = [];
  let db: BenchDatabase | undefined;
  const cleanup = async () => {
    for (const s of running.reverse()) await s.stop().catch(() => {});
    await db?.stop().catch(() => {});
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)));
  try {
    db = await startBenchDatabase(log);
    log(`migrations applied: ${await migrate(db.url)}`);
    const gen = await generate(db.url, scale, log);
    const problems = await checkLedger(db.url);
    if (problems.length) throw new Error(`generated data are inconsistent: ${problems.join('; ')}`);
    const off = agencyOffsets(gen.scale);
    const indexOf = new Map(Array.from({ length: off.total }, (_, i) => [benchId(ID_SPACE.agency, i + 1), i + 1]));
    const token = (agencyId: string) => benchToken(gen.secret, indexOf.get(agencyId)!);
    const hospitalOf = (stationId: string) => benchId(ID_SPACE.agency, off.hospital + indexOf.get(stationId)!);

    // --- fixtures --------------------------------------------------------------
    const pgc = new Client({ connectionString: db.url });
    await pgc.connect();
    const busiest = (
      await pgc.query<{ station_id: string; n: string }>(
        `SELECT station_id, count(*) AS n FROM rescue_case WHERE status = 'OPEN' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
      )
    ).rows[0];
    const sample = (
      await pgc.query<{ person_id: string; station_id: string }>(
        `SELECT person_id, station_id FROM rescue_case ORDER BY random() LIMIT 500`,
      )
    ).rows;
    const movable = (notBusiest: boolean, n: number) =>
      pgc.query<{ person_id: string; station_id: string }>(
        `SELECT c.person_id, c.station_id FROM rescue_case c
           JOIN custody_record k ON k.person_id = c.person_id AND k.to_at IS NULL AND k.holder_id = c.station_id
          WHERE c.status = 'OPEN' AND (c.station_id = $1) <> $2
            AND NOT EXISTS (SELECT 1 FROM referral r WHERE r.person_id = c.person_id AND r.status IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT'))
          ORDER BY c.opened_at DESC LIMIT $3`,
        [busiest.station_id, notBusiest, n],
      );
    const handoffPerson = (r: { person_id: string; station_id: string }): HandoffPerson => ({
      personId: r.person_id,
      stationId: r.station_id,
      hospitalId: hospitalOf(r.station_id),
      stationToken: token(r.station_id),
      hospitalToken: token(hospitalOf(r.station_id)),
      at: 'station',
    });
    const workers = (await movable(true, Math.max(...connections))).rows.map(handoffPerson);
    const subscriptionPersons = (await movable(false, 5)).rows.map(handoffPerson);
    await pgc.end();

    const stationToken = token(busiest.station_id);
    const dashboardQuery = document('dashboard');
    const dashboard = (first: number): HttpRequest => ({
      body: requestBody(dashboardQuery, { stationId: globalId('Agency', busiest.station_id), first }),
      headers: bearer(stationToken),
    });
    const personQuery = document('person');
    const personRequests: HttpRequest[] = sample.map((s) => ({
      body: requestBody(personQuery, { id: globalId('Person', s.person_id) }),
      headers: bearer(token(s.station_id)),
    }));
    log(`dashboard station: ${busiest.n} open cases; hand-off workers: ${workers.length}`);

    // --- SQL statements per request (in-process hub, counted) ------------------
    const edges = (d: unknown) => (d as { cases: { edges: unknown[] } }).cases.edges.length;
    const sqlCounts = !wanted('sql')
      ? []
      : await countStatements(db.url, [
          {
            label: 'dashboard, first: 10',
            token: stationToken,
            query: dashboardQuery,
            variables: JSON.parse(dashboard(10).body).variables,
            rows: edges,
          },
          {
            label: 'dashboard, first: 50',
            token: stationToken,
            query: dashboardQuery,
            variables: JSON.parse(dashboard(50).body).variables,
            rows: edges,
          },
          {
            label: 'dashboard, first: 100',
            token: stationToken,
            query: dashboardQuery,
            variables: JSON.parse(dashboard(100).body).variables,
            rows: edges,
          },
          {
            label: 'person by id',
            token: token(sample[0].station_id),
            query: personQuery,
            variables: JSON.parse(personRequests[0].body).variables,
            rows: () => 1,
          },
        ]);
    for (const q of sqlCounts) log(`SQL per request: ${q.label}: ${q.statements} statements (${q.rows} rows), ${q.pages} buffer pages`);

    // --- the hub and the limit server, each in its own process -----------------
    const hubEnv = {
      DATABASE_URL: db.url,
      HUB_ID_NUMBER_KEY: crypto.randomBytes(32).toString('hex'),
      HUB_ADMIN_TOKEN: crypto.randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
      HUB_RATE_LIMIT_PER_MINUTE: '10000000',
      HUB_RATE_LIMIT_BURST: '10000000',
    };
    // BENCH_HUB_PROFILE=<dir>: each hub process writes a CPU profile there when it stops.
    const hubProfileArgs = process.env.BENCH_HUB_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_HUB_PROFILE}`] : [];
    let hub = await spawnHub(hubEnv, hubProfileArgs);
    running.push(hub);
    const poolSize = 10; // the hub's default HUB_DB_POOL_SIZE
    await installLimitHandoff(db.url);
    const limit = await spawnLimitServer(db.url, poolSize);
    running.push(limit);
    log(`hub ${hub.url} (pid ${hub.pid}); limit server ${limit.url} (pid ${limit.pid})`);

    const abEnv = Object.fromEntries(
      (process.env.BENCH_AB_ENV ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const abRoot = process.env.BENCH_AB_ROOT ? path.resolve(process.env.BENCH_AB_ROOT) : undefined;
    const abNodeArgs = (process.env.BENCH_AB_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const ab = abRoot !== undefined || Object.keys(abEnv).length > 0 || abNodeArgs.length > 0;
    const abPairs = positive('BENCH_AB_PAIRS', '3');
    // A/B of a read: alternating pairs of runs at the first of BENCH_CONNECTIONS against hub A (this build) and B.
    const abRead = async (name: string, requests: HttpRequest[], b: Server) => {
      const c = connections[0];
      for (const server of [hub, b]) await cannon(server.url, requests, c, warmup, server.pid);
      const results = await alternatingPairs(
        abPairs,
        hub,
        b,
        (server) => cannon(server.url, requests, c, seconds, server.pid),
        (label, m) =>
          log(`  ${name} ${label}: ${m.rps.toFixed(0)} req/s p50 ${m.p50Ms} p99 ${m.p99Ms} ms CPU ${m.cpuMsPerRequest?.toFixed(2)} ms/req`),
      );
      for (const label of ['A', 'B'] as const) {
        const mean = (of: (m: Measurement) => number | null | undefined) => meanOf(results[label], of);
        log(
          `A/B mean ${name} ${label}: ${mean((m) => m.rps).toFixed(0)} req/s, p50 ${mean((m) => m.p50Ms).toFixed(1)}, ` +
            `p99 ${mean((m) => m.p99Ms).toFixed(1)} ms, CPU ${mean((m) => m.cpuMsPerRequest).toFixed(2)} ms/req`,
        );
      }
    };
    const bHub = ab ? await spawnHub({ ...hubEnv, ...abEnv }, abNodeArgs, { root: abRoot }) : undefined;
    if (bHub) {
      running.push(bHub);
      log(
        `A/B: A ${ROOT}; B ${abRoot ?? ROOT}${Object.keys(abEnv).length ? ` with ${process.env.BENCH_AB_ENV}` : ''}` +
          `${abNodeArgs.length ? ` and node ${abNodeArgs.join(' ')}` : ''}; ${abPairs} pairs`,
      );
      if (wanted('dashboard')) await abRead('dashboard', [dashboard(50)], bHub);
      if (wanted('person')) await abRead('person', personRequests, bHub);
    }
    const http: HttpWorkload[] = [];
    const notes: string[] = [];
    const page = await gql<{ cases: { totalCount: number; edges: { node: { referrals: unknown[] } }[] } }>(
      hub.url,
      stationToken,
      dashboardQuery,
      JSON.parse(dashboard(50).body).variables,
    );
    const referralsShown = page.cases.edges.reduce((n, e) => n + e.node.referrals.length, 0);
    notes.push(`dashboard page: ${page.cases.edges.length} of ${page.cases.totalCount} open cases, ${referralsShown} referrals`);
    if (wanted('dashboard') && !ab)
      http.push(
        await measureHttp(
          'station dashboard (50 cases)',
          [dashboard(50)],
          hub,
          { server: limit, path: '/dashboard' },
          connections,
          seconds,
          warmup,
          db.url,
        ),
      );
    if (wanted('dashboard') && !ab) {
      // The same page rebuilt at every request: what a dashboard costs when its station's data has just changed,
      // and what the hub did before the page cache (src/cases/case-page.cache.ts). A hub of its own, cache off.
      const cold = await spawnHub({ ...hubEnv, HUB_PAGE_CACHE_ENTRIES: '0' }, hubProfileArgs);
      running.push(cold);
      http.push(
        await measureHttp(
          'station dashboard (50 cases), page cache off',
          [dashboard(50)],
          cold,
          { server: limit, path: '/dashboard' },
          connections,
          seconds,
          warmup,
          db.url,
        ),
      );
      // The worst case for the cache: one worker handing persons of the dashboard's own station off as fast as it
      // can, so that nearly every page is stale when asked for again (a change at the station ends it) and costs
      // its revalidation and the rebuild; the same beside the hub without the cache, to compare. Hubs only: the
      // limit server keeps nothing to go stale.
      const c = connections[0];
      for (const [server, label] of [
        [hub, 'its station handing off'],
        [cold, 'page cache off, its station handing off'],
      ] as const) {
        const [reads, handing] = await Promise.all([
          cannon(server.url, [dashboard(50)], c, seconds, server.pid),
          runHandoff(server.url, subscriptionPersons, 1, seconds),
        ]);
        http.push({ name: `station dashboard (50 cases), ${label}`, hub: [reads], responseBytes: http[0]?.responseBytes ?? 0 });
        const line = `${reads.rps.toFixed(0)} req/s p50 ${reads.p50Ms} p99 ${reads.p99Ms} ms at ${c} connections, beside 1 hand-off worker at the station doing ${handing.cyclesPerSecond.toFixed(1)} cycles/s (${handing.failures.length} failed)`;
        log(`station dashboard, ${label}: ${line}`);
        notes.push(`dashboard, ${label}: ${line}; the hub's CPU per request includes the hand-offs'`);
      }
      await cold.stop();
    }
    if (wanted('person') && !ab)
      http.push(
        await measureHttp('person by id', personRequests, hub, { server: limit, path: '/person' }, connections, seconds, warmup, db.url),
      );

    // --- hand-offs ---------------------------------------------------------------
    const handoffStart = new Date(Date.now() - 1000);
    const runs: HandoffMeasurement[] = [];
    const limitRuns: HandoffMeasurement[] = [];
    const handoffProblems: string[] = [];
    if (ab) {
      const b = bHub!;
      const c = Math.min(connections[0], workers.length);
      if (wanted('handoff')) {
        for (const server of [hub, b]) await runHandoff(server.url, workers, c, warmup, server.pid);
        const results = await alternatingPairs(
          abPairs,
          hub,
          b,
          (server) => runHandoff(server.url, workers, c, seconds, server.pid),
          (label, m) => log(`  ${label}: ${describeHandoff(m)}`),
        );
        for (const name of ['A', 'B'] as const) {
          const mean = (of: (m: HandoffMeasurement) => number | null | undefined) => meanOf(results[name], of);
          log(
            `A/B mean ${name}: ${mean((m) => m.cyclesPerSecond).toFixed(1)} cycles/s, hub CPU ${mean((m) => m.cpuMsPerCycle).toFixed(2)}, ` +
              `PostgreSQL and the rest ${mean((m) => m.othersCpuMsPerCycle).toFixed(2)} ms/cycle, ${mean((m) => m.writesPerCycle).toFixed(1)} writes/cycle`,
          );
        }
        const failed = [...results.A, ...results.B].flatMap((m) => m.failures);
        log(`A/B: ${failed.length} failed${failed.length ? `: ${failed[0]}` : ''}`);
      }
      await b.stop();
      return;
    }
    if (wanted('handoff')) {
      const warm = await runHandoff(hub.url, workers, Math.min(connections[0], workers.length), warmup, hub.pid);
      const limitUrl = `${limit.url}/handoff`;
      const limitWarm = await runHandoff(limitUrl, workers, Math.min(connections[0], workers.length), warmup, limit.pid);
      for (const want of connections) {
        const c = Math.min(want, workers.length);
        if (c < want)
          notes.push(
            `hand-off: ${c} workers instead of ${want}: only ${workers.length} persons are held by their station with no open referral`,
          );
        // Alternating rounds, hub, limit, limit, hub, ... (BENCH_HANDOFF_ROUNDS per server, the run's seconds split
        // between them): see mergeHandoffs. With BENCH_PG_STATEMENTS one round each, printed per run.
        const hubParts: HandoffMeasurement[] = [];
        const limitParts: HandoffMeasurement[] = [];
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? (['hub', 'limit'] as const) : (['limit', 'hub'] as const);
          for (const who of order) {
            const url = who === 'hub' ? hub.url : limitUrl;
            const pid = who === 'hub' ? hub.pid : limit.pid;
            if (pgStatementsWanted) await resetPgStatements(db.url);
            const m = await runHandoff(url, workers, c, seconds / rounds, pid);
            if (pgStatementsWanted) await printPgStatements(db.url, `${who} hand-off ${c} workers`, m.cycles, log);
            (who === 'hub' ? hubParts : limitParts).push(m);
          }
        }
        const h = mergeHandoffs(hubParts);
        const l = mergeHandoffs(limitParts);
        runs.push(h);
        limitRuns.push(l);
        log(
          `hand-off ${c} workers: ${describeHandoff(h)} | limit ${describeHandoff(l)} | hub/limit ${(h.cyclesPerSecond / l.cyclesPerSecond).toFixed(2)}`,
        );
        for (const f of [...h.failures, ...l.failures].slice(0, 5)) log(`  failed: ${f}`);
      }
      handoffProblems.push(
        ...(await checkHandoffs(
          db.url,
          workers,
          handoffStart,
          [warm, limitWarm, ...runs, ...limitRuns].reduce((n, r) => n + r.cycles, 0),
        )),
      );
      if (warm.failures.length) handoffProblems.push(`${warm.failures.length} warm-up cycles failed: ${warm.failures[0]}`);
      if (limitWarm.failures.length)
        handoffProblems.push(`${limitWarm.failures.length} limit warm-up cycles failed: ${limitWarm.failures[0]}`);
      log(`hand-off ledger: ${handoffProblems.length ? handoffProblems.join('; ') : 'intact'}`);
    }

    // --- subscriptions -----------------------------------------------------------
    let subscriptions: Results['subscriptions'];
    if (!wanted('subscriptions')) {
      subscriptions = { skipped: 'skipped: not in BENCH_ONLY' };
    } else if (!hasSubscriptions) {
      subscriptions = { skipped: 'skipped: no subscriptions yet (schema/schema.graphql has no Subscription.referralEvents)' };
      log(subscriptions.skipped);
    } else {
      try {
        // A fresh hub process: in one the earlier workloads grew, new subscribers would fit in heap already there.
        await hub.stop();
        hub = await spawnHub(hubEnv, hubProfileArgs, { inspect: true });
        running.push(hub);
        subscriptions = await runSubscriptions(
          db.url,
          hub.url,
          hub.pid,
          hub.inspectorUrl,
          stationToken,
          subscriptionPersons,
          subscriberCount,
          5,
        );
        log(`subscriptions: ${JSON.stringify(subscriptions)}`);
      } catch (err) {
        subscriptions = { failed: (err as Error).message };
        log(`subscriptions FAILED: ${(err as Error).message}`);
      }
    }

    // --- station report ----------------------------------------------------------
    if (!wanted('report')) {
      // not in BENCH_ONLY
    } else if (!hasReport) {
      notes.push('station report: skipped: no stationReport in schema/schema.graphql yet');
      log('station report: skipped: no stationReport yet');
    } else {
      const to = new Date();
      const from = new Date(to.getTime() - 365 * 86_400_000);
      const report: HttpRequest = {
        body: requestBody(document('station-report'), {
          stationId: globalId('Agency', busiest.station_id),
          from: from.toISOString(),
          to: to.toISOString(),
        }),
        headers: bearer(stationToken),
      };
      try {
        http.push(await measureHttp('station report (1 year)', [report], hub, undefined, connections, seconds, warmup, db.url));
      } catch (err) {
        notes.push(`station report: FAILED: ${(err as Error).message}`);
        log(`station report FAILED: ${(err as Error).message}`);
      }
    }

    mach.loadAfter = os.loadavg();
    const results: Results = {
      date: started.toISOString(),
      machine: mach,
      settings: {
        scale,
        durationSeconds: seconds,
        warmupSeconds: warmup,
        connections,
        subscribers: subscriberCount,
        workers: benchWorkers(),
        handoffRounds: rounds,
      },
      database: db.description,
      generation: { seconds: gen.timings, counts: gen.counts },
      sqlCounts,
      http,
      handoff: { runs, limitRuns: limitRuns.length ? limitRuns : undefined, problems: handoffProblems },
      subscriptions,
      notes,
    };

    // --- optional: where the hub spends its CPU on the dashboard -----------------
    if (process.env.BENCH_CPU_PROFILE === '1') {
      await hub.stop();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-bench-prof-'));
      // One process, so that the one profile holds all the dashboard's work.
      const profiled = await spawnHub({ ...hubEnv, HUB_WORKERS: '1' }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      running.push(profiled);
      await cannon(profiled.url, [dashboard(50)], connections[0], warmup, profiled.pid);
      const loadStart = performance.now();
      await cannon(profiled.url, [dashboard(50)], connections[0], seconds, profiled.pid);
      const loadEnd = performance.now();
      await profiled.stop();
      const window = { skipEndMs: performance.now() - loadEnd, lengthMs: loadEnd - loadStart };
      const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        // Only the measured load: not the start-up (module loading, connecting) nor the shutdown.
        results.profile = summarizeProfile(path.join(dir, file), window);
        log(`CPU profile: ${path.join(dir, file)}`);
      }
    }

    const outDir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    const base = path.join(outDir, stamp(started) + (only ? '-partial' : ''));
    const md = markdown(results);
    // Without each hand-off cycle's time (thousands of numbers; their percentiles are in the measurement).
    fs.writeFileSync(`${base}.json`, JSON.stringify(results, (key, value: unknown) => (key === 'times' ? undefined : value), 2) + '\n');
    fs.writeFileSync(`${base}.md`, md);
    console.log('\n' + md);
    log(`results: ${path.relative(ROOT, base)}.json and .md`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
