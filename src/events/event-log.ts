import type { DataSource } from 'typeorm';

/**
 * One committed referral event as subscribers receive it, with the referral's
 * parties as they stand when the row is read (the same rule for live events
 * and for a replay, so both paths deliver the same events).
 */
export interface FeedEvent {
  seq: number;
  referralId: string;
  type: string;
  /** The referral's status after the event. */
  status: string;
  occurredAt: Date;
  actorAccountId: string | null;
  actorAgencyId: string | null;
  note: string | null;
  /** Requester, sender, receiver and escort: who receives the event. */
  parties: string[];
  /** Agencies whose occupancy the event may change: the parties, the station of the referral's case and of the person's open case. */
  touches: string[];
}

interface EventRow {
  seq: number | string;
  referral_id: string;
  type: string;
  status: string;
  occurred_at: Date;
  actor_account_id: string | null;
  actor_agency_id: string | null;
  note: string | null;
  requested_by_id: string;
  from_agency_id: string;
  to_agency_id: string;
  escort_agency_id: string | null;
  case_station_id: string | null;
  open_case_station_id: string | null;
}

/**
 * Committed events after `afterSeq`, oldest first, at most `limit`, in one
 * statement; with `agencyId`, only those of referrals the agency is party to.
 * Reading committed rows is what keeps an event from reaching anyone before
 * its transaction commits; the writers' advisory lock (outbox.ts) is what
 * keeps a later read from finding an older seq.
 */
export async function readEvents(db: DataSource, afterSeq: number, limit: number, agencyId: string | null = null): Promise<FeedEvent[]> {
  const rows: EventRow[] = await db.query(
    `SELECT e.seq, e.referral_id, e.type, e.status, e.occurred_at, e.actor_account_id, e.actor_agency_id, e.note,
            r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id,
            rc.station_id AS case_station_id, oc.station_id AS open_case_station_id
       FROM referral_event e
       JOIN referral r ON r.id = e.referral_id
       LEFT JOIN rescue_case rc ON rc.id = r.case_id
       LEFT JOIN rescue_case oc ON oc.person_id = r.person_id AND oc.status = 'OPEN'
      WHERE e.seq > $1
        AND ($3::uuid IS NULL OR $3::uuid IN (r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id))
      ORDER BY e.seq
      LIMIT $2`,
    [afterSeq, limit, agencyId],
  );
  return rows.map((r) => {
    const parties = [r.requested_by_id, r.from_agency_id, r.to_agency_id, ...(r.escort_agency_id ? [r.escort_agency_id] : [])];
    const touches = new Set(parties);
    if (r.case_station_id) touches.add(r.case_station_id);
    if (r.open_case_station_id) touches.add(r.open_case_station_id);
    return {
      seq: Number(r.seq),
      referralId: r.referral_id,
      type: r.type,
      status: r.status,
      occurredAt: r.occurred_at,
      actorAccountId: r.actor_account_id,
      actorAgencyId: r.actor_agency_id,
      note: r.note,
      parties,
      touches: [...touches],
    };
  });
}

export async function latestSeq(db: DataSource): Promise<number> {
  const [{ max }]: { max: number | string }[] = await db.query('SELECT coalesce(max(seq), 0) AS max FROM referral_event');
  return Number(max);
}
