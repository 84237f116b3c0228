import { Client } from 'pg';
import { gql, globalId } from './client';
import { checkLedger } from './generate';
import { cpuMs, machineCpuMs, percentile, rssSampler, writeCalls } from './load';

/**
 * Workload 3: the hand-off cycle request → accept → dispatch → confirmReceipt,
 * as whole cycles per second. Each worker drives its own person: a
 * PSYCHIATRIC_EVALUATION from the station to a hospital, then a
 * RETURN_TO_STATION back, and so on; the custody ledger must follow.
 */

export interface HandoffPerson {
  personId: string;
  stationId: string;
  hospitalId: string;
  stationToken: string;
  hospitalToken: string;
  /** Where the person is now; kept across runs. */
  at: 'station' | 'hospital';
}

export interface CycleResult {
  referralId: string;
  /** ms from the request to the receipt's answer. */
  ms: number;
  /** Response time (performance.now()) and type of each step, for the subscription workload. */
  steps: { type: 'REQUESTED' | 'ACCEPTED' | 'DISPATCHED' | 'RECEIVED'; respondedAt: number }[];
}

const REQUEST = `mutation BenchRequest($input: RequestReferralInput!) { requestReferral(input: $input) { id status } }`;
const ACCEPT = `mutation BenchAccept($input: ReferralActionInput!) { acceptReferral(input: $input) { id status } }`;
const DISPATCH = `mutation BenchDispatch($input: DispatchReferralInput!) { dispatchReferral(input: $input) { id status } }`;
const RECEIVE = `mutation BenchReceive($input: ReferralActionInput!) { confirmReceipt(input: $input) { id status } }`;

type Answer<K extends string> = Record<K, { id: string; status: string }>;

/** One whole cycle for one person; throws when any step does not end in the expected status. */
export async function cycle(url: string, p: HandoffPerson): Promise<CycleResult> {
  const t0 = performance.now();
  const toHospital = p.at === 'station';
  const [sender, receiver] = toHospital ? [p.stationToken, p.hospitalToken] : [p.hospitalToken, p.stationToken];
  const expect = (what: string, got: { status: string }, status: string) => {
    if (got.status !== status) throw new Error(`${what}: expected ${status}, got ${got.status}`);
  };
  const steps: CycleResult['steps'] = [];
  const r = await gql<Answer<'requestReferral'>>(url, sender, REQUEST, {
    input: {
      personId: globalId('Person', p.personId),
      kind: toHospital ? 'PSYCHIATRIC_EVALUATION' : 'RETURN_TO_STATION',
      toAgencyId: globalId('Agency', toHospital ? p.hospitalId : p.stationId),
      reason: toHospital ? 'bench: evaluation' : 'bench: back to the station',
    },
  });
  steps.push({ type: 'REQUESTED', respondedAt: performance.now() });
  expect('requestReferral', r.requestReferral, 'REQUESTED');
  const referralId = r.requestReferral.id;
  const a = await gql<Answer<'acceptReferral'>>(url, receiver, ACCEPT, { input: { referralId } });
  steps.push({ type: 'ACCEPTED', respondedAt: performance.now() });
  expect('acceptReferral', a.acceptReferral, 'ACCEPTED');
  const d = await gql<Answer<'dispatchReferral'>>(url, sender, DISPATCH, { input: { referralId, escortNames: ['王站员'] } });
  steps.push({ type: 'DISPATCHED', respondedAt: performance.now() });
  expect('dispatchReferral', d.dispatchReferral, 'IN_TRANSIT');
  const c = await gql<Answer<'confirmReceipt'>>(url, receiver, RECEIVE, { input: { referralId } });
  steps.push({ type: 'RECEIVED', respondedAt: performance.now() });
  expect('confirmReceipt', c.confirmReceipt, 'RECEIVED');
  p.at = toHospital ? 'hospital' : 'station';
  return { referralId, ms: performance.now() - t0, steps };
}

export interface HandoffMeasurement {
  workers: number;
  /** Measured seconds (summed over the rounds of a merged measurement). */
  seconds?: number;
  /** Rounds merged into this measurement (mergeHandoffs); 1 for a run of its own. */
  rounds?: number;
  cyclesPerSecond: number;
  /** Per whole cycle (4 mutations), ms. */
  p50Ms: number;
  p99Ms: number;
  cycles: number;
  failures: string[];
  rssMb: number | null;
  /** The server's CPU time (all its processes) per completed cycle, ms. */
  cpuMsPerCycle?: number | null;
  /** The load generator's own CPU time (this process) per completed cycle, ms: taken from the same two cores. */
  benchCpuMsPerCycle?: number;
  /**
   * The rest of the machine's busy CPU time per completed cycle, ms: the whole machine's less the server's and the
   * load generator's, i.e. PostgreSQL's (its statements, protocol, commits and WAL) and the kernel's work for it.
   */
  othersCpuMsPerCycle?: number | null;
  /** The server's write system calls per completed cycle: its statements' sends and its HTTP answers. */
  writesPerCycle?: number | null;
  /** Each cycle's time, ms, sorted: for merging rounds (not written to the results). */
  times?: number[];
}

