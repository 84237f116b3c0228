import fs from 'node:fs';
import type { HandoffMeasurement } from './handoff';
import type { Measurement } from './load';
import type { ProfileSummary } from './profile';
import type { SqlCount } from './sql-count';
import type { SubscriptionMeasurement } from './subscriptions';

export interface Machine {
  cpus: number;
  model: string;
  ramGb: number;
  node: string;
  loadBefore: number[];
  loadAfter?: number[];
}

export interface HttpWorkload {
  name: string;
  hub: Measurement[];
  /** Same requests answered by bench/limit-server.ts (absent where there is no limit server for it). */
  limit?: Measurement[];
  responseBytes: number;
  /** Whether the limit server's JSON equals the hub's for the checked requests. */
  sameAnswer?: string;
}

export interface Results {
  date: string;
  machine: Machine;
  settings: {
    scale: number;
    durationSeconds: number;
    warmupSeconds: number;
    connections: number[];
    subscribers: number;
    workers?: number;
    /** The hand-off's alternating rounds per server (mergeHandoffs); absent in results from before them: 1. */
    handoffRounds?: number;
  };
  database: string;
  generation: { seconds: Record<string, number>; counts: Record<string, number> };
  sqlCounts: SqlCount[];
  http: HttpWorkload[];
  /** limitRuns: the same cycles against the limit server (bench/limit-handoff.ts), one per entry of runs. */
  handoff: { runs: HandoffMeasurement[]; limitRuns?: HandoffMeasurement[]; problems: string[] };
  subscriptions: SubscriptionMeasurement | { skipped: string } | { failed: string };
  notes: string[];
  profile?: ProfileSummary;
}

const f0 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(0));
const f1 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(1));
const f2 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(2));
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '–');

/** One figure of each run, "1.43 / 1.60", or "–" where none has it. */
function perRun(runs: HandoffMeasurement[], of: (m: HandoffMeasurement) => number | null | undefined, digits: number): string {
  const v = runs.map(of).filter((x): x is number => x != null);
  return v.length ? v.map((x) => x.toFixed(digits)).join(' / ') : '–';
}

/** One of issue 7's targets as this run measured it. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/**
 * Issue 7's targets, read off this run's figures: what the README's "where the targets stand" is written from.
 * The scale target compares two runs (BENCH_SCALE=1 and 10) and is not in here.
 */
export function targetChecks(r: Results): TargetCheck[] {
  const out: TargetCheck[] = [];
  const dashboard = r.http.find((w) => w.name.startsWith('station dashboard'));
  const person = r.http.find((w) => w.name.startsWith('person by id'));
  const halfOfLimit = (w: HttpWorkload | undefined, label: string) =>
    w?.hub.forEach((h, i) => {
      const l = w.limit?.[i];
      if (l)
        out.push({
          target: `${label} ≥ 0.5× the limit, ${h.connections} connections`,
          measured: ratio(h.rps, l.rps),
          met: h.rps >= 0.5 * l.rps,
        });
    });
  // The page as the hub answers it (from the page cache while unchanged) and, said beside it, rebuilt every time.
  for (const w of r.http.filter((x) => x.name.startsWith('station dashboard'))) {
    const label = w === dashboard ? 'dashboard' : `dashboard${w.name.slice(w.name.indexOf(')') + 1)}`;
    halfOfLimit(w, label);
    const at10 = w.hub.find((h) => h.connections === 10);
    if (at10 && w.limit)
      out.push({ target: `${label} p99 < 50 ms, 10 connections`, measured: `${f1(at10.p99Ms)} ms`, met: at10.p99Ms < 50 });
  }
  const pages = r.sqlCounts.filter((q) => q.label.startsWith('dashboard'));
  if (pages.length)
    out.push({
      target: 'dashboard ≤ 5 SQL statements, whatever the page size',
      measured: pages.map((q) => `${q.statements} for ${q.rows}`).join(', '),
      met: pages.every((q) => q.statements <= 5) && new Set(pages.map((q) => q.statements)).size === 1,
    });
  halfOfLimit(person, 'person by id');
  const failed = r.handoff.runs.reduce((n, x) => n + x.failures.length, 0);
  for (const h of r.handoff.runs)
    out.push({
      target: `hand-off ≥ 300 cycles/s, nothing lost, ${h.workers} workers`,
      measured: `${f1(h.cyclesPerSecond)} cycles/s, ${h.failures.length} failed, ledger ${r.handoff.problems.length ? 'NOT intact' : 'intact'}`,
      met: h.cyclesPerSecond >= 300 && failed === 0 && r.handoff.problems.length === 0,
    });
  const s = r.subscriptions;
  if ('p99Ms' in s) {
    const kb = s.afterGc?.kbPerSubscriber ?? s.kbPerSubscriber;
    out.push({
      target: `fan-out to ${s.subscribers}: p99 < 100 ms, < 50 KB per subscriber`,
      measured: `${f1(s.p99Ms)} ms, ${f1(kb)} KB, ${s.delivered} of ${s.expected} delivered`,
      met: s.p99Ms < 100 && kb !== null && kb < 50 && s.delivered === s.expected,
    });
  }
  return out;
}

