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

const EVENT_COLUMNS = `e.seq, e.referral_id, e.type, e.status, e.occurred_at, e.actor_account_id, e.actor_agency_id, e.note,
            r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id,
            rc.station_id AS case_station_id, oc.station_id AS open_case_station_id`;
const EVENT_JOINS = `JOIN referral r ON r.id = e.referral_id
       LEFT JOIN rescue_case rc ON rc.id = r.case_id
       LEFT JOIN rescue_case oc ON oc.person_id = r.person_id AND oc.status = 'OPEN'`;

/**
 * Committed events after `afterSeq` and at most `upTo`, oldest first, at most
 * `limit`, in one statement; with `agencyId`, only those of referrals the
 * agency is party to. For a replay: `upTo` is the feed's position, below
 * which every seq is final (see readFeedPage); above it a seq may still
 * commit later, and the feed delivers it live.
 */
export async function readEvents(
  db: DataSource,
  afterSeq: number,
  limit: number,
  agencyId: string | null,
  upTo: number,
): Promise<FeedEvent[]> {
  const rows: EventRow[] = await db.query(
    `SELECT ${EVENT_COLUMNS}
       FROM referral_event e
       ${EVENT_JOINS}
      WHERE e.seq > $1 AND e.seq <= $4
        AND ($3::uuid IS NULL OR $3::uuid IN (r.requested_by_id, r.from_agency_id, r.to_agency_id, r.escort_agency_id))
      ORDER BY e.seq
      LIMIT $2`,
    [afterSeq, limit, agencyId, upTo],
  );
  return rows.map(toFeedEvent);
}

/** One read of the feed: the committed events after a seq, and what the same snapshot says about the gaps among them. */
export interface FeedPage {
  events: FeedEvent[];
  /** Whether every transaction older than the `threshold` passed in had ended when the page was read. */
  settled: boolean;
  /**
   * When asked for and the page has a gap: a transaction id assigned after the page's snapshot was taken,
   * so greater than the id of every transaction that could still fill a gap below the page's last seq.
   */
  threshold: string | null;
}

/**
 * The feed's read (event-feed.ts explains the gap rule). One statement, so
 * that the rows, `pg_current_snapshot()` and the new threshold all belong to
 * the statement's single snapshot: the threshold is assigned while the
 * statement runs, after its snapshot was taken. Only a page with a gap, and
 * only when the feed asks, costs a transaction id (its commit writes no WAL
 * but the commit record, which is not waited for).
 */
export async function readFeedPage(
  db: DataSource,
  afterSeq: number,
  limit: number,
  threshold: string | null,
  wantThreshold: boolean,
): Promise<FeedPage> {
  const rows: (Partial<EventRow> & { settled: boolean; threshold: string | null })[] = await db.query(
    `WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
          page AS MATERIALIZED (
            SELECT ${EVENT_COLUMNS}
              FROM referral_event e
              ${EVENT_JOINS}
             WHERE e.seq > $1
             ORDER BY e.seq
             LIMIT $2),
          meta AS MATERIALIZED (
            SELECT coalesce(pg_snapshot_xmin(snap.s) >= $3::xid8, false) AS settled,
                   (SELECT CASE WHEN $4 AND count(*) > 0 AND max(seq) - $1 <> count(*) THEN pg_current_xact_id()::text END FROM page) AS threshold
              FROM snap)
     SELECT meta.settled, meta.threshold, page.* FROM meta LEFT JOIN page ON true ORDER BY page.seq`,
    [afterSeq, limit, threshold, wantThreshold],
  );
  return {
    events: rows.filter((r) => r.seq != null).map((r) => toFeedEvent(r as EventRow)),
    settled: rows[0].settled,
    threshold: rows[0].threshold,
  };
}

function toFeedEvent(r: EventRow): FeedEvent {
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
}

/**
 * The newest committed seq, with a threshold assigned after the snapshot that
 * found it: once `settled(threshold)`, no transaction that could still commit
 * a smaller seq is left, and the feed may start there.
 */
export async function newestSeq(db: DataSource): Promise<{ seq: number; threshold: string }> {
  const [row]: { max: number | string; threshold: string }[] = await db.query(
    'SELECT coalesce(max(seq), 0) AS max, pg_current_xact_id()::text AS threshold FROM referral_event',
  );
  return { seq: Number(row.max), threshold: row.threshold };
}

/** Whether every transaction older than `threshold` has ended (none is older than the oldest one still running). */
export async function settled(db: DataSource, threshold: string): Promise<boolean> {
  const [row]: { settled: boolean }[] = await db.query('SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8 AS settled', [
    threshold,
  ]);
  return row.settled;
}
