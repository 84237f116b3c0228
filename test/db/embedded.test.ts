import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import {
  EmbeddedStartError,
  ensureNativeSymlinks,
  pgBinDir,
  startEmbedded,
  unixSocketDir,
  type EmbeddedDatabase,
} from '../../src/db/embedded';
import { createTestDatabase } from '../support/database';

// Real postgres processes: a first start (initdb) takes about a second, a later one a fraction of that.
jest.setTimeout(60_000);

async function query<T = Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every postgres process (postmaster and backends alike) works with its data folder as current directory. */
function processesIn(dir: string): number[] {
  if (!fs.existsSync('/proc/self/cwd')) return [];
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function password(url: string): string {
  return new URL(url).password;
}

async function waitUntil(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let root: string;
const running: EmbeddedDatabase[] = [];

async function start(name: string, opts: { persistent?: boolean; log?: (msg: string) => void } = {}) {
  const db = await startEmbedded({ dataDir: path.join(root, name), ...opts });
  running.push(db);
  return db;
}

beforeAll(async () => {
  root = fs.realpathSync(await fsp.mkdtemp(path.join(os.tmpdir(), 'hub-embedded-test-')));
  // Under root the server runs as the postgres user, which must be able to enter the folder.
  await fsp.chmod(root, 0o711);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((db) => db.stop()));
});

afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('startEmbedded', () => {
  it('serves the "hub" database on a Unix socket in its data folder and on 127.0.0.1, and stop() leaves no postgres process', async () => {
    const db = await start('basic');
    const socketDir = path.join(db.dataDir, 'pg');
    expect(db.socketDir).toBe(socketDir);
    expect(db.url).toBe(`postgres://postgres:${password(db.url)}@localhost:${db.port}/hub?host=${encodeURIComponent(socketDir)}`);
    expect(db.port).not.toBe(5432);
    expect(fs.statSync(path.join(socketDir, `.s.PGSQL.${db.port}`)).isSocket()).toBe(true);
    // The url reaches the server through the socket (no client address); the same password works over TCP.
    expect(await query(db.url, 'select 1 as one, inet_client_addr() as addr')).toEqual([{ one: 1, addr: null }]);
    const tcp = `postgres://postgres:${password(db.url)}@127.0.0.1:${db.port}/hub`;
    expect(await query(tcp, 'select host(inet_client_addr()) as addr')).toEqual([{ addr: '127.0.0.1' }]);
    // Only the server's user may enter the folder that holds the socket.
    expect(fs.statSync(socketDir).mode & 0o077).toBe(0);

    const pid = postmasterPid(db.dataDir);
    expect(isAlive(pid)).toBe(true);

    await Promise.all([db.stop(), db.stop()]);
    await db.stop();

    expect(isAlive(pid)).toBe(false);
    expect(processesIn(db.dataDir)).toEqual([]);
    expect(fs.existsSync(path.join(db.dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });

  it('listens on 127.0.0.1 only where the socket path would not fit in a socket address', async () => {
    expect(unixSocketDir('/srv/hub/pg')).toBe('/srv/hub/pg');
    expect(unixSocketDir(`/srv/${'x'.repeat(100)}/pg`)).toBeNull();
    expect(unixSocketDir('/srv/a,b/pg')).toBeNull();
    const db = await start(`long-${'x'.repeat(100 - root.length)}`);
    expect(db.socketDir).toBeNull();
    expect(db.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/hub$/);
    expect(await query(db.url, 'select host(inet_client_addr()) as addr')).toEqual([{ addr: '127.0.0.1' }]);
    expect(fs.readdirSync(path.join(db.dataDir, 'pg')).filter((f) => f.startsWith('.s.PGSQL'))).toEqual([]);
  });

  it('reuses the data folder and its generated password on the next start', async () => {
    const first = await start('reuse');
    const password = fs.readFileSync(path.join(first.dataDir, '.pg-password'), 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(fs.statSync(path.join(first.dataDir, '.pg-password')).mode & 0o777).toBe(0o600);
    expect(first.url).toContain(`:${password}@`);
    await query(first.url, "create table kept (note text); insert into kept values ('救助 survives restarts')");
    await first.stop();

    const second = await start('reuse');
    expect(second.url).toContain(`:${password}@`);
    expect(await query(second.url, 'select note from kept')).toEqual([{ note: '救助 survives restarts' }]);
  });

  it('keeps durability for persistent servers and trades it for speed in throwaway ones', async () => {
    const persistent = await start('durable');
    expect(await query(persistent.url, 'show fsync')).toEqual([{ fsync: 'on' }]);

    const throwaway = await start('throwaway', { persistent: false });
    expect(await query(throwaway.url, 'show fsync')).toEqual([{ fsync: 'off' }]);
    await throwaway.stop();
    expect(fs.existsSync(throwaway.dataDir)).toBe(false);
  });

  it('recovers from a crash that left a stale postmaster.pid behind', async () => {
    const crashed = await start('crash');
    await query(crashed.url, 'create table before_crash (id int)');
    const pid = postmasterPid(crashed.dataDir);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => processesIn(crashed.dataDir).length === 0);
    expect(postmasterPid(crashed.dataDir)).toBe(pid);
    await crashed.stop(); // already dead: must return, not hang

    const messages: string[] = [];
    const recovered = await start('crash', { log: (m) => messages.push(m) });
    expect(messages.join('\n')).toMatch(new RegExp(`stale .*postmaster\\.pid \\(PID ${pid} is gone\\)`));
    expect(await query(recovered.url, 'select count(*)::int as n from before_crash')).toEqual([{ n: 0 }]);
  });

  it('refuses a data folder in use by a live server, naming its PID and what to do', async () => {
    const owner = await start('busy');
    const pid = postmasterPid(owner.dataDir);

    const attempt = startEmbedded({ dataDir: owner.dataDir });
    await expect(attempt).rejects.toBeInstanceOf(EmbeddedStartError);
    await expect(attempt).rejects.toThrow(`PID ${pid}`);
    await expect(attempt).rejects.toThrow(`kill ${pid}`);
    await expect(attempt).rejects.toThrow('HUB_DATA_DIR');

    expect(await query(owner.url, 'select 1 as still_up')).toEqual([{ still_up: 1 }]);
  });
});

describe('ensureNativeSymlinks', () => {
  // A stand-in package: deleting links in the real one could break a server another test worker is starting.
  it('recreates missing or dangling library links listed in native/pg-symlinks.json, and only those', async () => {
    const pkg = path.join(root, 'fake-platform-package');
    const lib = path.join(pkg, 'native', 'lib');
    await fsp.mkdir(lib, { recursive: true });
    await fsp.writeFile(path.join(lib, 'libpq.so.5.18'), '');
    await fsp.writeFile(path.join(lib, 'libicuuc.so.60.2'), '');
    await fsp.symlink('gone.so', path.join(lib, 'libicuuc.so.60'));
    await fsp.symlink('libpq.so.5.18', path.join(lib, 'libpq.so'));
    await fsp.writeFile(
      path.join(pkg, 'native', 'pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so' },
        { source: 'native/lib/libpq.so.5.18', target: 'native/lib/libpq.so.5' },
        { source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so.60' },
      ]),
    );

    expect(await ensureNativeSymlinks(pkg)).toEqual(['native/lib/libpq.so.5', 'native/lib/libicuuc.so.60']);
    expect(fs.readlinkSync(path.join(lib, 'libpq.so.5'))).toBe('libpq.so.5.18');
    expect(fs.readlinkSync(path.join(lib, 'libicuuc.so.60'))).toBe('libicuuc.so.60.2');
    expect(await ensureNativeSymlinks(pkg)).toEqual([]);
  });

  it('finds every link of the installed binaries in place after a start', async () => {
    await start('links');
    const pkg = path.dirname(path.dirname(pgBinDir()!));
    const links: { target: string }[] = JSON.parse(fs.readFileSync(path.join(pkg, 'native', 'pg-symlinks.json'), 'utf8'));
    for (const { target } of links) expect(fs.existsSync(path.join(pkg, target))).toBe(true);
  });
});

describe('createTestDatabase', () => {
  const saved = process.env.TEST_DATABASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = saved;
  });

  it('with TEST_DATABASE_URL, creates a fresh database on that server and drops it on stop', async () => {
    const server = 'postgres://postgres@127.0.0.1:5432/postgres';
    process.env.TEST_DATABASE_URL = server;

    const a = await createTestDatabase();
    const b = await createTestDatabase();
    try {
      const name = new URL(a.url).pathname.slice(1);
      expect(name).toMatch(/^hub_test_[0-9a-f]+$/);
      expect(b.url).not.toBe(a.url);
      expect(await query(a.url, 'select current_database() as db')).toEqual([{ db: name }]);

      await a.stop();
      await a.stop();
      expect(await query(server, `select datname from pg_database where datname = '${name}'`)).toEqual([]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('without TEST_DATABASE_URL, runs a throwaway embedded server', async () => {
    delete process.env.TEST_DATABASE_URL;
    const db = await createTestDatabase();
    try {
      expect(new URL(db.url).port).not.toBe('5432');
      expect(await query(db.url, 'select current_database() as db')).toEqual([{ db: 'hub' }]);
    } finally {
      await db.stop();
    }
  });
});