export function markdown(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`### Benchmark ${r.date}`);
  out.push('');
  out.push(
    `Machine: ${m.cpus} CPUs (${m.model}), ${m.ramGb.toFixed(0)} GB RAM, Node ${m.node}; load average before ` +
      `${m.loadBefore.map((x) => x.toFixed(1)).join(' / ')}${m.loadAfter ? `, after ${m.loadAfter.map((x) => x.toFixed(1)).join(' / ')}` : ''}. ` +
      `Hub, limit server, load generator and PostgreSQL share these CPUs.`,
  );
  out.push(`Database: ${r.database}.`);
  const c = r.generation.counts;
  out.push(
    `Data (BENCH_SCALE=${r.settings.scale}): ${Object.entries(c)
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(', ')}; generated in ${f1(r.generation.seconds.total)} s.`,
  );
  out.push(
    `Each run ${r.settings.durationSeconds} s after a ${f1(r.settings.warmupSeconds)} s warm-up; ` +
      `the hub and the limit server each run as ${r.settings.workers ?? 1} process${(r.settings.workers ?? 1) > 1 ? 'es' : ''} (HUB_WORKERS); ` +
      `RSS is the server's peak during the run and CPU its time, over all its processes; ` +
      `the limit server answers the same requests with one SQL statement each (bench/limit-server.ts)` +
      ((r.settings.handoffRounds ?? 1) > 1
        ? `; the hand-off's run is ${r.settings.handoffRounds} rounds per server, alternating hub, limit, limit, hub (mergeHandoffs in bench/handoff.ts), so that the machine's drift weighs on both alike.`
        : '.'),
  );
  out.push('');
  out.push(
    '| workload | conc. | hub req/s | hub p50 ms | hub p99 ms | hub RSS MB | hub CPU ms/req | limit req/s | limit p50 | limit p99 | limit CPU ms/req | req/s hub÷limit | p50 hub÷limit | p99 hub÷limit |',
  );
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const w of r.http) {
    w.hub.forEach((h, i) => {
      const l = w.limit?.[i];
      out.push(
        `| ${w.name} | ${h.connections} | ${f0(h.rps)} | ${f1(h.p50Ms)} | ${f1(h.p99Ms)} | ${f0(h.rssMb)} | ${f2(h.cpuMsPerRequest)} | ${l ? f0(l.rps) : '–'} | ${l ? f1(l.p50Ms) : '–'} | ` +
          `${l ? f1(l.p99Ms) : '–'} | ${l ? f2(l.cpuMsPerRequest) : '–'} | ${l ? ratio(h.rps, l.rps) : '–'} | ${l ? ratio(h.p50Ms, l.p50Ms) : '–'} | ${l ? ratio(h.p99Ms, l.p99Ms) : '–'} |`,
      );
    });
  }
  r.handoff.runs.forEach((h, i) => {
    const l = r.handoff.limitRuns?.[i];
    out.push(
      `| hand-off cycle (4 mutations; per cycle) | ${h.workers} | ${f1(h.cyclesPerSecond)} cycles/s | ${f1(h.p50Ms)} | ${f1(h.p99Ms)} | ${f0(h.rssMb)} | ${f2(h.cpuMsPerCycle)} | ` +
        `${l ? `${f1(l.cyclesPerSecond)} cycles/s` : '–'} | ${l ? f1(l.p50Ms) : '–'} | ${l ? f1(l.p99Ms) : '–'} | ${l ? f2(l.cpuMsPerCycle) : '–'} | ` +
        `${l ? ratio(h.cyclesPerSecond, l.cyclesPerSecond) : '–'} | ${l ? ratio(h.p50Ms, l.p50Ms) : '–'} | ${l ? ratio(h.p99Ms, l.p99Ms) : '–'} |`,
    );
  });
  out.push('');
  const checks = targetChecks(r);
  if (checks.length) {
    out.push("Issue 7's targets in this run (the scale target compares a run at BENCH_SCALE=10 with one at 1):");
    out.push('');
    out.push('| target | measured | met |');
    out.push('|---|---|---|');
    for (const t of checks) out.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
    out.push('');
  }
  const errors = r.http.flatMap((w) =>
    [...w.hub, ...(w.limit ?? [])].filter((x) => x.errors || x.non2xx).map((x) => `${w.name} ×${x.connections}`),
  );
  if (errors.length) out.push(`Runs with errors or non-2xx answers: ${errors.join(', ')}.`);
  for (const w of r.http)
    out.push(
      `- ${w.name}: response ${(w.responseBytes / 1024).toFixed(1)} KB${w.sameAnswer ? `; limit server's answer ${w.sameAnswer}` : ''}.`,
    );
  const hs = r.handoff;
  out.push(
    `- hand-off: ${hs.runs.reduce((n, x) => n + x.cycles, 0)} cycles, ${hs.runs.reduce((n, x) => n + x.failures.length, 0)} failed` +
      (hs.limitRuns
        ? ` (limit server: ${hs.limitRuns.reduce((n, x) => n + x.cycles, 0)} cycles, ${hs.limitRuns.reduce((n, x) => n + x.failures.length, 0)} failed, one PL/pgSQL call per mutation: bench/limit-handoff.ts)`
        : '') +
      '; ' +
      `load generator's own CPU per cycle (it shares the machine): hub runs ${perRun(hs.runs, (x) => x.benchCpuMsPerCycle, 2)}, limit runs ${perRun(hs.limitRuns ?? [], (x) => x.benchCpuMsPerCycle, 2)} ms; ` +
      `the rest of the machine's CPU per cycle (PostgreSQL's: the machine's busy time less the server's and the load generator's): hub runs ${perRun(hs.runs, (x) => x.othersCpuMsPerCycle, 2)}, limit runs ${perRun(hs.limitRuns ?? [], (x) => x.othersCpuMsPerCycle, 2)} ms; ` +
      `the server's write system calls per cycle (each statement sent, each answer): hub ${perRun(hs.runs, (x) => x.writesPerCycle, 1)}, limit ${perRun(hs.limitRuns ?? [], (x) => x.writesPerCycle, 1)}; ` +
      `ledger after the runs: ${hs.problems.length ? hs.problems.join('; ') : 'intact (one open custody record per person with an open case, every referral at its last event, every bench referral RECEIVED, custody where the last hand-off left it)'}.`,
  );
  const s = r.subscriptions;
  if ('skipped' in s) out.push(`- subscriptions: ${s.skipped}.`);
  else if ('failed' in s) out.push(`- subscriptions: FAILED: ${s.failed}.`);
  else
    out.push(
      `- subscriptions: ${s.subscribers} graphql-ws subscribers, ${s.events} events, ${s.delivered} of ${s.expected} deliveries; ` +
        `latency from the mutation's answer p50 ${f1(s.p50Ms)} ms, p99 ${f1(s.p99Ms)} ms (from its request p50 ${f1(s.p50FromRequestMs)} ms); ` +
        (s.afterGc
          ? // The readings as they come include what the young generation has not collected yet, and the collections
            // taken for the second readings change what the first ones find: only the collected ones are per subscriber.
            `hub RSS ${f0(s.rssBeforeMb)} → ${f0(s.rssAfterMb)} MB as read, ${f0(s.afterGc.rssBeforeMb)} → ${f0(s.afterGc.rssAfterMb)} MB each right after a full collection of the hub: ` +
            `**${f1(s.afterGc.kbPerSubscriber)} KB per subscriber** (the second half alone: ${f1(s.afterGc.kbPerSubscriberMarginal)} KB each); `
          : `hub RSS ${f0(s.rssBeforeMb)} → ${f0(s.rssAfterMb)} MB, ${f1(s.kbPerSubscriber)} KB per subscriber (the second half alone: ${f1(s.kbPerSubscriberMarginal)} KB each); `) +
        `${f1(s.dbTransactionsPerDelivery)} database transactions per delivery (the 20 mutations included).`,
    );
  for (const n of r.notes) out.push(`- ${n}`);
  out.push('');
  out.push('SQL statements per request (hub in-process, pg Client.query counted):');
  out.push('');
  out.push('| request | rows | statements | buffer pages read |');
  out.push('|---|--:|--:|--:|');
  for (const q of r.sqlCounts) out.push(`| ${q.label} | ${q.rows} | ${q.statements} | ${q.pages ?? '–'} |`);
  out.push('');
  out.push(
    'The statements of each request are listed in the JSON file (`sqlCounts[].heads`). Buffer pages: 8 KB pages the ' +
      "request's reading statements touch (EXPLAIN ANALYZE, BUFFERS, each with its own parameters): flat across scales " +
      'when every read is an index lookup bounded by the page, growing with history when something scans.',
  );
  if (r.profile) {
    out.push('');
    out.push(
      `CPU profile of the hub during the dashboard workload (${f0(r.profile.totalMs)} ms, idle ${f1(r.profile.idlePercent)}%), self time:`,
    );
    out.push('');
    out.push('| package | self % |');
    out.push('|---|--:|');
    for (const p of r.profile.packages.slice(0, 12)) out.push(`| ${p.name} | ${f1(p.selfPercent)} |`);
    out.push('');
    out.push('| function | self % |');
    out.push('|---|--:|');
    for (const p of r.profile.functions.slice(0, 20)) out.push(`| \`${p.name.replace(/\|/g, '\\|')}\` | ${f1(p.selfPercent)} |`);
  }
  return out.join('\n') + '\n';
}

if (require.main === module) {
  // Re-renders a results file's Markdown: ts-node --transpile-only bench/report.ts bench/results/<date>.json
  const file = process.argv[2];
  if (!file) {
    console.error('usage: ts-node bench/report.ts bench/results/<date>.json');
    process.exit(2);
  }
  const md = markdown(JSON.parse(fs.readFileSync(file, 'utf8')) as Results);
  fs.writeFileSync(file.replace(/\.json$/, '.md'), md);
  console.log(md);
}
