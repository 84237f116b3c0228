import { Client, type Notification } from 'pg';
import type { DataSource } from 'typeorm';
import { ACCOUNT_REVOKED_CHANNEL } from '../auth/token-cache';
import type { Logger } from '../shared/logger';
import { newestSeq, readEvents, readFeedPage, settled, type FeedEvent } from './event-log';
import { EventStream, type FeedSubscriber } from './event-stream';
import { EVENTS_CHANNEL, PRESENCE_CHANNEL, STATION_CHANNEL, parsePresence, presencePayload, wakeUpsOf, type WakeUps } from './wake-up';

/** Shown in pg_stat_activity, so operators (and a test) can find each process's listening connection. */
export const LISTENER_APPLICATION_NAME = 'rescue-referral-hub-listener';

/** Rows per read: a wake-up after a burst reads in pages, never everything at once. */
const BATCH = 500;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** The listening connection must answer a ping within this (at most the poll interval). */
const PING_TIMEOUT_MS = 5_000;
/** Re-read this soon while events wait behind a gap: the transaction holding it is usually committing now. */
const GAP_RETRY_MS = 3;
/**
 * ... and back off, doubling up to this, while the same gap stays open: a long write transaction elsewhere on
 * the server (a bulk import, a migration) holds every gap open for its whole life, and each process must not
 * re-read hundreds of times a second meanwhile.
 */
const GAP_RETRY_MAX_MS = 250;
/** How often to look again while waiting at start for older transactions to end. */
const SETTLE_RETRY_MS = 5;

export interface EventFeedOptions {
  db: DataSource;
  /** For the dedicated listening connection (LISTEN needs a session of its own, not a pooled one). */
  databaseUrl: string;
  logger: Logger;
  /** Safety net: read new events at least this often, NOTIFY or not. */
  pollMs: number;
  /**
   * While nobody in this process follows events or occupancy, wake-ups are gathered and read at most this often
   * (HUB_EVENT_IDLE_READ): the reads then only keep the feed's place. A subscriber or watcher arriving reads at once.
   */
  idleReadMs: number;
  /** Per-subscription bound (HUB_SUBSCRIPTION_BUFFER). */
  bufferSize: number;
  /**
   * Revocations heard on the same connection (src/auth/token-cache.ts): `revoked` for each, `hearing` when the
   * connection comes up (true) or is lost (false), since revocations sent meanwhile are missed.
   */
  accounts?: { revoked(accountId: string): void; hearing(hearing: boolean): void };
}

/** Stations whose occupancy may have changed; 'all' after the listener was away and may have missed some. */
export type StationsChanged = ReadonlySet<string> | 'all';

/** An occupancy subscription, as the feed sees it. */
export interface StationWatcher {
  changed(stations: StationsChanged): void;
  /** Ends the watch (hub stopping). */
  return(): Promise<unknown>;
}

const feeds = new WeakMap<DataSource, EventFeed>();

/** The running feed of the hub that owns `db` (several hubs may share one process, e.g. in tests). */
export function eventFeedOf(db: DataSource): EventFeed {
  const feed = feeds.get(db);
  if (!feed) throw new Error('No event feed is running for this hub.');
  return feed;
}

/**
 * Fan-out of committed referral events to this process's subscribers.
 *
 * ONE dedicated connection per process LISTENs (NOTIFY is only a wake-up:
 * payloads are not replayed to a listener that was away); commits made in
 * this process wake the feed directly (wake-up.ts). On each wake-up the feed
 * reads the rows after the last seq it dispatched, in one query joined with
 * the referral's parties, and hands each event to the subscribers it
 * concerns, in seq order. Several processes on one database each do the same,
 * so a change made through any of them reaches subscribers on all of them.
 *
 * Writers take no lock (outbox.ts), so a seq can commit after a greater one:
 * the feed must never pass a gap that may still fill, or a subscriber's
 * cursor would skip the late event. The rule, per read (one statement, one
 * snapshot S):
 * - A missing seq g below a visible seq h belongs to a writer X that took its
 *   transaction id before g (outbox.ts), g before h, and h committed before
 *   S: so X started before S and is now committed (then g is visible),
 *   aborted (g never comes) or still running.
 * - pg_current_snapshot()'s xip list cannot tell the last case: it lists
 *   only running ids below xmax, which is one past the newest COMPLETED id,
 *   and X may well be newer than the writer of h. So the read, when it finds
 *   a gap, also takes a transaction id T (assigned after S, hence greater
 *   than X and every id that could hold a gap below the page's last seq).
 * - Events up to the gap are dispatched; those after it wait. Once a later
 *   read's snapshot has xmin >= T (nothing older than T still running), every
 *   seq up to that page's last one is final: present, or never coming.
 * Until then the feed re-reads every GAP_RETRY_MS; usually the gap simply
 * fills when its writer commits a moment later. A long-running transaction
 * elsewhere only delays events that wait behind a gap, never loses one.
 *
 * Everything up to `position` is final and dispatched, which is what a
 * replay may read up to (see subscribe).
 *
 * The listener reconnects by itself with backoff when PostgreSQL restarts or
 * the connection drops, and then reads what committed meanwhile; a poll every
 * `pollMs` is the safety net for a connection that died silently, or a
 * wake-up lost to a crash after a commit.
 */
