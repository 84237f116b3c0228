import type { EntityManager } from 'typeorm';

/** The channel every hub process LISTENs on; the payload is only a wake-up, never data. */
export const EVENTS_CHANNEL = 'hub_referral_events';

/**
 * One key for the whole hub: event writers take it as a transaction-level
 * advisory lock just before appending, and hold it until commit. So event
 * sequence order IS commit order, and a reader that has seen seq n can never
 * later find a committed n-1 (STACK.md: sequence order is not commit order).
 * Append the event as the last write of the transaction to keep the
 * serialized span short.
 */
const EVENT_ORDER_LOCK = 0x68756231; // "hub1"

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

export async function appendReferralEvents(tx: EntityManager, events: NewReferralEvent[]): Promise<{ seq: number; occurredAt: Date }[]> {
  if (events.length === 0) return [];
  await tx.query('SELECT pg_advisory_xact_lock($1)', [EVENT_ORDER_LOCK]);
  const rows: { seq: number; occurred_at: Date }[] = await tx.query(
    `INSERT INTO referral_event (referral_id, type, status, actor_account_id, actor_agency_id, note)
     SELECT * FROM unnest($1::uuid[], $2::referral_event_type[], $3::referral_status[], $4::uuid[], $5::uuid[], $6::varchar[])
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
  // Delivered by PostgreSQL only at commit, and not at all on rollback.
  await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, '']);
  return rows.map((r) => ({ seq: r.seq, occurredAt: r.occurred_at }));
}

/**
 * Wakes occupancy subscriptions when a station's cases change without a
 * referral event (a case opened or closed at the desk, a rescue period
 * extended). The payload is the station's uuid (36 bytes, far below
 * NOTIFY's 8000); like every NOTIFY it is delivered only at commit.
 */
export const STATION_CHANNEL = 'hub_station_changes';

export async function notifyStationChanged(tx: EntityManager, stationId: string): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [STATION_CHANNEL, stationId]);
}

/** Opaque to clients; strictly increasing with commit order. */
export function eventCursor(seq: number): string {
  return Buffer.from(`ev:${seq}`).toString('base64url');
}

export function parseEventCursor(cursor: string): number | null {
  const m = /^ev:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
}
