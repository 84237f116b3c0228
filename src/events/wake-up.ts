import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from '../shared/logger';

/** The channel every hub process LISTENs on; the payload is the sending process's origin, only a wake-up, never data. */
export const EVENTS_CHANNEL = 'hub_referral_events';

/**
 * Wakes occupancy subscriptions when a station's cases change without a
 * referral event (a case opened or closed at the desk, a rescue period
 * extended). The payload is the station's uuid (36 bytes, far below
 * NOTIFY's 8000).
 */
export const STATION_CHANNEL = 'hub_station_changes';

/**
 * Each process's listening connection announces itself here (presence): with a hello when it starts listening (at
 * start and after a reconnect), then at every health check (HUB_EVENT_POLL). A process hearing a hello answers
 * with its own presence, so the newcomer knows at once who else is there.
 */
export const PRESENCE_CHANNEL = 'hub_processes';

/** A presence payload: `<origin> <ms it counts for> [hello]` (the sender's own three health-check intervals). */
export function presencePayload(origin: string, countsForMs: number, hello: boolean): string {
  return `${origin} ${Math.round(countsForMs)}${hello ? ' hello' : ''}`;
}

export function parsePresence(payload: string): { origin: string; countsForMs: number; hello: boolean } | null {
  const m = /^(\S+) (\d+)( hello)?$/.exec(payload);
  return m ? { origin: m[1], countsForMs: Number(m[2]), hello: m[3] !== undefined } : null;
}

/** At most one NOTIFY statement per this many ms per hub: a burst of commits costs one wake-up, not one each. */
const COALESCE_MS = 2;

/**
 * How a hub's commits wake the readers: this process's feed at once, in
 * process, and the other processes with one NOTIFY sent after the commit.
 *
 * Not NOTIFY inside the writing transaction: PostgreSQL serializes every
 * committing transaction that has notified (PreCommit_Notify takes a
 * database-wide lock "that we hold till after commit", async.c), WAL flush
 * included, so each event-writing commit would wait for the previous one's
 * fsync and group commit could not work. A NOTIFY after the commit is a
 * separate small statement on a pooled connection; one is in flight per hub
 * at a time and the requests that arrive meanwhile share the next one.
 *
 * A NOTIFY lost to a crash between the commit and the send delays the other
 * processes until their next poll (HUB_EVENT_POLL); it loses nothing, since
 * readers take events from the table by seq, never from the payload.
 *
 * Only while another process listens (PRESENCE_CHANNEL: heard within three of its health checks): a hub that
 * runs alone wakes nobody. Measured on the bench's hand-off (issue 7): 0.8 NOTIFYs per cycle, each a statement
 * and a wake-up of this process's own listening backend, which then ignores it. A process that starts listening
 * says hello, and whoever hears it sends one wake-up at once, for what it committed while the newcomer was
 * starting and could not yet be known: nothing waits for a poll. What a process must not do is take a peer for
 * gone while it still listens; a peer counts until three of its heartbeats are missed.
 */
export class WakeUps {
  /** Sent as the events channel's payload, so that this process's listener can ignore its own wake-ups. */
  readonly origin = randomUUID();
  private readonly local = new Set<() => void>();
  private logger: Logger | undefined;
  private events = false;
  private readonly stations = new Set<string>();
  private sending = false;
  /** Other processes' origins, and until when each counts as listening (its last heartbeat + three intervals). */
  private readonly peers = new Map<string, number>();
  private peersUntil = 0;
  /** Wake-ups for events sent to other processes (for operators and the test that a lone hub sends none). */
  eventWakeUpsSent = 0;

  constructor(private readonly db: DataSource) {}

  /**
   * A process announced itself on PRESENCE_CHANNEL (this one's own announcements are ignored). One new here gets a
   * wake-up now, for the events committed before this process knew of it.
   */
  peerHeard(origin: string, countsForMs: number): void {
    if (origin === this.origin) return;
    const now = Date.now();
    for (const [o, until] of this.peers) if (until <= now) this.peers.delete(o);
    const known = this.peers.has(origin);
    const until = now + countsForMs;
    this.peers.set(origin, until);
    this.peersUntil = Math.max(this.peersUntil, until);
    if (!known) {
      this.events = true;
      this.send();
    }
  }

  /** The other processes' origins that count as listening now (for operators and tests). */
  get listeningPeers(): string[] {
    const now = Date.now();
    return [...this.peers].filter(([, until]) => until > now).map(([origin]) => origin);
  }

  /** Whether another process listens (has announced itself recently enough). */
  get othersListen(): boolean {
    return this.peersUntil > Date.now();
  }

  /** `wake` runs synchronously after each commit of an event in this process (the feed's pump); returns the unregister. */
  onLocalEvents(wake: () => void, logger: Logger): () => void {
    this.local.add(wake);
    this.logger = logger;
    return () => this.local.delete(wake);
  }

  /** After the commit of referral events. */
  eventsCommitted(): void {
    for (const wake of this.local) wake();
    if (!this.othersListen) return;
    this.events = true;
    this.send();
  }

  /**
   * After the commit of a change to a station's cases. This process hears it
   * through its own listener like the others: occupancy re-counts are not on
   * any hot path, and one way in keeps each station's change counted once.
   */
  stationChanged(stationId: string): void {
    this.stations.add(stationId);
    this.send();
  }

  private send(): void {
    if (this.sending) return;
    this.sending = true;
    void this.flush().finally(() => (this.sending = false));
  }

  private async flush(): Promise<void> {
    while ((this.events || this.stations.size > 0) && this.db.isInitialized) {
      const channels: string[] = [];
      const payloads: string[] = [];
      if (this.events) {
        channels.push(EVENTS_CHANNEL);
        payloads.push(this.origin);
        this.eventWakeUpsSent++;
      }
      for (const station of this.stations) {
        channels.push(STATION_CHANNEL);
        payloads.push(station);
      }
      this.events = false;
      this.stations.clear();
      try {
        await this.db.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)', [channels, payloads]);
      } catch (err) {
        // The other processes' polls read what this wake-up was for.
        this.logger?.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'event wake-up NOTIFY failed');
      }
      await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
    }
  }
}

const wakeUps = new WeakMap<DataSource, WakeUps>();

/** The wake-ups of the hub that owns `db`. */
export function wakeUpsOf(db: DataSource): WakeUps {
  let w = wakeUps.get(db);
  if (!w) {
    w = new WakeUps(db);
    wakeUps.set(db, w);
  }
  return w;
}
