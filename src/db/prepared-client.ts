import { createHash } from 'node:crypto';
import { Client, type ClientConfig, type QueryResult } from 'pg';

/**
 * Each connection prepares at most this many statements; past it, queries
 * run unprepared as before. The hub's code has well under a hundred distinct
 * parameterised statements; the cap bounds the server's memory (a prepared
 * statement keeps its plan per connection) should a caller ever build texts
 * that vary with their input (e.g. an IN list of variable length).
 */
export const MAX_PREPARED_PER_CONNECTION = 200;

/**
 * Put first in a statement whose best plan depends on its parameters' values, so that PostgreSQL plans it at
 * each call instead of once per connection (the hub's connections use generic plans for prepared statements,
 * data-source.ts): e.g. optional filters written `($1 IS NULL OR ...)`, which the planner folds away only when it
 * sees the value, so that a search by ID number stays an index lookup instead of a scan of every person.
 */
export const PLAN_EACH_CALL = '/* plan each call */ ';

const names = new Map<string, string>();

/** A stable name for a statement text: the same on every connection and in every process. */
function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = 'hub_' + createHash('sha1').update(text).digest('hex').slice(0, 24);
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

/**
 * A pg Client that runs every parameterised statement as a named prepared
 * statement, the way postgres.js does by default: PostgreSQL parses and plans
 * the text once per connection and afterwards only binds and executes it.
 * Measured on the bench (issue 7): planning was a third of PostgreSQL's time
 * for the hub's short statements (the need-to-know check: 2.2 ms planning for
 * 1.6 ms executing; the token lookup 0.24 ms for 0.08 ms).
 *
 * Only statements with parameters: a text without them may hold several
 * statements (migrations), which PostgreSQL cannot prepare. pg itself keeps
 * which names each connection has parsed (and parses again on a new one), so
 * this changes nothing in what runs, only how often it is planned. Plans stay
 * correct when the schema changes: PostgreSQL re-plans a prepared statement
 * whose tables were altered.
 */
export class PreparingClient extends Client {
  /** Names this connection has been asked to prepare (pg itself tracks which it has parsed). */
  readonly preparedHere = new Set<string>();
  /** A START TRANSACTION written into the corked socket, waiting to leave with the next statement (beginWithNext). */
  pendingBegin: { sent: Promise<unknown>; timer: NodeJS.Immediate; corked: boolean } | null = null;
  /** Set by commitWithNext (transaction.ts): the next statement is the transaction's last, and its COMMIT leaves with it. */
  commitNext = false;
  /** The COMMIT sent behind that statement, which the transaction's own COMMIT then waits on instead of sending one. */
  committedAhead: Promise<QueryResult> | null = null;

  constructor(config?: string | ClientConfig) {
    // Pipeline mode: pg sends a query without waiting for the answer to the one before (each keeps its own Sync,
    // so an error still belongs to its own query). Callers here never have two queries in flight on a connection,
    // except the START TRANSACTION that beginWithNext sends ahead.
    super(typeof config === 'string' ? { connectionString: config, pipeline: true } : { ...config, pipeline: true });
    // A connection error that arrives while no statement is in flight (the server shutting down between two
    // statements of a transaction, or after its last answer and before the release) is emitted as an 'error'
    // event, and pg-pool listens only while the client is idle in the pool: checked out, an unheard 'error' ends
    // the process. The error has already failed every statement in flight; the client is no longer queryable, so
    // its next statement fails as the database being unavailable (unavailable.ts), and the pool drops it when it
    // is released.
    this.on('error', () => undefined);
  }
}

