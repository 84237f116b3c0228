/**
 * A data-modifying statement written as a CTE of another statement, so that the writes of one change cost one
 * round trip, not one each (issue 7: every statement is a loopback send and a wake-up of the server; `writev` was
 * up to 40% of the hub's CPU in the hand-off). Its parameters start at the `n` it is given. `name` is the name
 * its CTE gets; `before` are helper CTEs it needs, named from `name` (PostgreSQL allows data-modifying
 * statements only at the top level of WITH, so they cannot nest inside the builder's own).
 */
export type AlongsideCte = (n: number, name: string) => { sql: string; params: unknown[]; before?: string[] };

/** A builder run as a statement of its own: its helpers become the statement's WITH. */
export function standalone(build: AlongsideCte, name = 'change'): { sql: string; params: unknown[] } {
  const { sql, params, before } = build(1, name);
  return { sql: before?.length ? `WITH ${before.join(', ')} ${sql}` : sql, params };
}
