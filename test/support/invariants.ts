import type { Client, Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * What must hold in the database after any torture, whatever the clients did
 * and however the hub died: the custody ledger, cases, referrals and their
 * events, case numbers and the append-only audit log. `checkInvariants`
 * returns every violation it finds (empty: all is well), so that a failing
 * `expect(violations).toEqual([])` prints them all.
 */

/** A hub's TypeORM DataSource, or a plain pg Client / Pool (a test that killed the hub has no DataSource of its own). */
export type Db = Pick<DataSource, 'query'> | Pick<Client, 'query'> | Pick<Pool, 'query'>;

async function rows<T>(db: Db, text: string, params: unknown[] = []): Promise<T[]> {
  const result: unknown = await (db as { query(text: string, params: unknown[]): Promise<unknown> }).query(text, params);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** The audit log as it stood: how many rows, and a hash of all of them in id order. Take it while nothing writes. */
export interface AuditSnapshot {
  count: number;
  hash: string;
}

/** md5 of the first `limit` rows (by id), each as its JSON text. */
async function auditHash(db: Db, limit: number | null): Promise<AuditSnapshot> {
  const [r] = await rows<{ count: string | number; hash: string | null }>(
    db,
    `SELECT count(*) AS count, md5(coalesce(string_agg(row_to_json(a)::text, E'\\n' ORDER BY a.id), '')) AS hash
       FROM (SELECT * FROM audit_log ORDER BY id LIMIT $1) a`,
    [limit],
  );
  return { count: Number(r.count), hash: r.hash ?? '' };
}

/**
 * Before a torture: the audit log to compare with afterwards. Take it while
 * no transaction is in flight (identity values are handed out before commit,
 * so a late commit could otherwise land among the first N rows).
 */
export function auditSnapshot(db: Db): Promise<AuditSnapshot> {
  return auditHash(db, null);
}

export interface InvariantOptions {
  /** From auditSnapshot() before the torture: the log may only have grown at its end. */
  audit?: AuditSnapshot;
  /** Check that each referral's version equals its number of events (true unless a test writes events without steps). */
  versions?: boolean;
}

/** One broken rule, with the rows that break it (at most 10 listed). */
export interface Violation {
  rule: string;
  count: number;
  examples: unknown[];
}

interface Rule {
  rule: string;
  sql: string;
  params?: unknown[];
}

const RULES: Rule[] = [
  {
    rule: 'a person has at most one open custody record (custody_one_open_per_person)',
    sql: `SELECT person_id, count(*)::int AS open_records
            FROM custody_record WHERE to_at IS NULL GROUP BY person_id HAVING count(*) > 1`,
  },
  {
    rule: 'a custody record ends no earlier than it starts',
    sql: `SELECT id, person_id, from_at, to_at FROM custody_record WHERE to_at < from_at`,
  },
  {
    rule: 'an OPEN case has a custodian (an open custody record of its person)',
    sql: `SELECT c.id, c.case_number, c.person_id
            FROM rescue_case c
           WHERE c.status = 'OPEN'
             AND NOT EXISTS (SELECT 1 FROM custody_record k WHERE k.person_id = c.person_id AND k.to_at IS NULL)`,
  },
  {
    rule: 'a person has at most one OPEN case',
    sql: `SELECT person_id, count(*)::int AS open_cases FROM rescue_case WHERE status = 'OPEN' GROUP BY person_id HAVING count(*) > 1`,
  },
  {
    rule: 'a case is CLOSED exactly when it has an outcome and a closing time',
    sql: `SELECT id, case_number, status, outcome, closed_at FROM rescue_case
           WHERE (status = 'OPEN') <> (outcome IS NULL) OR (status = 'OPEN') <> (closed_at IS NULL)`,
  },
  {
    rule: 'case numbers are unique per station',
    sql: `SELECT station_id, case_number, count(*)::int AS cases FROM rescue_case GROUP BY station_id, case_number HAVING count(*) > 1`,
  },
  {
    rule: 'a person has at most one open referral (REQUESTED, ACCEPTED, IN_TRANSIT)',
    sql: `SELECT person_id, count(*)::int AS open_referrals FROM referral
           WHERE status IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT') GROUP BY person_id HAVING count(*) > 1`,
  },
  {
    rule: "a referral's status is the status of its last event (by seq)",
    sql: `SELECT r.id, r.status, last.status AS last_event_status, last.seq AS last_event_seq
            FROM referral r
            LEFT JOIN LATERAL (SELECT e.status, e.seq FROM referral_event e WHERE e.referral_id = r.id ORDER BY e.seq DESC LIMIT 1) last ON true
           WHERE last.status IS DISTINCT FROM r.status`,
  },
  {
    rule: 'a person IN_TRANSIT is held by the escort agency',
    sql: `SELECT r.id, r.person_id, r.escort_agency_id, k.holder_id
            FROM referral r
            LEFT JOIN custody_record k ON k.person_id = r.person_id AND k.to_at IS NULL
           WHERE r.status = 'IN_TRANSIT' AND k.holder_id IS DISTINCT FROM r.escort_agency_id`,
  },
  {
    // The request is made by the custodian (or the station of the open case, when nobody or another holds
    // the person); its sender is whoever held the person then, and nobody else: a cancel returns the person there.
    rule: 'a referral was sent by the agency that held the person when it was made (or by its requester when nobody did)',
    sql: `SELECT r.id, r.kind, r.created_at, r.from_agency_id, r.requested_by_id,
                 (SELECT k.holder_id FROM custody_record k
                   WHERE k.person_id = r.person_id AND k.from_at <= r.created_at AND (k.to_at IS NULL OR k.to_at > r.created_at)
                   ORDER BY k.from_at DESC LIMIT 1) AS holder_then
            FROM referral r
           WHERE r.from_agency_id IS DISTINCT FROM coalesce(
                   (SELECT k.holder_id FROM custody_record k
                     WHERE k.person_id = r.person_id AND k.from_at <= r.created_at AND (k.to_at IS NULL OR k.to_at > r.created_at)
                     ORDER BY k.from_at DESC LIMIT 1),
                   r.requested_by_id)`,
  },
  {
    rule: 'every event belongs to an existing referral',
    sql: `SELECT e.seq, e.referral_id FROM referral_event e WHERE NOT EXISTS (SELECT 1 FROM referral r WHERE r.id = e.referral_id)`,
  },
];

const VERSION_RULE: Rule = {
  rule: "a referral's version is its number of events (one per step)",
  sql: `SELECT r.id, r.status, r.version, count(e.seq)::int AS events
          FROM referral r LEFT JOIN referral_event e ON e.referral_id = r.id
         GROUP BY r.id HAVING r.version <> count(e.seq)`,
};

/** Every violated invariant, with examples; `[]` when the database is consistent. */
export async function checkInvariants(db: Db, opts: InvariantOptions = {}): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const { rule, sql, params } of opts.versions === false ? RULES : [...RULES, VERSION_RULE]) {
    const found = await rows<unknown>(db, sql, params);
    if (found.length > 0) violations.push({ rule, count: found.length, examples: found.slice(0, 10) });
  }
  if (opts.audit) {
    const before = opts.audit;
    const now = await auditHash(db, before.count);
    const [{ total }] = await rows<{ total: number }>(db, 'SELECT count(*)::int AS total FROM audit_log');
    if (total < before.count) {
      violations.push({ rule: 'the audit log only grows', count: before.count - total, examples: [{ before: before.count, now: total }] });
    } else if (now.hash !== before.hash) {
      violations.push({
        rule: 'the audit log is unchanged except for appends (its first rows hash as before)',
        count: 1,
        examples: [{ rows: before.count, hashBefore: before.hash, hashNow: now.hash }],
      });
    }
  }
  return violations;
}
