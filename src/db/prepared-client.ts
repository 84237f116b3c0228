import { createHash } from 'node:crypto';
import { Client } from 'pg';

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
}

type UntypedQuery = (this: Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

/** pg's own query, looked up at each call (a statement counter may wrap it later); untyped: the overloads cannot be re-dispatched by type. */
function pgQuery(client: Client, config: unknown, values?: unknown, callback?: unknown): unknown {
  return (Client.prototype.query as UntypedQuery).call(client, config, values, callback);
}

// Assigned to the prototype rather than declared as a method, so that the class keeps pg's typed overloads of query.
PreparingClient.prototype.query = function (this: PreparingClient, config: unknown, values?: unknown, callback?: unknown) {
  if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && !config.startsWith(PLAN_EACH_CALL)) {
    const name = nameOf(config);
    if (this.preparedHere.has(name) || this.preparedHere.size < MAX_PREPARED_PER_CONNECTION) {
      this.preparedHere.add(name);
      return pgQuery(this, { name, text: config, values }, callback);
    }
  }
  return pgQuery(this, config, values, callback);
} as Client['query'];
