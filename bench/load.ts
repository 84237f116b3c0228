import fs from 'node:fs';
import autocannon from 'autocannon';

/** One measured run: requests per second, latency percentiles, the server's peak memory. */
export interface Measurement {
  connections: number;
  /** Completed requests per second over the run (or cycles / events per second where the workload says so). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** The server process's peak resident memory during the run, MB. */
  rssMb: number | null;
  /**
   * The server process's own CPU time (user + system) per completed request, ms: what a request costs the
   * server whatever else the machine is doing, so it compares runs on a busy machine better than req/s.
   */
  cpuMsPerRequest?: number | null;
}

export interface HttpRequest {
  body: string;
  headers: Record<string, string>;
}

/** A process and all its descendants (Linux): a server with HUB_WORKERS > 1 is its primary and the workers. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]) ?? []));
  return all;
}

/**
 * `read(p)` summed over a process and its descendants (Linux /proc), or null when the process itself cannot be
 * read (`read` returns null or throws for it); a descendant that ended meanwhile counts nothing.
 */
function sumOverTree(pid: number | undefined, read: (p: number) => number | null): number | null {
  if (!pid) return null;
  let sum = 0;
  for (const p of processTree(pid)) {
    let v: number | null;
    try {
      v = read(p);
    } catch {
      v = null;
    }
    if (v !== null) sum += v;
    else if (p === pid) return null;
  }
  return sum;
}

/** VmRSS of a process and its descendants in MB (Linux), or null when it cannot be read. */
export function rssMb(pid: number | undefined): number | null {
  const kb = sumOverTree(pid, (p) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  });
  return kb === null ? null : kb / 1024;
}

/**
 * CPU time the whole machine has been busy so far, all cores (Linux: the first line of /proc/stat, in 10 ms
 * ticks: user, nice, system, irq and softirq; not idle, iowait or the time the hypervisor gave to others), ms; or null where it cannot be read. During a hand-off run the server,
 * the load generator and PostgreSQL are what runs: what neither of the first two used is PostgreSQL's (issue 7).
 */
export function machineCpuMs(): number | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const t = line.trim().split(/\s+/).slice(1).map(Number);
    if (t.length < 7 || t.some((x) => !Number.isFinite(x))) return null;
    return (t[0] + t[1] + t[2] + t[5] + t[6]) * 10;
  } catch {
    return null;
  }
}

/** CPU time a process and its descendants have used so far (user + system), ms (Linux: /proc/<pid>/stat, in 10 ms ticks). */
export function cpuMs(pid: number | undefined): number | null {
  return sumOverTree(pid, (p) => {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15), CLK_TCK 100
  });
}

/**
 * Write system calls (write, writev, sendmsg: syscw of /proc/<pid>/io) a process and its descendants have made,
 * or null where the kernel does not say. Each of the server's statements and answers is one; each wakes whoever
 * reads the other end, which on these two shared cores is most of what a short request costs (issue 7 note).
 */
export function writeCalls(pid: number | undefined): number | null {
  return sumOverTree(pid, (p) => {
    const m = /^syscw:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${p}/io`, 'utf8'));
    return m ? Number(m[1]) : null;
  });
}

/** Samples a process's RSS every 200 ms until stopped; returns the peak. */
export function rssSampler(pid: number | undefined): () => number | null {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    const v = rssMb(pid);
    if (v !== null && (peak === null || v > peak)) peak = v;
  }, 200);
  return () => {
    clearInterval(timer);
    const v = rssMb(pid);
    return v !== null && (peak === null || v > peak) ? v : peak;
  };
}

/**
 * autocannon against a GraphQL endpoint: POSTs that cycle through `requests`
 * (each connection walks the list in order), for `seconds`.
 */
export async function cannon(
  url: string,
  requests: HttpRequest[],
  connections: number,
  seconds: number,
  pid?: number,
): Promise<Measurement> {
  const stop = rssSampler(pid);
  const cpuBefore = cpuMs(pid);
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    method: 'POST',
    requests: requests.map((r) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...r.headers }, body: r.body })),
  });
  const rss = stop();
  const cpuAfter = cpuMs(pid);
  return {
    connections,
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    non2xx: result.non2xx,
    rssMb: rss,
    cpuMsPerRequest:
      cpuBefore !== null && cpuAfter !== null && result.requests.total > 0 ? (cpuAfter - cpuBefore) / result.requests.total : null,
  };
}

/** Sorted-array percentile (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
