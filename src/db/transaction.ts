import type { DataSource, EntityManager } from 'typeorm';

/** PostgreSQL SQLSTATEs after which the whole transaction may simply be run again. */
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);

/**
 * Runs `work` in one READ COMMITTED transaction: everything it writes —
 * the change, its custody moves, its event and its audit entry — commits
 * together or not at all. Deadlocks are retried a few times; `work` must
 * therefore not have effects outside the database.
 */
export async function inTransaction<T>(db: DataSource, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction('READ COMMITTED', work);
    } catch (err) {
      const code = (err as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (err as { code?: string }).code;
      if (attempt < 4 && code && RETRYABLE.has(code)) continue;
      throw err;
    }
  }
}

/** SQLSTATE of a driver error, for mapping constraint violations to contract errors. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.driverError?.code ?? e?.code;
}

export function constraintName(err: unknown): string | undefined {
  const e = err as { constraint?: string; driverError?: { constraint?: string } };
  return e?.driverError?.constraint ?? e?.constraint;
}
