import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../shared/logger';

/** What a worker tells the primary once it serves. */
export interface ServingMessage {
  kind: 'hub-serving';
  url: string;
}

export const isServingMessage = (m: unknown): m is ServingMessage =>
  typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === 'hub-serving';

/** A worker that dies within this of its start counts as crashing: restarts back off, doubling up to the cap. */
const QUICK_DEATH_MS = 10_000;
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 30_000;

export interface Workers {
  url: string;
  /** Asks every worker to stop (SIGTERM: each drains its requests and sockets) and waits for them, at most `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * HUB_WORKERS > 1: the hub as several processes sharing one port
 * (node:cluster; connections are handed out round robin by the primary).
 * Every process is a whole hub: its own pool, its own listening connection
 * for events and revocations, its own caches. Nothing in the hub is kept in
 * one process's memory that another needs: events, occupancy and revocations
 * travel through PostgreSQL (LISTEN/NOTIFY), which the hub was built for.
 *
 * The primary only supervises: it starts `count` workers with `env`, waits
 * until each serves, restarts one that dies (a crash must not leave the port
 * to fewer processes for good), and stops them all on shutdown. A worker that
 * dies before serving fails the start: that is a configuration problem
 * (port taken, database unreachable), not one a restart fixes.
 */
export async function startWorkers(opts: { count: number; env: Record<string, string>; logger: Logger }): Promise<Workers> {
  const { logger } = opts;
  let stopping = false;
  let restartDelay = RESTART_FIRST_MS;
  const live = new Set<Worker>();

  const fork = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const worker = cluster.fork(opts.env);
      live.add(worker);
      let serving = false;
      worker.on('message', (m: unknown) => {
        if (!isServingMessage(m) || serving) return;
        serving = true;
        resolve(m.url);
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        if (!serving) return reject(new Error(`a hub worker stopped before serving (exit code ${code ?? signal})`));
        if (stopping) return;
        const quick = Date.now() - started < QUICK_DEATH_MS;
        restartDelay = quick ? Math.min(restartDelay * 2, RESTART_MAX_MS) : RESTART_FIRST_MS;
        logger.error({ pid: worker.process.pid, code, signal, restartInMs: restartDelay }, 'hub worker died; starting another');
        setTimeout(() => {
          if (stopping) return;
          fork().catch((err: Error) => logger.error({ err: { message: err.message } }, 'hub worker could not be restarted'));
        }, restartDelay).unref();
      });
    });

  const stop = async (timeoutMs: number) => {
    stopping = true;
    const exits = [...live].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of live) w.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(exits).then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) for (const w of live) w.process.kill('SIGKILL');
  };

  try {
    const urls = await Promise.all(Array.from({ length: opts.count }, fork));
    return { url: urls[0], stop };
  } catch (err) {
    await stop(5_000);
    throw err;
  }
}
