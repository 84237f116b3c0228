import type { FeedEvent } from './event-log';

/**
 * WebSocket close code for a subscriber that fell more than
 * HUB_SUBSCRIPTION_BUFFER events behind. Not 4429: graphql-ws uses that for
 * "too many initialisation requests" and its client treats it as fatal,
 * while a slow subscriber should reconnect and resume from its cursor.
 * Mnemonic: HTTP 413, the backlog grew too large.
 */
export const SUBSCRIBER_TOO_SLOW = 4413;
export const SUBSCRIBER_TOO_SLOW_REASON = 'Subscriber too slow: resume from your cursor';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** What the feed needs of a subscription. */
export interface FeedSubscriber {
  /** The agency whose referrals it follows; null: all (the administrator). */
  readonly agencyId: string | null;
  /** Called in seq order with every committed event that concerns `agencyId`; must not block. */
  offer(event: FeedEvent): void;
  /** Ends the subscription (hub stopping). */
  return(): Promise<IteratorResult<FeedEvent>>;
}

export interface EventStreamOptions {
  agencyId: string | null;
  /** Replay from the database first, everything after this seq; null: live events only. */
  after: number | null;
  bufferSize: number;
  replayPageSize: number;
  /** Reads committed events after a seq for the replay (event-log.ts readEvents). */
  read(afterSeq: number, limit: number, agencyId: string | null): Promise<FeedEvent[]>;
  /** Called once when the buffer overflows: close the subscriber's connection. */
  onOverflow(): void;
  /** Called once when the stream ends, however it ends. */
  onEnd(): void;
}

/**
 * One subscription's events: first the replay from the database (when
 * resuming after a cursor), then the live ones. The stream is registered
 * with the feed BEFORE the replay starts, so live events that commit during
 * the replay wait in the buffer; once the replay has caught up with the
 * database, the buffer is drained skipping every seq already delivered. No
 * gap (everything the feed had not yet dispatched at registration arrives
 * live; everything it had is committed and found by the replay) and no
 * duplicate (seq only grows).
 *
 * The buffer is bounded: a live subscriber that lets more than `bufferSize`
 * events pile up (its socket does not drain) is cut off rather than slowing
 * the feed or growing memory; its cursor lets it resume. During the replay
 * the buffer is simply dropped when full and the replay reads on, since the
 * database holds those events too.
 *
 * Written as a plain iterator rather than an async generator: `return()` must
 * end a subscription that is waiting for its next event at once (an async
 * generator would queue the return behind that wait, and leak).
 */
export class EventStream implements FeedSubscriber, AsyncIterableIterator<FeedEvent> {
  readonly agencyId: string | null;
  private lastDelivered: number;
  private replaying: boolean;
  private replayed: FeedEvent[] = [];
  private replayExhausted = false;
  /** Counts buffers dropped during the replay, so that a read in flight cannot mark the replay done too early. */
  private drops = 0;
  private readonly live: FeedEvent[] = [];
  private waiting: ((r: IteratorResult<FeedEvent>) => void) | undefined;
  private ended = false;

  constructor(private readonly opts: EventStreamOptions) {
    this.agencyId = opts.agencyId;
    this.lastDelivered = opts.after ?? 0;
    this.replaying = opts.after !== null;
  }

  offer(event: FeedEvent): void {
    if (this.ended || event.seq <= this.lastDelivered) return;
    if (this.waiting && !this.replaying && this.live.length === 0) {
      const resolve = this.waiting;
      this.waiting = undefined;
      this.lastDelivered = event.seq;
      resolve({ done: false, value: event });
      return;
    }
    if (this.live.length >= this.opts.bufferSize) {
      if (this.replaying) {
        // Still catching up from the database, which holds these events too: drop them and read on.
        this.live.length = 0;
        this.replayExhausted = false;
        this.drops++;
        return;
      }
      this.end();
      this.opts.onOverflow();
      return;
    }
    this.live.push(event);
  }

  async next(): Promise<IteratorResult<FeedEvent>> {
    while (this.replaying && !this.ended) {
      const e = this.replayed.shift();
      if (e) {
        this.lastDelivered = e.seq;
        return { done: false, value: e };
      }
      if (this.replayExhausted) {
        this.replaying = false;
        break;
      }
      const drops = this.drops;
      try {
        this.replayed = await this.opts.read(this.lastDelivered, this.opts.replayPageSize, this.agencyId);
      } catch {
        // graphql-ws sends an iterator's error message as it is: never the driver's.
        this.end();
        throw new Error('The hub could not read past events just now; resubscribe from your last cursor.');
      }
      if (this.replayed.length < this.opts.replayPageSize && this.drops === drops) this.replayExhausted = true;
    }
    if (this.ended) return DONE;
    for (let e = this.live.shift(); e; e = this.live.shift()) {
      if (e.seq <= this.lastDelivered) continue; // replayed already
      this.lastDelivered = e.seq;
      return { done: false, value: e };
    }
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<FeedEvent>> {
    this.end();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.live.length = 0;
    this.replayed = [];
    this.waiting?.(DONE);
    this.waiting = undefined;
    this.opts.onEnd();
  }
}
