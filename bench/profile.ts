import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and ranks where the time went:
 * by function (self time) and by package (node_modules/<name>, the hub's own
 * src/, node internals), so hot spots can be named with evidence.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Which samples count: those in [end - skipEndMs - lengthMs, end - skipEndMs] (e.g. the load, without start-up and shutdown). */
export interface ProfileWindow {
  skipEndMs: number;
  lengthMs: number;
}

export interface HotSpot {
  name: string;
  selfPercent: number;
  selfMs: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idlePercent: number;
  functions: HotSpot[];
  packages: HotSpot[];
}

function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node internals';
  const src = url.indexOf('/dist/src/');
  if (src >= 0)
    return `hub ${url
      .slice(src + '/dist/'.length)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  return url;
}

/** Samples per node id, only those inside the window (all when there is none or no sample timing). */
function hitsPerNode(profile: CpuProfile, window?: ProfileWindow): Map<number, number> {
  const hits = new Map<number, number>();
  if (!window || !profile.samples || !profile.timeDeltas) {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
    return hits;
  }
  const to = profile.endTime - window.skipEndMs * 1000;
  const from = to - window.lengthMs * 1000;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas![i];
    if (t >= from && t <= to) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  return hits;
}

export function summarizeProfile(file: string, window?: ProfileWindow, top = 25): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const hitsOf = hitsPerNode(profile, window);
  const totalHits = [...hitsOf.values()].reduce((n, x) => n + x, 0) || 1;
  const totalMs = window ? window.lengthMs : (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalMs / totalHits;
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = hitsOf.get(n.id) ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') {
      if (functionName === '(idle)') idle += hits;
      byFn.set(functionName, (byFn.get(functionName) ?? 0) + hits);
      byPkg.set(functionName, (byPkg.get(functionName) ?? 0) + hits);
      continue;
    }
    const file = url ? `${path.basename(url)}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${file} [${where(url)}]`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    byPkg.set(where(url), (byPkg.get(where(url)) ?? 0) + hits);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, selfPercent: (100 * hits) / totalHits, selfMs: hits * msPerHit }));
  return { file, totalMs, idlePercent: (100 * idle) / totalHits, functions: rank(byFn), packages: rank(byPkg) };
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: ts-node bench/profile.ts <file.cpuprofile>');
    process.exit(2);
  }
  const s = summarizeProfile(file);
  console.log(`${s.file}: ${s.totalMs.toFixed(0)} ms, idle ${s.idlePercent.toFixed(1)}%`);
  for (const f of s.packages) console.log(`${f.selfPercent.toFixed(1).padStart(5)}%  ${f.name}`);
  console.log('');
  for (const f of s.functions) console.log(`${f.selfPercent.toFixed(1).padStart(5)}%  ${f.name}`);
}
