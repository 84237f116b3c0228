import { Client, type Notification } from 'pg';
import type { DataSource } from 'typeorm';
import type { Logger } from '../shared/logger';
import { latestSeq, readEvents, type FeedEvent } from './event-log';
import { EventStream, type FeedSubscriber } from './event-stream';
import { EVENTS_CHANNEL, STATION_CHANNEL } from './outbox';

/** Shown in pg_stat_activity, so operators (and a test) can find each process's listening connection. */
export const LISTENER_APPLICATION_NAME = 'rescue-referral-hub-listener';

/** Rows per read: a wake-up after a burst reads in pages, never everything at once. */
const BATCH = 500;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** The listening connection must answer a ping within this (at most the poll interval). */
const PING_TIMEOUT_MS = 5_000;

export interface EventFeedOptions {
  db: DataSource;
  /** For the dedicated listening connection (LISTEN needs a session of its own, not a pooled one). */
  databaseUrl: string;
  logger: Logger;
  /** Safety net: read new events at least this often, NOTIFY or not. */
  pollMs: number;
  /** Per-subscription bound (HUB_SUBSCRIPTION_BUFFER). */
  bufferSize: number;
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
 * payloads are not replayed to a listener that was away). On each wake-up the
 * feed reads every row after the last seq it dispatched, in one query joined
 * with the referral's parties, and hands each event to the subscribers it
 * concerns, in seq order. Several processes on one database each do the same,
 * so a change made through any of them reaches subscribers on all of them.
 *
 * The listener reconnects by itself with backoff when PostgreSQL restarts or
 * the connection drops, and then reads what committed meanwhile; a poll every
 * `pollMs` is the safety net for a connection that died silently.
 */
export class EventFeed {
  private lastSeq = 0;
  private readonly subscribers = new Set<FeedSubscriber>();
  private readonly stationWatchers = new Set<StationWatcher>();
  private client: Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private pollTimer: NodeJS.Timeout | undefined;
  private pinging = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private stopped = false;

  constructor(private readonly opts: EventFeedOptions) {}

  /** The seq of the last event dispatched to subscribers. */
  get position(): number {
    return this.lastSeq;
  }

  /** Starts from the newest committed event: live subscribers get what commits from now on. */
  async start(): Promise<void> {
    this.lastSeq = await latestSeq(this.opts.db);
    await this.connect();
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
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    await Promise.all([...this.subscribers, ...this.stationWatchers].map((s) => s.return()));
    this.stationWatchers.clear();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    await this.pumping;
  }

  /**
   * Events that concern `agencyId` (null: all), replayed from the database
   * after `after` when given, then live. See EventStream for the seam.
   */
  subscribe(opts: { agencyId: string | null; after: number | null; onOverflow: () => void }): EventStream {
    if (this.stopped) throw new Error('The event feed is stopped.');
    const stream: EventStream = new EventStream({
      ...opts,
      bufferSize: this.opts.bufferSize,
      replayPageSize: BATCH,
      read: (afterSeq, limit, agencyId) =>
        readEvents(this.opts.db, afterSeq, limit, agencyId).catch((err: Error) => {
          this.opts.logger.warn({ err: { name: err.name, message: err.message } }, 'event replay read failed');
          throw err;
        }),
      onEnd: () => this.subscribers.delete(stream),
    });
    // Registered before the replay's first read: nothing committed after this moment can be missed.
    this.subscribers.add(stream);
    return stream;
  }

  /** Tells `watcher` whenever events or case changes may have changed some stations' occupancy; returns the unwatch. */
  watchStations(watcher: StationWatcher): () => void {
    if (this.stopped) throw new Error('The event feed is stopped.');
    this.stationWatchers.add(watcher);
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
      if (msg.channel === EVENTS_CHANNEL) this.wake();
      else if (msg.channel === STATION_CHANNEL && msg.payload) this.stationsChanged(new Set([msg.payload]));
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(EVENTS_CHANNEL)}; LISTEN ${client.escapeIdentifier(STATION_CHANNEL)}`);
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
  }

  /** The listening connection is gone (PostgreSQL restarted, the backend was terminated, the network dropped). */
  private lost(client: Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
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
        client.query('SELECT 1'),
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

  /** Reads and dispatches new events; wake-ups during a read cause one more read, never a parallel one. */
  private wake(): void {
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
        const events = await readEvents(this.opts.db, this.lastSeq, BATCH);
        if (this.stopped) return;
        const touched = new Set<string>();
        for (const e of events) {
          this.dispatch(e);
          for (const id of e.touches) touched.add(id);
        }
        if (touched.size > 0) this.stationsChanged(touched);
        if (events.length < BATCH) return;
      }
    } catch (err) {
      // The database is away; the next wake-up or poll reads from the same seq.
      this.opts.logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'event feed read failed');
    }
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