export class EventFeed {
  private lastSeq = 0;
  /** Every seq up to this is final (committed, or never coming): dispatched in order without waiting at its gaps. */
  private finalThrough = 0;
  /** Events wait behind a gap up to `upTo` until no transaction older than `threshold` runs. */
  private barrier: { upTo: number; threshold: string } | null = null;
  private gapTimer: NodeJS.Timeout | undefined;
  private gapRetryMs = GAP_RETRY_MS;
  private reads = 0;
  private readonly wakeUps: WakeUps;
  private unwatchLocal: (() => void) | undefined;
  private readonly subscribers = new Set<FeedSubscriber>();
  private readonly stationWatchers = new Set<StationWatcher>();
  private client: Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The gathered read of an idle feed (wake). */
  private idleTimer: NodeJS.Timeout | undefined;
  private pinging = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private stopped = false;

  constructor(private readonly opts: EventFeedOptions) {
    this.wakeUps = wakeUpsOf(opts.db);
  }

  /** The seq of the last event dispatched to subscribers; no smaller seq can commit any more. */
  get position(): number {
    return this.lastSeq;
  }

  /**
   * Starts from the newest committed event: live subscribers get what commits from now on. It waits until
   * every transaction that could still commit a smaller seq has ended (usually at once), so that the start
   * is a position like any other: final below.
   */
  async start(): Promise<void> {
    const newest = await newestSeq(this.opts.db);
    const since = Date.now();
    let warned = false;
    while (!(await settled(this.opts.db, newest.threshold))) {
      if (!warned && Date.now() - since > 1_000) {
        warned = true;
        this.opts.logger.warn('event feed waiting for older transactions to end before it starts');
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS));
    }
    this.lastSeq = this.finalThrough = newest.seq;
    await this.connect();
    this.unwatchLocal = this.wakeUps.onLocalEvents(() => this.wake(), this.opts.logger);
    feeds.set(this.opts.db, this);
    this.wake(); // what committed between reading the position and LISTEN
    this.pollTimer = setInterval(() => {
      this.wake();
      void this.checkListener();
    }, this.opts.pollMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    feeds.delete(this.opts.db);
    this.unwatchLocal?.();
    clearInterval(this.pollTimer);
    clearTimeout(this.gapTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.reconnectTimer);
    await Promise.all([...this.subscribers, ...this.stationWatchers].map((s) => s.return()));
    this.stationWatchers.clear();
    const client = this.client;
    this.client = undefined;
    this.opts.accounts?.hearing(false);
    await client?.end().catch(() => undefined);
    await this.pumping;
  }

  /**
   * Events that concern `agencyId` (null: all), replayed from the database
   * after `after` when given, then live. See EventStream for the seam: the
   * replay reads only up to the feed's position at each read, where every
   * seq is final, and whatever the feed dispatches later reaches the stream
   * live. Reading further could deliver a seq past a gap whose event then
   * arrives live, below the stream's cursor, and is dropped.
   */
  subscribe(opts: { agencyId: string | null; after: number | null; onOverflow: () => void }): EventStream {
    if (this.stopped) throw new Error('The event feed is stopped.');
    const stream: EventStream = new EventStream({
      ...opts,
      bufferSize: this.opts.bufferSize,
      replayPageSize: BATCH,
      read: (afterSeq, limit, agencyId) =>
        readEvents(this.opts.db, afterSeq, limit, agencyId, this.lastSeq).catch((err: Error) => {
          this.opts.logger.warn({ err: { name: err.name, message: err.message } }, 'event replay read failed');
          throw err;
        }),
      onEnd: () => this.subscribers.delete(stream),
    });
    // Registered before the replay's first read: nothing committed after this moment can be missed.
    this.subscribers.add(stream);
    this.followed();
    return stream;
  }

