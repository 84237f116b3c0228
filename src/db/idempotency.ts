import { createHash, createHmac } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { badInput, conflict } from '../shared/errors';
import { checkStorableText, codePointLength } from '../shared/text';

/** Stable JSON (sorted keys) so that the same input always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export interface IdempotencyScope {
  agencyId: string;
  operation: string;
  key: string | null | undefined;
  /** The whole input minus the key: a retry must repeat it exactly. */
  input: unknown;
  field?: string;
  /**
   * Key for the request fingerprint (pass the hub's idNumberKey). Inputs can
   * hold an ID number, and the rest of an intake is in the database in plain
   * text: an unkeyed hash would let anyone with a dump confirm the number in
   * a few hundred thousand guesses (region, birth year known; day, sequence not).
   */
  secret?: Buffer;
}

/**
 * Runs `create` once per (agency, operation, key). A retry — even one racing
 * the first call — waits for the first to commit (transaction-level advisory
 * lock on the key) and gets its result; the same key with different input is
 * CONFLICT. Must run inside the transaction that `create` writes in, so the
 * key and what it created commit together or not at all.
 */
export async function idempotent<T>(
  tx: EntityManager,
  scope: IdempotencyScope,
  create: () => Promise<{ id: string; value: T }>,
  load: (id: string) => Promise<T>,
): Promise<T> {
  if (scope.key == null) return (await create()).value;
  const field = scope.field ?? 'input.idempotencyKey';
  const length = codePointLength(checkStorableText(field, scope.key));
  if (length < 1 || length > 100) throw badInput(field, 'idempotencyKey must be 1-100 characters.');
  const hash = (scope.secret ? createHmac('sha256', scope.secret).update('idempotency:') : createHash('sha256'))
    .update(canonical(scope.input))
    .digest();
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${scope.agencyId}/${scope.operation}/${scope.key}`]);
  const seen: { request_hash: Buffer; result_id: string }[] = await tx.query(
    `SELECT request_hash, result_id FROM idempotency_key WHERE agency_id = $1 AND operation = $2 AND key = $3`,
    [scope.agencyId, scope.operation, scope.key],
  );
  if (seen[0]) {
    if (!seen[0].request_hash.equals(hash)) {
      throw conflict('This idempotencyKey was already used with different input.', { field });
    }
    return load(seen[0].result_id);
  }
  const { id, value } = await create();
  await tx.query(`INSERT INTO idempotency_key (agency_id, operation, key, request_hash, result_id) VALUES ($1, $2, $3, $4, $5)`, [
    scope.agencyId,
    scope.operation,
    scope.key,
    hash,
    id,
  ]);
  return value;
}
