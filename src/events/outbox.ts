import type { EntityManager } from 'typeorm';
import type { AlongsideCte } from '../db/cte';
import { afterCommit, commitWithNext } from '../db/transaction';
import { wakeUpsOf } from './wake-up';

export interface NewReferralEvent {
  referralId: string;
  type: string;
  /** The referral's status after the event. */
  status: string;
  actorAccountId: string | null;
  actorAgencyId: string | null;
  /** The acting agency's note with the step, kept with the hand-off record. */
  note?: string | null;
}

/**
 * Appends events in the caller's transaction (an inTransaction one) and wakes
 * the readers after it commits. No lock: writers run and commit in parallel,
 * so seq order is NOT commit order, and the feed (event-feed.ts) delivers a
 * seq only once no transaction that could still commit a smaller one is
 * left. That rule needs one thing from the writer: its transaction has a
 * transaction id BEFORE it takes a seq. The MATERIALIZED CTE assigns it
 * (pg_current_xact_id(); a no-op when the transaction already has one, e.g.
 * from a FOR UPDATE) and the rows are built from a join with it, so no row,
 * and no nextval of its seq default, exists before it. The sequence must
 * keep CACHE 1 (bigserial's default): with a per-session cache, values
 * would not follow the order in which they were taken.
 */
export async function appendReferralEvents(tx: EntityManager, events: NewReferralEvent[]): Promise<{ seq: number; occurredAt: Date }[]> {
  if (events.length === 0) return [];
  const rows: { seq: number; occurred_at: Date }[] = await tx.query(
    `WITH ${XACT_CTE}
     ${eventInsertFrom('e.*', 'unnest($1::uuid[], $2::referral_event_type[], $3::referral_status[], $4::uuid[], $5::uuid[], $6::varchar[]) AS e')}
     RETURNING seq, occurred_at`,
    [
      events.map((e) => e.referralId),
      events.map((e) => e.type),
      events.map((e) => e.status),
      events.map((e) => e.actorAccountId),
      events.map((e) => e.actorAgencyId),
      events.map((e) => e.note ?? null),
    ],
  );
  eventsAppended(tx);
  return rows.map((r) => ({ seq: r.seq, occurredAt: r.occurred_at }));
}

/**
 * appendReferralEvents for one event, and in the SAME statement the caller's other writes of the change
 * (`alongside`, each a data-modifying CTE: PostgreSQL runs every one of them to completion, with the
 * statement's snapshot, whether or not the INSERT reads them). One round trip instead of one per write:
 * each is a loopback send and a wake-up of the server (writev was 27% of the hub's CPU in the hand-off
 * benchmark). The transaction-id rule is the same: the INSERT takes its row from the MATERIALIZED xact CTE.
 * `last`: nothing follows in the transaction, whose COMMIT then leaves with the statement (commitWithNext).
 */
export async function appendReferralEventWith(
  tx: EntityManager,
  event: NewReferralEvent,
  alongside: AlongsideCte[],
  opts: { last?: boolean } = {},
): Promise<void> {
  const params: unknown[] = [];
  const ctes: string[] = [];
  for (const [i, build] of alongside.entries()) {
    const name = `change_${i}`;
    const cte = build(params.length + 1, name);
    ctes.push(...(cte.before ?? []), `${name} AS (${cte.sql})`);
    params.push(...cte.params);
  }
  const n = params.length + 1;
  params.push(event.referralId, event.type, event.status, event.actorAccountId, event.actorAgencyId, event.note ?? null);
  // The wake-up is registered first: with `last`, the transaction has committed when the statement answers.
  eventsAppended(tx);
  if (opts.last) commitWithNext(tx);
  await tx.query(
    `WITH ${ctes.map((c) => `${c}, `).join('')}${XACT_CTE}
     ${eventInsertFrom(`$${n}::uuid, $${n + 1}::referral_event_type, $${n + 2}::referral_status, $${n + 3}::uuid, $${n + 4}::uuid, $${n + 5}::varchar`)}`,
    params,
  );
}

/** The CTE that assigns the writer's transaction id before any event row exists (the rule of appendReferralEvents). */
export const XACT_CTE = 'xact AS MATERIALIZED (SELECT pg_current_xact_id() AS id)';

/**
 * The events' INSERT for a statement whose WITH holds XACT_CTE: `columns` are the referral_id, type, status,
 * actor_account_id, actor_agency_id and note of each event, in that order, over `from` (relations of the same
 * statement, e.g. the rows a guarded step changed: referral.guard.ts), and every row is joined with xact.
 */
export function eventInsertFrom(columns: string, from?: string): string {
  return `INSERT INTO referral_event (referral_id, type, status, actor_account_id, actor_agency_id, note)
          SELECT ${columns} FROM ${from ? `${from}, ` : ''}xact WHERE xact.id IS NOT NULL`;
}

/** Wakes the event feed once the caller's transaction has committed: for a statement that appends events itself (eventInsertFrom). */
export function eventsAppended(tx: EntityManager): void {
  const wakeUps = wakeUpsOf(tx.dataSource);
  afterCommit(tx, () => wakeUps.eventsCommitted());
}

/** Wakes occupancy subscriptions (wake-up.ts STATION_CHANNEL) once the caller's transaction has committed. */
export function notifyStationChanged(tx: EntityManager, stationId: string): void {
  const wakeUps = wakeUpsOf(tx.dataSource);
  afterCommit(tx, () => wakeUps.stationChanged(stationId));
}

/** Opaque to clients; strictly increasing in the order the feed delivers events. */
export function eventCursor(seq: number): string {
  return Buffer.from(`ev:${seq}`).toString('base64url');
}

export function parseEventCursor(cursor: string): number | null {
  const m = /^ev:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
}
