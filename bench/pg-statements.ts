import { Client } from 'pg';

/**
 * BENCH_PG_STATEMENTS=1: where PostgreSQL spends a workload's time, statement by statement (pg_stat_statements,
 * preloaded in the embedded server only with this option: it costs a little on every statement). Reset before a
 * run, read after it, and printed per unit of work (per hand-off cycle), so that the hub's statements can be set
 * beside the limit's. A tool for finding what to change, not a figure of the results.
 */
export const pgStatementsWanted = process.env.BENCH_PG_STATEMENTS === '1';

export async function resetPgStatements(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await c.query('SELECT pg_stat_statements_reset()');
  } finally {
    await c.end();
  }
}

export async function printPgStatements(url: string, label: string, units: number, log: (msg: string) => void): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ calls: string; exec_ms: number; plan_ms: number; rows: string; blks: string; query: string }>(
      `SELECT calls, total_exec_time AS exec_ms, total_plan_time AS plan_ms, rows, shared_blks_hit + shared_blks_read AS blks, query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time + total_plan_time DESC LIMIT 25`,
    );
    const total = rows.reduce((s, r) => s + r.exec_ms + r.plan_ms, 0);
    log(`${label}: PostgreSQL ${(total / units).toFixed(2)} ms of statement time per unit (${units} units), top statements:`);
    for (const r of rows) {
      log(
        `  ${(Number(r.calls) / units).toFixed(2)} calls ${((r.exec_ms + r.plan_ms) / units).toFixed(3)} ms ` +
          `${(Number(r.blks) / units).toFixed(1)} pages per unit | ${r.query.replace(/\s+/g, ' ').slice(0, 160)}`,
      );
    }
  } finally {
    await c.end();
  }
}
