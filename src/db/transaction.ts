import {
  EventSubscriber,
  type DataSource,
  type EntityManager,
  type EntitySubscriberInterface,
  type QueryRunner,
  type TransactionCommitEvent,
  type TransactionRollbackEvent,
} from 'typeorm';
import { PreparingClient, sendTogether } from './prepared-client';

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
      // READ COMMITTED by the connection's default_transaction_isolation (data-source.ts), not per transaction.
      return await db.transaction(work);
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

/**
 * The next statement `tx` runs is the last of its transaction: its COMMIT leaves in the same write and the
 * transaction's own COMMIT waits for that one's answer (prepared-client.ts), one round trip fewer per change
 * (issue 7). Only where nothing can follow it: the statement then answers only once the transaction has
 * committed, or with the error that rolled it back, so a caller that goes on after it has nothing left to do but
 * return; a statement sent after it is refused. Not inside a savepoint, whose COMMIT would end the outer
 * transaction, nor on a connection that is not the hub's own client (nothing changes there).
 */
export function commitWithNext(tx: EntityManager): void {
  const runner = tx.queryRunner as (QueryRunner & { databaseConnection?: unknown; transactionDepth?: number }) | undefined;
  if (!runner?.isTransactionActive) throw new Error('commitWithNext needs a transaction.');
  if (runner.transactionDepth !== 1) return;
  if (runner.databaseConnection instanceof PreparingClient) runner.databaseConnection.commitNext = true;
}

/**
 * The transaction's last statements, sent together with its COMMIT in one write (sendTogether): each one's rows,
 * in order. For a change whose statements do not depend on each other's answers in Node, e.g. a guarded hand-off
 * step (referral.guard.ts): its lock, then its guarded write. The same rules as commitWithNext: nothing may follow
 * them, and what a caller reads from the answers it can only return (or report as an error after the
 * transaction: the COMMIT has gone). Where commitWithNext would not commit ahead (a savepoint, another client),
 * the statements run one after the other and the transaction's own COMMIT follows as usual.
 */
export function lastStatements(tx: EntityManager, statements: { sql: string; params: unknown[] }[]): Promise<Record<string, unknown>[]>[] {
  const runner = tx.queryRunner as (QueryRunner & { databaseConnection?: unknown; transactionDepth?: number }) | undefined;
  if (!runner?.isTransactionActive) throw new Error('lastStatements needs a transaction.');
  let answers: Promise<Record<string, unknown>[]>[];
  if (runner.transactionDepth === 1 && runner.databaseConnection instanceof PreparingClient) {
    answers = sendTogether(runner.databaseConnection, statements).map((p) => p.then((r) => r.rows as Record<string, unknown>[]));
  } else {
    let before: Promise<unknown> = Promise.resolve();
    answers = statements.map((s) => {
      const answer = before.then(() => tx.query(s.sql, s.params) as Promise<Record<string, unknown>[]>);
      before = answer;
      return answer;
    });
  }
  // A caller awaits them in order and stops at the first failure: the ones behind it fail with it, unobserved.
  for (const answer of answers) answer.catch(() => undefined);
  return answers;
}

const commitHooks = new WeakMap<QueryRunner, (() => void)[]>();

/**
 * Runs `hook` once the transaction `tx` belongs to has committed, and never
 * if it rolls back (a retried inTransaction attempt runs on a new query
 * runner, so only the attempt that commits runs its hooks). For wake-ups
 * that must not be seen before the data is, and must not hold anything while
 * the commit waits for its WAL flush. A hook must not throw or block: it runs
 * synchronously before the transaction call returns.
 */
export function afterCommit(tx: EntityManager, hook: () => void): void {
  const runner = tx.queryRunner;
  if (!runner?.isTransactionActive) throw new Error('afterCommit needs a transaction.');
  const hooks = commitHooks.get(runner);
  if (hooks) hooks.push(hook);
  else commitHooks.set(runner, [hook]);
}

/** Runs the afterCommit hooks: registered with every hub DataSource (data-source.ts), so any transaction's hooks run, however it was started. */
@EventSubscriber()
export class CommitHooks implements EntitySubscriberInterface {
  afterTransactionCommit(event: TransactionCommitEvent): void {
    // Also called when a savepoint is released: only the outermost COMMIT counts.
    if (event.queryRunner.isTransactionActive) return;
    const hooks = commitHooks.get(event.queryRunner);
    commitHooks.delete(event.queryRunner);
    for (const hook of hooks ?? []) {
      try {
        hook();
      } catch (err) {
        // The transaction has committed: failing the caller now would make a client retry a change that happened.
        process.emitWarning(`afterCommit hook failed: ${(err as Error).message}`);
      }
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    // A savepoint's rollback keeps the hooks: a wake-up too many costs one read, not an event.
    if (!event.queryRunner.isTransactionActive) commitHooks.delete(event.queryRunner);
  }
}
