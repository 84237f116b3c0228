import type { FeedEvent } from '../../src/events/event-log';
import { EventStream } from '../../src/events/event-stream';

/** Events 1..n as the database holds them; `committed` grows as the test commits more. */
function aDatabase() {
  const rows: FeedEvent[] = [];
  const event = (seq: number): FeedEvent => ({
    seq,
    referralId: 'r',
    type: 'REQUESTED',
    status: 'REQUESTED',
    occurredAt: new Date(0),
    actorAccountId: null,
    actorAgencyId: null,
    note: null,
    parties: ['x'],
    touches: ['x'],
  });
  const db = {
    reads: 0,
    /** Called during each read, before it answers: what "commits meanwhile". */
    duringRead: (): void => undefined,
    commit(...seqs: number[]) {
      const added = seqs.map(event);
      rows.push(...added);
      return added;
    },
    async read(after: number, limit: number): Promise<FeedEvent[]> {
      db.reads++;
      const page = rows.filter((r) => r.seq > after).slice(0, limit);
      db.duringRead();
      return page;
    },
  };
  return db;
}

function aStream(db: ReturnType<typeof aDatabase>, after: number | null, bufferSize = 3) {
  const state = { overflowed: false, ended: false };
  const stream = new EventStream({
    agencyId: 'x',
    after,
    bufferSize,
    replayPageSize: 2,
    read: (a, limit) => db.read(a, limit),
    onOverflow: () => (state.overflowed = true),
    onEnd: () => (state.ended = true),
  });
  return { stream, state };
}

async function take(stream: EventStream, n: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await stream.next();
    if (r.done) break;
    seqs.push(r.value.seq);
  }
  return seqs;
}

describe('EventStream', () => {
  it('replays from the database after the cursor, then goes live, without gap or duplicate at the seam', async () => {
    const db = aDatabase();
    db.commit(1, 2, 3, 4, 5);
    const { stream } = aStream(db, 2, 10);
    // Committed and dispatched live while the replay is still reading: 6 arrives twice (read and offered).
    db.duringRead = () => {
      if (db.reads === 1) for (const e of db.commit(6)) stream.offer(e);
    };
    expect(await take(stream, 4)).toEqual([3, 4, 5, 6]);
    for (const e of db.commit(7)) stream.offer(e);
    expect(await take(stream, 1)).toEqual([7]);
  });

  it('without a cursor delivers only what is offered from now on', async () => {
    const db = aDatabase();
    db.commit(1, 2);
    const { stream } = aStream(db, null);
    const next = stream.next();
    for (const e of db.commit(3)) stream.offer(e);
    expect((await next).value?.seq).toBe(3);
    expect(db.reads).toBe(0);
  });

  it('cuts off a live subscriber with more than bufferSize events waiting, and keeps none of them', async () => {
    const db = aDatabase();
    const { stream, state } = aStream(db, null, 3);
    for (const e of db.commit(1, 2, 3)) stream.offer(e);
    expect(state.overflowed).toBe(false);
    for (const e of db.commit(4)) stream.offer(e);
    expect(state).toEqual({ overflowed: true, ended: true });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('during a replay, drops a full buffer and reads on instead of cutting off', async () => {
    const db = aDatabase();
    db.commit(1);
    const { stream, state } = aStream(db, 0, 2);
    // A burst while the only page is read (and after its snapshot): more than the buffer holds. The page is
    // short, yet the replay must read again: the dropped events are only in the database now.
    db.duringRead = () => {
      if (db.reads === 1) for (const e of db.commit(2, 3, 4, 5, 6)) stream.offer(e);
    };
    expect(await take(stream, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(state.overflowed).toBe(false);
  });

  it('ends a subscription that is waiting for its next event at once on return()', async () => {
    const db = aDatabase();
    const { stream, state } = aStream(db, null);
    const next = stream.next();
    await stream.return();
    expect(await next).toEqual({ done: true, value: undefined });
    expect(state.ended).toBe(true);
  });
});
