import { IsNull, type EntityManager } from 'typeorm';
import { CustodyRecord } from './custody-record.entity';

/**
 * The custody ledger's only writers. Each takes the transaction of the
 * change that causes it (intake, hand-off, closing), so custody never moves
 * without its cause and never half-moves. The partial unique index
 * custody_one_open_per_person turns any bug here into a failed transaction
 * instead of two responsible agencies.
 */
export interface CustodyCause {
  referralId?: string | null;
  caseId?: string | null;
}

export async function currentCustody(tx: EntityManager, personId: string): Promise<CustodyRecord | null> {
  return tx.getRepository(CustodyRecord).findOneBy({ personId, toAt: IsNull() });
}

/**
 * Closes the open span (if any) and opens one for `holderId`; a no-op when the holder already has the person.
 * One statement: the open span is locked first (`open`), then closed (`closed`), and the new span's row is
 * built from `count(*) FROM closed`, so it cannot be inserted before the close has run (the partial unique
 * index allows one open span per person; the closed row, updated by this transaction, no longer counts).
 */
export async function moveCustody(
  tx: EntityManager,
  personId: string,
  holderId: string,
  cause: CustodyCause,
  at = new Date(),
): Promise<void> {
  await tx.query(
    `WITH open AS (SELECT id, holder_id FROM custody_record WHERE person_id = $1 AND to_at IS NULL FOR UPDATE),
          closed AS (UPDATE custody_record c SET to_at = $3 FROM open WHERE c.id = open.id AND open.holder_id <> $2 RETURNING c.id)
     INSERT INTO custody_record (person_id, holder_id, from_at, referral_id, case_id)
     SELECT $1::uuid, $2::uuid, $3::timestamptz, $4::uuid, $5::uuid FROM (SELECT count(*) FROM closed) AS done
      WHERE NOT EXISTS (SELECT 1 FROM open WHERE open.holder_id = $2)`,
    [personId, holderId, at, cause.referralId ?? null, cause.caseId ?? null],
  );
}

/** Only when nobody holds the person yet (e.g. a walk-in at the station); returns whether it took custody. */
export async function takeCustodyIfFree(tx: EntityManager, personId: string, holderId: string, cause: CustodyCause): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO custody_record (person_id, holder_id, from_at, referral_id, case_id)
     VALUES ($1, $2, now(), $3, $4)
     ON CONFLICT (person_id) WHERE to_at IS NULL DO NOTHING
     RETURNING id`,
    [personId, holderId, cause.referralId ?? null, cause.caseId ?? null],
  );
  return rows.length > 0;
}

/** The person has gone home or away: nobody is responsible any more. */
export async function releaseCustody(tx: EntityManager, personId: string, at = new Date()): Promise<void> {
  await tx.query(`UPDATE custody_record SET to_at = $2 WHERE person_id = $1 AND to_at IS NULL`, [personId, at]);
}
