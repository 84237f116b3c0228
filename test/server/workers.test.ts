import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import { Client } from 'pg';
import { LISTENER_APPLICATION_NAME } from '../../src/events/event-feed';
import { eventually } from '../events/live';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort, startHubProcess, transpileHub, type HubProcess } from '../support/hub-process';

/**
 * HUB_WORKERS > 1 (src/server/workers.ts): `npm start` as several hub processes on one port, supervised by the
 * first. Run as a real process tree on a test database.
 */

jest.setTimeout(120_000);

let build: string;
let database: TestDatabase;
let sql: Client;
let hub: HubProcess;
let port: number;
const adminToken = `admin_${randomBytes(24).toString('hex')}`;

/** The living child processes of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

const listeners = async () =>
  Number(
    (
      await sql.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [
        LISTENER_APPLICATION_NAME,
      ])
    ).rows[0].n,
  );

async function graphql(query: string, token = adminToken) {
  const res = await fetch(hub.url, {
    method: 'POST',
    // A new connection each time: the primary hands connections to the workers in turn.
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, connection: 'close' },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

beforeAll(async () => {
  [build, database] = await Promise.all([transpileHub(), createTestDatabase()]);
  sql = new Client({ connectionString: database.url });
  await sql.connect();
  port = await freePort();
  hub = await startHubProcess(
    build,
    {
      DATABASE_URL: database.url,
      HUB_ID_NUMBER_KEY: randomBytes(32).toString('hex'),
      HUB_ADMIN_TOKEN: adminToken,
      HUB_WORKERS: '2',
      LOG_LEVEL: 'warn',
    },
    port,
  );
});
afterAll(async () => {
  if (hub.child.exitCode === null && hub.child.signalCode === null) {
    hub.child.kill('SIGKILL');
    await hub.exited;
  }
  await sql.end();
  await database.stop();
  await fsp.rm(build, { recursive: true, force: true });
});

describe('HUB_WORKERS=2', () => {
  it('serves from two whole hubs on one port: each its own process, pool and listening connection', async () => {
    // /healthz answers as soon as one worker listens; the line comes once both serve.
    await eventually(
      'the serving line',
      () => /serving http:\/\/\S+\/graphql \(HTTP and graphql-ws; 2 worker processes\)/.test(hub.output.join('')),
      20_000,
    );
    expect(childrenOf(hub.child.pid!)).toHaveLength(2);
    let seen = -1;
    await eventually('both workers listen for events and revocations', async () => (seen = await listeners()) === 2, 20_000).catch(
      (err: Error) => {
        throw new Error(`${err.message} (listening connections: ${seen}; hub output: ${hub.output.join('')})`);
      },
    );
    for (let i = 0; i < 6; i++) {
      const res = await graphql('{ viewer { isAdmin } }');
      expect(res).toEqual({ data: { viewer: { isAdmin: true } } });
    }
  });

  it('applies the migrations once, in the supervising process, before the workers start', async () => {
    const { rows } = await sql.query(`SELECT count(*)::int AS n, count(DISTINCT name)::int AS distinct FROM hub_migrations`);
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0].n).toBe(rows[0].distinct);
  });

  it('replaces a worker that dies, so the port is not left to fewer processes', async () => {
    const [victim] = childrenOf(hub.child.pid!);
    process.kill(victim, 'SIGKILL');
    await eventually(
      'a new worker in its place',
      async () => {
        const now = childrenOf(hub.child.pid!);
        return now.length === 2 && !now.includes(victim) && (await listeners()) === 2;
      },
      20_000,
    );
    expect((await graphql('{ viewer { isAdmin } }')).data).toEqual({ viewer: { isAdmin: true } });
  });

  it('stops on SIGTERM: every worker drains and exits, then the port is free', async () => {
    const workers = childrenOf(hub.child.pid!);
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer().once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
    // Their connections closed: PostgreSQL's backends leave pg_stat_activity a moment after.
    await eventually('no listening connection left', async () => (await listeners()) === 0, 5_000);
  });
});

describe('HUB_WORKERS=2 when the supervising process is killed', () => {
  it('its workers stop too: none serves on unsupervised', async () => {
    const again = await startHubProcess(
      build,
      { DATABASE_URL: database.url, HUB_ID_NUMBER_KEY: randomBytes(32).toString('hex'), HUB_WORKERS: '2', LOG_LEVEL: 'warn' },
      await freePort(),
    );
    await eventually('two workers', () => childrenOf(again.child.pid!).length === 2, 20_000);
    const workers = childrenOf(again.child.pid!);
    again.child.kill('SIGKILL');
    await again.exited;
    await eventually(
      'the workers gone',
      () =>
        workers.every((pid) => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }),
      15_000,
    );
  });
});