/** The connection's socket (pg keeps it on its internal Connection). */
function socketOf(client: PreparingClient): { cork(): void; uncork(): void } {
  return (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
}

/** What TypeORM reads from the answer to START TRANSACTION (nothing but that it came). */
const BEGUN = { command: 'BEGIN', rowCount: null, rows: [], fields: [], oid: 0 } as unknown as QueryResult;

/**
 * TypeORM opens every transaction with a START TRANSACTION of its own and waits for the answer before the first
 * statement: a round trip, and a wake-up of the server, that carries nothing (4 of a hand-off cycle's 22, issue 7).
 * Instead the START TRANSACTION is written into the corked socket and answered at once; the next statement on the
 * connection is written behind it and both leave in one write (release), the server runs them in order, and the
 * statement's answer comes after the BEGIN's. Should nothing follow within this turn of the event loop, the
 * START TRANSACTION leaves alone.
 *
 * What a failed BEGIN would mean: PostgreSQL refuses a BEGIN only when the connection is going away (a
 * transaction already open is a warning), and then the statement behind it fails too; the statement's promise
 * carries the BEGIN's error either way, so a transaction never goes on as if it had begun (TypeORM, the only
 * caller that starts transactions, always takes promises; a statement given a callback is not held back).
 */
function beginWithNext(client: PreparingClient): Promise<QueryResult> {
  socketOf(client).cork();
  const sent = Promise.resolve(pgQuery(client, 'START TRANSACTION') as Promise<QueryResult>);
  sent.catch(() => undefined); // reported to the statement behind it (release)
  const pending = { sent, corked: true, timer: setImmediate(() => uncork(client, pending)) };
  client.pendingBegin = pending;
  return Promise.resolve(BEGUN);
}

function uncork(client: PreparingClient, pending: NonNullable<PreparingClient['pendingBegin']>): void {
  if (!pending.corked) return;
  pending.corked = false;
  clearImmediate(pending.timer);
  socketOf(client).uncork();
}

/** Sends what beginWithNext corked (if the timer has not); returns the BEGIN's answer, for the statement behind it to wait on. */
function release(client: PreparingClient): Promise<unknown> | null {
  const pending = client.pendingBegin;
  if (!pending) return null;
  client.pendingBegin = null;
  uncork(client, pending);
  return pending.sent;
}

/** The statement's answer, or the START TRANSACTION's error when that failed. */
function behindBegin(begin: Promise<unknown> | null, result: unknown): unknown {
  if (!begin || !(result instanceof Promise)) return result;
  return Promise.all([begin, result]).then(([, answer]) => answer as unknown);
}

type UntypedQuery = (this: Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

/** pg's own query, looked up at each call (a statement counter may wrap it later); untyped: the overloads cannot be re-dispatched by type. */
function pgQuery(client: Client, config: unknown, values?: unknown, callback?: unknown): unknown {
  return (Client.prototype.query as UntypedQuery).call(client, config, values, callback);
}

const ENDS = new Set(['COMMIT', 'ROLLBACK']);

/**
 * What the transaction's own COMMIT or ROLLBACK gets once its COMMIT has left behind its last statement. The
 * COMMIT: the answer of the one sent. A ROLLBACK: the last statement failed (the server turned the COMMIT behind
 * it into a ROLLBACK, and a second one is only a warning), or code after it threw although nothing may run there,
 * which is said loudly: the change has committed.
 */
function afterCommitAhead(client: PreparingClient, config: unknown): Promise<QueryResult> | null {
  const ahead = client.committedAhead;
  if (!ahead) return null;
  client.committedAhead = null;
  client.commitNext = false;
  if (config === 'COMMIT') return ahead;
  if (config === 'ROLLBACK') {
    ahead.then(
      (r) => {
        if (r.command === 'COMMIT')
          process.emitWarning('A transaction committed with its last statement, then failed after it (commitWithNext).');
      },
      () => undefined,
    );
    return null;
  }
  throw new Error('A statement after its transaction has committed (commitWithNext): the last statement must be the last.');
}

/**
 * The statement, and the COMMIT right behind it, in one write: the round trip of the COMMIT, and a wake-up of the
 * server, saved (issue 7). When the statement fails, the server answers the COMMIT behind it with ROLLBACK (a
 * transaction in error ends in a rollback however it is ended), so nothing commits that the caller did not see
 * succeed; when the COMMIT fails, the statement's promise carries its error, as the COMMIT's would have.
 */
function sendWithCommit(client: PreparingClient, send: () => unknown): unknown {
  client.commitNext = false;
  const socket = socketOf(client);
  socket.cork();
  let result: unknown;
  let commit: Promise<QueryResult>;
  try {
    result = send();
  } finally {
    commit = Promise.resolve(pgQuery(client, 'COMMIT') as Promise<QueryResult>);
    socket.uncork();
  }
  commit.catch(() => undefined); // reported to the statement's caller below
  client.committedAhead = commit;
  return Promise.all([result, commit]).then(([answer]) => answer as unknown);
}

// Assigned to the prototype rather than declared as a method, so that the class keeps pg's typed overloads of query.
PreparingClient.prototype.query = function (this: PreparingClient, config: unknown, values?: unknown, callback?: unknown) {
  if (config === 'START TRANSACTION' && values === undefined && callback === undefined && !this.pendingBegin) return beginWithNext(this);
  if (this.committedAhead) {
    const answer = afterCommitAhead(this, config);
    if (answer) return answer;
  }
  if (this.commitNext && typeof config === 'string' && !ENDS.has(config) && callback === undefined) {
    return sendWithCommit(this, () => this.query(config, values as unknown[]));
  }
  if (ENDS.has(config as string)) this.commitNext = false;
  let result: unknown;
  try {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && !config.startsWith(PLAN_EACH_CALL)) {
      const name = nameOf(config);
      if (this.preparedHere.has(name) || this.preparedHere.size < MAX_PREPARED_PER_CONNECTION) {
        this.preparedHere.add(name);
        result = pgQuery(this, { name, text: config, values }, callback);
      }
    }
    if (result === undefined) result = pgQuery(this, config, values, callback);
  } finally {
    // In pipeline mode pg has written the statement by now (into the corked socket, behind the BEGIN).
    result = behindBegin(release(this), result);
  }
  return result;
} as Client['query'];

/**
 * `statements` written into the socket in turn, the last with the transaction's COMMIT behind it, and all of it
 * sent in one write (with the START TRANSACTION still waiting from beginWithNext, if any): one round trip, and one
 * wake-up of the server, for a whole transaction (issue 7). The server runs them in order, each with a snapshot of
 * its own taken when it starts (READ COMMITTED), so a statement sees what the ones before it locked and wrote. Each
 * answers in turn; once one fails, the ones after it fail too (the transaction is aborted) and the COMMIT is
 * answered as a ROLLBACK.
 */
export function sendTogether(client: PreparingClient, statements: { sql: string; params: unknown[] }[]): Promise<QueryResult>[] {
  const socket = socketOf(client);
  socket.cork();
  try {
    return statements.map((s, i) => {
      if (i === statements.length - 1) client.commitNext = true;
      return client.query(s.sql, s.params) as unknown as Promise<QueryResult>;
    });
  } finally {
    socket.uncork();
  }
}
