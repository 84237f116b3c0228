import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface Server {
  /** http://127.0.0.1:<port>/graphql for the hub; http://127.0.0.1:<port> for the limit server. */
  url: string;
  pid: number;
  /** The hub's inspector (spawnHub with `inspect`), for collectGarbage before a memory figure is read. */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

const ROOT = path.join(__dirname, '..');

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 120_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code}:\n${out}`));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/**
 * The V8 flags `npm start` runs the hub with (package.json): a 64 MB young
 * generation instead of Node 20's 16 MB, so the garbage a GraphQL response
 * leaves behind dies in fewer, cheaper scavenges (issue 7: the dashboard's CPU
 * per request fell by about a third; GC was 13-17% of the hub's CPU).
 */
export const HUB_NODE_FLAGS = ['--max-semi-space-size=64'];

/**
 * Processes the hub runs as (HUB_WORKERS, src/server/workers.ts), and the limit server too, so that both use
 * the machine alike: BENCH_WORKERS, else 1 as `npm start` (on this 2-core machine, where PostgreSQL needs the
 * same cores, a second process helped the dashboard and hurt the hand-off: bench/HISTORY.md). CPU time and memory are
 * counted over all processes.
 */
export function benchWorkers(): number {
  const n = Number(process.env.BENCH_WORKERS ?? 1);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_WORKERS must be a whole number ≥ 1, got ${process.env.BENCH_WORKERS}`);
  return n;
}

/**
 * The hub as it runs in production: `node dist/src/server/main.js` (built by
 * `npm run bench`), its own process and event loop, never the load
 * generator's. `nodeArgs` e.g. --cpu-prof. `inspect`: with its inspector on a
 * free loopback port (one process only: with HUB_WORKERS > 1 the workers would
 * need ports of their own), which costs nothing until a client attaches.
 */
export async function spawnHub(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  opts: { inspect?: boolean; /** Another build's root (its dist/ and node_modules/), for an A/B run. */ root?: string } = {},
): Promise<Server> {
  const root = opts.root ?? ROOT;
  const inspect = opts.inspect === true && benchWorkers() === 1;
  const child = spawn(
    process.execPath,
    [...HUB_NODE_FLAGS, ...nodeArgs, ...(inspect ? ['--inspect=127.0.0.1:0'] : []), path.join(root, 'dist', 'src', 'server', 'main.js')],
    {
      cwd: root,
      env: { ...process.env, HUB_WORKERS: String(benchWorkers()), ...env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let inspectorUrl: string | undefined;
  const INSPECTOR = /Debugger listening on (ws:\/\/\S+)/;
  child.stderr?.on('data', (c: Buffer) => {
    const text = c.toString('utf8');
    if (inspect && !inspectorUrl) inspectorUrl = INSPECTOR.exec((stderr += text))?.[1];
    // The inspector's own notices are not the hub's.
    const shown = text
      .split('\n')
      .filter(
        (l) => l && !/^(Debugger (listening on|attached|ending on)|Waiting for the debugger|For help, see: https:\/\/nodejs\.org)/.test(l),
      )
      .join('\n');
    if (shown) process.stderr.write(`[hub] ${shown}\n`);
  });
  const m = await waitForLine(child, /serving (http:\/\/\S+\/graphql)/, 'the hub');
  // Keep draining its output: a full pipe would block the hub.
  child.stdout?.resume();
  if (inspect && !inspectorUrl) throw new Error(`the hub started without its inspector:\n${stderr}`);
  return { url: m[1], pid: child.pid!, inspectorUrl, stop: stopper(child) };
}

/** bench/limit-server.ts in its own process (ts-node, transpile only). */
export async function spawnLimitServer(databaseUrl: string, poolSize: number): Promise<Server> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'bench', 'limit-server.ts')], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HUB_DB_POOL_SIZE: String(poolSize), HUB_WORKERS: String(benchWorkers()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitForLine(child, /listening (\d+)/, 'the limit server');
  child.stdout?.resume();
  child.stderr?.on('data', (c: Buffer) => process.stderr.write(`[limit] ${c.toString('utf8')}`));
  return { url: `http://127.0.0.1:${m[1]}`, pid: child.pid!, stop: stopper(child) };
}