/**
 * Rounds of one server at one concurrency as one measurement: cycles and seconds summed, percentiles over every
 * cycle, CPU and writes per cycle weighted by each round's cycles. The bench alternates the hub's and the limit's
 * rounds (hub, limit, limit, hub, ...), so that a machine whose speed drifts during a run (this one: the limit's
 * rate moved from 343 to 528 cycles/s within an hour) weighs on both alike and the ratio is the hub's, not the
 * minute's.
 */
export function mergeHandoffs(parts: HandoffMeasurement[]): HandoffMeasurement {
  const cycles = parts.reduce((n, m) => n + m.cycles, 0);
  const seconds = parts.reduce((n, m) => n + (m.seconds ?? 0), 0);
  const times = parts.flatMap((m) => m.times ?? []).sort((x, y) => x - y);
  const perCycle = (of: (m: HandoffMeasurement) => number | null | undefined): number | null => {
    if (cycles === 0 || parts.some((m) => of(m) == null)) return null;
    return parts.reduce((n, m) => n + (of(m) as number) * m.cycles, 0) / cycles;
  };
  const rss = parts.map((m) => m.rssMb).filter((x): x is number => x != null);
  return {
    workers: parts[0].workers,
    seconds,
    rounds: parts.length,
    times,
    cyclesPerSecond: seconds > 0 ? cycles / seconds : 0,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    cycles,
    failures: parts.flatMap((m) => m.failures),
    rssMb: rss.length ? Math.max(...rss) : null,
    cpuMsPerCycle: perCycle((m) => m.cpuMsPerCycle),
    benchCpuMsPerCycle: perCycle((m) => m.benchCpuMsPerCycle) ?? undefined,
    othersCpuMsPerCycle: perCycle((m) => m.othersCpuMsPerCycle),
    writesPerCycle: perCycle((m) => m.writesPerCycle),
  };
}

/** `workers` concurrent workers, one person each, for `seconds`; a worker whose cycle fails stops (its person's state is unknown). */
export async function runHandoff(
  url: string,
  persons: HandoffPerson[],
  workers: number,
  seconds: number,
  pid?: number,
): Promise<HandoffMeasurement> {
  if (persons.length < workers) throw new Error(`hand-off: ${workers} workers need ${workers} persons, have ${persons.length}`);
  const stop = rssSampler(pid);
  const cpuBefore = cpuMs(pid);
  const benchBefore = process.cpuUsage();
  const machineBefore = machineCpuMs();
  const writesBefore = writeCalls(pid);
  const deadline = performance.now() + seconds * 1000;
  const times: number[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    persons.slice(0, workers).map(async (p) => {
      while (performance.now() < deadline) {
        try {
          times.push((await cycle(url, p)).ms);
        } catch (err) {
          failures.push(`${p.personId}: ${(err as Error).message}`);
          return;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpuAfter = cpuMs(pid);
  const bench = process.cpuUsage(benchBefore);
  const machineAfter = machineCpuMs();
  const writesAfter = writeCalls(pid);
  times.sort((x, y) => x - y);
  return {
    workers,
    seconds: elapsed,
    rounds: 1,
    times,
    cyclesPerSecond: times.length / elapsed,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    cycles: times.length,
    failures,
    rssMb: stop(),
    cpuMsPerCycle: cpuBefore !== null && cpuAfter !== null && times.length > 0 ? (cpuAfter - cpuBefore) / times.length : null,
    benchCpuMsPerCycle: times.length > 0 ? (bench.user + bench.system) / 1000 / times.length : undefined,
    othersCpuMsPerCycle:
      machineBefore !== null && machineAfter !== null && cpuBefore !== null && cpuAfter !== null && times.length > 0
        ? (machineAfter - machineBefore - (cpuAfter - cpuBefore) - (bench.user + bench.system) / 1000) / times.length
        : null,
    writesPerCycle: writesBefore !== null && writesAfter !== null && times.length > 0 ? (writesAfter - writesBefore) / times.length : null,
  };
}

/**
 * After the runs: every referral the workers created is RECEIVED, each
 * person's open custody record names the agency the worker left them at,
 * and the whole ledger's invariants hold (bench/generate.ts checkLedger).
 */
export async function checkHandoffs(databaseUrl: string, persons: HandoffPerson[], since: Date, cycles: number): Promise<string[]> {
  const problems = await checkLedger(databaseUrl);
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const ids = persons.map((p) => p.personId);
    const { rows } = await client.query<{ n: string; received: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'RECEIVED') AS received FROM referral WHERE person_id = ANY($1) AND created_at >= $2`,
      [ids, since],
    );
    const n = Number(rows[0].n);
    if (n !== cycles) problems.push(`${n} referrals created for ${cycles} cycles`);
    if (Number(rows[0].received) !== n) problems.push(`${n - Number(rows[0].received)} bench referrals not RECEIVED`);
    const held = await client.query<{ person_id: string; holder_id: string }>(
      `SELECT person_id, holder_id FROM custody_record WHERE person_id = ANY($1) AND to_at IS NULL`,
      [ids],
    );
    const holder = new Map(held.rows.map((r) => [r.person_id, r.holder_id]));
    const wrong = persons.filter((p) => holder.get(p.personId) !== (p.at === 'station' ? p.stationId : p.hospitalId));
    if (wrong.length) problems.push(`${wrong.length} bench persons held by another agency than the one their last hand-off reached`);
    return problems;
  } finally {
    await client.end();
  }
}
