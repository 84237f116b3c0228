/**
 * Whether an error means "the database cannot be reached right now" (stopped, restarting, unreachable,
 * every pooled connection busy past the connect timeout) rather than a bug: such a request is answered
 * SERVICE_UNAVAILABLE with HTTP 503, which clients retry, instead of a masked INTERNAL_SERVER_ERROR.
 */

/** Socket errors of the driver's connection. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs: class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect
 * now: starting up or recovering), 53300 (too many connections).
 */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;

/** node-postgres and pg-pool say it in words only. */
const MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended)/;

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; syscall?: unknown };
  if (typeof e.code === 'string' && (SOCKET_CODES.has(e.code) || SQLSTATE.test(e.code))) return true;
  // A Unix socket's file exists only while its server runs (the embedded server's, src/db/embedded.ts): connecting
  // to a stopped one is ENOENT. Only from connect(): a missing file anywhere else is a bug, not an outage.
  if (e.code === 'ENOENT' && e.syscall === 'connect') return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  // TypeORM releases a transaction's query runner as soon as its connection reports an error (e.g. the server
  // terminated it on shutdown); the transaction's next statement then fails with one of these.
  const name = (err as { name?: unknown }).name;
  if (name === 'QueryRunnerAlreadyReleasedError' || name === 'QueryRunnerProviderAlreadyReleasedError') return true;
  // Several addresses refused at once (AggregateError).
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  // TypeORM's QueryFailedError, an Error's cause, graphql-js's wrapping (and, for a value that is not an Error
  // of this realm, e.g. under jest, its NonErrorThrown).
  const wrapped = err as { driverError?: unknown; cause?: unknown; originalError?: unknown; thrownValue?: unknown };
  return [wrapped.driverError, wrapped.cause, wrapped.originalError, wrapped.thrownValue].some((inner) =>
    isDatabaseUnavailable(inner, depth + 1),
  );
}

/** What a client is told when the database cannot be reached (code SERVICE_UNAVAILABLE, HTTP 503). */
export const DATABASE_UNAVAILABLE_MESSAGE = 'The hub cannot reach its database; try again shortly.';