  /** Whether events wait behind a gap: a smaller seq that some transaction may still commit. */
  get waitingAtGap(): boolean {
    return this.barrier !== null;
  }

  /** How many times this feed has read the event log (for operators' metrics and the back-off test). */
  get readCount(): number {
    return this.reads;
  }

  /** Tells `watcher` whenever events or case changes may have changed some stations' occupancy; returns the unwatch. */
  watchStations(watcher: StationWatcher): () => void {
    if (this.stopped) throw new Error('The event feed is stopped.');
    this.stationWatchers.add(watcher);
    this.followed();
    return () => this.stationWatchers.delete(watcher);
  }

  /** How many subscriptions this process serves now. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.opts.databaseUrl,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client.on('notification', (msg: Notification) => {
      // Our own commits woke the feed directly (wake-up.ts).
      if (msg.channel === EVENTS_CHANNEL) {
        if (msg.payload !== this.wakeUps.origin) this.wake();
      } else if (msg.channel === PRESENCE_CHANNEL && msg.payload) this.presenceHeard(client, msg.payload);
      else if (msg.channel === STATION_CHANNEL && msg.payload) this.stationsChanged(new Set([msg.payload]));
      else if (msg.channel === ACCOUNT_REVOKED_CHANNEL && msg.payload) this.opts.accounts?.revoked(msg.payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(
        [EVENTS_CHANNEL, STATION_CHANNEL, ACCOUNT_REVOKED_CHANNEL, PRESENCE_CHANNEL]
          .map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`)
          .join('; '),
      );
      // Listening from here on: the others may now count on this process hearing their wake-ups (wake-up.ts).
      await this.announce(client, true);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_FIRST_MS;
    this.opts.accounts?.hearing(true);
  }

  /** The listening connection is gone (PostgreSQL restarted, the backend was terminated, the network dropped). */
  private lost(client: Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.opts.accounts?.hearing(false);
    client.removeAllListeners('notification');
    client.on('error', () => undefined); // a late error on a dead client must not crash the process
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.opts.logger.warn({ err: err && { name: err.name, message: err.message } }, 'event listener connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    // Jitter, so that many processes do not hammer a restarting server in step.
    const delay = this.reconnectDelay * (0.8 + Math.random() * 0.4);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      try {
        await this.connect();
      } catch (err) {
        this.opts.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'event listener reconnect failed');
        this.scheduleReconnect();
        return;
      }
      if (this.stopped) return;
      this.opts.logger.info('event listener reconnected; catching up');
      // Whatever committed while nobody listened: the events by seq, and every station's occupancy.
      this.wake();
      this.stationsChanged('all');
    }, delay);
    this.reconnectTimer.unref();
  }

  /** How long this process's presence counts for the others: three health checks, so one lost heartbeat is no gap. */
  private get presenceMs(): number {
    return 3 * this.opts.pollMs;
  }

  private announce(client: Client, hello: boolean): Promise<unknown> {
    return client.query('SELECT pg_notify($1, $2)', [PRESENCE_CHANNEL, presencePayload(this.wakeUps.origin, this.presenceMs, hello)]);
  }

  /** Another process (or this one) announced itself; a newcomer's hello is answered, so that it knows of this one. */
  private presenceHeard(client: Client, payload: string): void {
    const p = parsePresence(payload);
    if (!p || p.origin === this.wakeUps.origin) return;
    this.wakeUps.peerHeard(p.origin, p.countsForMs);
    if (p.hello && this.client === client)
      this.announce(client, false).catch((err: Error) =>
        this.opts.logger.warn({ err: { name: err.name, message: err.message } }, 'presence answer failed'),
      );
  }

  /**
   * A connection can die without a word (a dropped NAT entry, a server that stopped answering); the poll
   * finds out. An unanswered ping counts as lost: its query would otherwise wait for TCP to give up (many
   * minutes), with the next polls' pings queued behind it.
   */
  private async checkListener(): Promise<void> {
    const client = this.client;
    if (!client || this.pinging) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // The ping is also this process's heartbeat (wake-up.ts PRESENCE_CHANNEL).
        this.announce(client, false),
        new Promise((_resolve, reject) => {
          const ms = Math.min(this.opts.pollMs, PING_TIMEOUT_MS);
          timer = setTimeout(() => reject(new Error(`the listening connection did not answer a ping within ${ms} ms`)), ms);
          timer.unref();
        }),
      ]);
    } catch (err) {
      this.lost(client, err as Error);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  /**
   * New events may have committed. With a subscriber or an occupancy watcher in this process: read them now. With
   * neither, the read only keeps the feed's place, so the wake-ups of HUB_EVENT_IDLE_READ are gathered into one:
   * measured on the bench's hand-off (issue 7; no subscribers), a read after every commit was 1.24 statements per
   * cycle, 0.35 ms of PostgreSQL each, and the hub's CPU with it. What this costs: a live subscription that
   * arrives at an idle feed may also get the events of the last HUB_EVENT_IDLE_READ before it (the feed reads
   * them at its arrival, and everything not yet dispatched at registration goes to it, as ever); it misses none.
   */
  private wake(): void {
    if (this.stopped) return;
    if (this.subscribers.size === 0 && this.stationWatchers.size === 0) {
      if (!this.idleTimer) {
        this.idleTimer = setTimeout(() => {
          this.idleTimer = undefined;
          this.read();
        }, this.opts.idleReadMs);
        this.idleTimer.unref();
      }
      return;
    }
    this.read();
  }

  /** A subscriber or watcher has come: what an idle feed gathered is read now, not at its timer. */
  private followed(): void {
    if (!this.idleTimer) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.read();
  }

  /** Reads and dispatches new events; wake-ups during a read cause one more read, never a parallel one. */
  private read(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const wantThreshold = this.barrier === null;
        this.reads++;
        const page = await readFeedPage(this.opts.db, this.lastSeq, BATCH, this.barrier?.threshold ?? null, wantThreshold);
        if (this.stopped) return;
        if (this.barrier && page.settled) {
          this.finalThrough = Math.max(this.finalThrough, this.barrier.upTo);
          this.barrier = null;
          this.gapRetryMs = GAP_RETRY_MS;
        }
        const touched = new Set<string>();
        let held = false;
        for (const e of page.events) {
          if (e.seq !== this.lastSeq + 1 && e.seq > this.finalThrough) {
            held = true;
            break;
          }
          this.dispatch(e);
          for (const id of e.touches) touched.add(id);
        }
        if (touched.size > 0) this.stationsChanged(touched);
        if (!held) this.gapRetryMs = GAP_RETRY_MS;
        if (held) {
          if (!this.barrier && page.threshold) this.barrier = { upTo: page.events[page.events.length - 1].seq, threshold: page.threshold };
          // A barrier that has just resolved leaves the rest behind a newer gap: read again at once for its threshold.
          if (!this.barrier && !wantThreshold) continue;
          this.retryGap();
          return;
        }
        if (page.events.length < BATCH) return;
      }
    } catch (err) {
      // The database is away; the next wake-up or poll reads from the same seq.
      this.opts.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'event feed read failed');
    }
  }

  private retryGap(): void {
    if (this.gapTimer || this.stopped) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.wake();
    }, this.gapRetryMs);
    this.gapRetryMs = Math.min(this.gapRetryMs * 2, GAP_RETRY_MAX_MS);
    this.gapTimer.unref();
  }

  private dispatch(e: FeedEvent): void {
    this.lastSeq = e.seq;
    for (const s of this.subscribers) {
      if (s.agencyId === null || e.parties.includes(s.agencyId)) s.offer(e);
    }
  }

  private stationsChanged(changed: StationsChanged): void {
    for (const watcher of this.stationWatchers) {
      try {
        watcher.changed(changed);
      } catch (err) {
        this.opts.logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'occupancy listener failed');
      }
    }
  }
}
