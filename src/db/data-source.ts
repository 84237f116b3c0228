import path from 'node:path';
import { DataSource, type MixedList, type EntitySchema } from 'typeorm';
import { PreparingClient } from './prepared-client';
import { hubTypes } from './timestamps';
import { CommitHooks } from './transaction';

export interface DataSourceOptions {
  url: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  poolSize?: number;
  /** Shown in pg_stat_activity: which process holds a connection. */
  applicationName?: string;
}

/** Compiled (dist/) or ts-jest / ts-node (src/): migrations sit beside either. */
const MIGRATIONS = path.join(__dirname, '..', '..', 'migrations', '*.{ts,js}');

/**
 * The hub's one way to reach PostgreSQL. Schema changes only through the
 * migrations in migrations/ (never `synchronize`), so what runs in
 * production is what was reviewed.
 */
export function createDataSource(opts: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    entities: opts.entities,
    migrations: [MIGRATIONS],
    migrationsTableName: 'hub_migrations',
    // afterCommit (transaction.ts): wake-ups sent once a transaction has committed.
    subscribers: [CommitHooks],
    // One transaction per migration: a failing one leaves the others applied and itself not at all.
    migrationsTransactionMode: 'each',
    synchronize: false,
    // installExtensions would need superuser; the first migration creates what it needs.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    // Counted ids (audit, events) are bigint; JS numbers are exact up to 2^53.
    parseInt8: true,
    poolSize: opts.poolSize ?? 10,
    extra: {
      // Every parameterised statement prepared once per connection (prepared-client.ts).
      Client: PreparingClient,
      // timestamptz read at fixed positions (timestamps.ts), which the UTC session below makes the usual case.
      types: hubTypes,
      application_name: opts.applicationName ?? 'rescue-referral-hub',
      // Fail fast when the database is away instead of queueing requests forever.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      // Every transaction is READ COMMITTED (inTransaction relies on it) whatever the server's default, set once per
      // connection: naming the level per transaction costs a round trip of its own (SET TRANSACTION after START).
      // UTC: timestamps arrive as ...+00, the form timestamps.ts reads fastest (no SQL of the hub depends on the zone).
      // Generic plans for the prepared statements: every statement of the hub looks rows up by key, and with the
      // default (auto) PostgreSQL re-planned the need-to-know check at every call for one person (a custom plan
      // looks cheaper for a one-element array): 1 ms of planning for 0.14 ms of work (pg_stat_statements).
      // No Memoize: a generic plan estimates `seq > $1` as a third of the table, and a Memoize node sizes its hash
      // table from that estimate, up to work_mem, and clears it at every execution: the event feed's read (a few
      // rows) took 3.6-4.6 ms instead of 0.19, 4.8 ms of PostgreSQL per hand-off cycle, more than all its writes
      // together (pg_stat_statements; issue 7). Every join of the hub looks up a bounded page by key, where a
      // plain index lookup is what Memoize would save; the dashboard got 15% faster and the station report too.
      options:
        '-c default_transaction_isolation=read\\ committed -c timezone=UTC -c plan_cache_mode=force_generic_plan -c enable_memoize=off',
    },
    logging: false,
  });
}
