import { IsNull, type EntityManager } from 'typeorm';
import { standalone, type AlongsideCte } from '../db/cte';
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
 * One statement, or part of the caller's (a hand-off step writes it beside its change, its audit entry and its
 * event: referral.step.ts).
 */
export function custodyMove(personId: string, holderId: string, cause: CustodyCause, at: Date): AlongsideCte {
  return (n, name) => {
    const move = custodyMoveOf(`${name}_to`)(n, name);
    return {
      before: [
        `${name}_to AS (SELECT $${n}::uuid AS person_id, $${n + 1}::uuid AS holder_id, $${n + 2}::timestamptz AS at,
                               $${n + 3}::uuid AS referral_id, $${n + 4}::uuid AS case_id)`,
        ...move.before!,
      ],
      sql: move.sql,
      params: [personId, holderId, at, cause.referralId ?? null, cause.caseId ?? null],
    };
  };
}

/**
 * custodyMove for the moves that `source` names (a relation of the same statement with the columns person_id,
 * holder_id, at, referral_id and case_id; at most one row per person), e.g. the rows a guarded hand-off step has
 * just changed (referral.guard.ts), whose holder is known only once the statement has locked its referral. The
 * open span is locked first (`_open`), then closed (`_closed`), and the new span's row is built from
 * `count(*) FROM _closed`, so it cannot be inserted before the close has run (the partial unique index allows one
 * open span per person; the closed row, updated by this transaction, no longer counts).
 */
export function custodyMoveOf(source: string): AlongsideCte {
  return (_n, name) => ({
    before: [
      `${name}_open AS (SELECT k.id, k.holder_id FROM custody_record k JOIN ${source} s ON k.person_id = s.person_id
                         WHERE k.to_at IS NULL FOR UPDATE OF k)`,
      `${name}_closed AS (UPDATE custody_record c SET to_at = s.at FROM ${name}_open o, ${source} s
                           WHERE c.id = o.id AND o.holder_id <> s.holder_id RETURNING c.id)`,
    ],
    sql: `INSERT INTO custody_record (person_id, holder_id, from_at, referral_id, case_id)
          SELECT s.person_id, s.holder_id, s.at, s.referral_id, s.case_id FROM ${source} s, (SELECT count(*) FROM ${name}_closed) AS done
           WHERE NOT EXISTS (SELECT 1 FROM ${name}_open o WHERE o.holder_id = s.holder_id)`,
    params: [],
  });
}

/**
 * SQL: when the person's open custody span began (NULL when nobody holds them), for a change whose time must not
 * come before the custody it starts from (a guarded step or request takes its time before the lock's wait).
 */
export const openSpanStart = (person: string) =>
  `(SELECT k.from_at FROM custody_record k WHERE k.person_id = ${person} AND k.to_at IS NULL)`;

/** custodyMove as a statement of its own. */
export async function moveCustody(
  tx: EntityManager,
  personId: string,
  holderId: string,
  cause: CustodyCause,
  at = new Date(),
): Promise<void> {
  const { sql, params } = standalone(custodyMove(personId, holderId, cause, at), 'custody');
  await tx.query(sql, params);
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
