import type { DataSource } from 'typeorm';
import { appendReferralEvents } from '../events/outbox';
import { inTransaction } from '../db/transaction';
import type { Logger } from '../shared/logger';
import { TRANSITIONS } from './referral.machine';

const EXPIRE = TRANSITIONS.find((t) => t.action === 'expire')!;

/**
 * Marks unanswered referrals EXPIRED (the table's `expire` row), with an
 * actor-less event. Several hub processes may sweep at once: FOR UPDATE SKIP
 * LOCKED plus the status condition means each referral expires exactly once.
 * Custody is unchanged. Returns how many expired.
 */
export async function sweepExpired(db: DataSource, batch = 200): Promise<number> {
  return inTransaction(db, async (tx) => {
    // Wrapped in a SELECT: TypeORM returns [rows, rowCount] for a bare UPDATE ... RETURNING, not the rows.
    const rows: { id: string; person_id: string }[] = await tx.query(
      `WITH expired AS (
         UPDATE referral SET status = $1, version = version + 1, updated_at = now()
          WHERE id IN (SELECT id FROM referral
                        WHERE status = ANY($2::referral_status[]) AND respond_by < now()
                        ORDER BY respond_by LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING id, person_id)
       SELECT id, person_id FROM expired`,
      [EXPIRE.to, EXPIRE.from, batch],
    );
    if (rows.length === 0) return 0;
    await tx.query(
      `INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id) SELECT NULL, NULL, 'referral.expire', 'Person', unnest($1::uuid[])`,
      [rows.map((r) => r.person_id)],
    );
    await appendReferralEvents(
      tx,
      rows.map((r) => ({ referralId: r.id, type: EXPIRE.event, status: EXPIRE.to, actorAccountId: null, actorAgencyId: null })),
    );
    return rows.length;
  });
}

/** The background sweep; stops with the hub. */
export function startExpirySweep(db: DataSource, everyMs: number, logger: Logger): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpired(db)
      .then((n) => n > 0 && logger.info({ expired: n }, 'referrals expired'))
      .catch((err: Error) => logger.warn({ err: { message: err.message } }, 'expiry sweep failed; will retry'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
