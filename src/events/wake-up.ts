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
 */
export class WakeUps {
  /** Sent as the events channel's payload, so that this process's listener can ignore its own wake-ups. */
  readonly origin = randomUUID();
  private readonly local = new Set<() => void>();
  private logger: Logger | undefined;
  private events = false;
  private readonly stations = new Set<string>();
  private sending = false;

  constructor(private readonly db: DataSource) {}

  /** `wake` runs synchronously after each commit of an event in this process (the feed's pump); returns the unregister. */
  onLocalEvents(wake: () => void, logger: Logger): () => void {
    this.local.add(wake);
    this.logger = logger;
    return () => this.local.delete(wake);
  }

  /** After the commit of referral events. */
  eventsCommitted(): void {
    for (const wake of this.local) wake();
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
