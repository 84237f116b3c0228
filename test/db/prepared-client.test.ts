import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source';
import { commitWithNext, lastStatements } from '../../src/db/transaction';
import { MAX_PREPARED_PER_CONNECTION, PLAN_EACH_CALL, PreparingClient } from '../../src/db/prepared-client';
import { createTestDatabase, type TestDatabase } from '../support/database';

jest.setTimeout(60_000);

let db: TestDatabase;
let client: PreparingClient;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.stop();
});
beforeEach(async () => {
  client = new PreparingClient({ connectionString: db.url });
  await client.connect();
});
afterEach(async () => {
  await client.end();
});

/** What this connection has prepared, as PostgreSQL itself lists it. */
async function preparedTexts(): Promise<string[]> {
  const { rows } = await client.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY prepare_time');
  return rows.map((r) => r.statement);
}

describe('every parameterised statement is prepared once per connection (issue 7: planning was a third of the time)', () => {
  it('prepares a statement with parameters on first use and reuses it, with the same answers', async () => {
    const text = 'SELECT $1::int + 1 AS n';
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await client.query<{ n: number }>(text, [i])).rows[0].n);
    expect(answers).toEqual([1, 2, 3]);
    expect(await preparedTexts()).toEqual([text]);
  });

  it('leaves statements without parameters unprepared: such a text may hold several statements', async () => {
    await client.query('SELECT 1; SELECT 2');
    await client.query('SELECT 3', []);
    expect(await preparedTexts()).toEqual([]);
  });

  it('leaves a statement marked PLAN_EACH_CALL unprepared, so that it is planned with its values', async () => {
    expect((await client.query<{ n: number }>(`${PLAN_EACH_CALL}SELECT $1::int AS n`, [5])).rows[0].n).toBe(5);
    expect(await preparedTexts()).toEqual([]);
  });

  it('reports a statement that fails to prepare as before, and prepares it again once it can', async () => {
    await client.query('BEGIN');
    await expect(client.query('SELECT * FROM not_yet_there WHERE id = $1', [1])).rejects.toMatchObject({ code: '42P01' });
    await client.query('ROLLBACK');
    await client.query('CREATE TEMP TABLE not_yet_there (id int)');
    expect((await client.query('SELECT * FROM not_yet_there WHERE id = $1', [1])).rows).toEqual([]);
    expect(await preparedTexts()).toEqual(['SELECT * FROM not_yet_there WHERE id = $1']);
  });

  it(`prepares at most ${MAX_PREPARED_PER_CONNECTION} texts per connection and runs the others unprepared`, async () => {
    for (let i = 0; i < MAX_PREPARED_PER_CONNECTION + 5; i++) {
      expect((await client.query<{ n: number }>(`SELECT $1::int AS n, ${i} AS i`, [i])).rows[0].n).toBe(i);
    }
    expect(await preparedTexts()).toHaveLength(MAX_PREPARED_PER_CONNECTION);
    // A text prepared before the cap was reached is still used prepared.
    expect((await client.query<{ n: number }>('SELECT $1::int AS n, 0 AS i', [7])).rows[0].n).toBe(7);
    expect(await preparedTexts()).toHaveLength(MAX_PREPARED_PER_CONNECTION);
  });
});

/** The socket writes of `client`'s connection while `work` runs: how many, and how many messages each carried. */
async function writesDuring(c: PreparingClient, work: () => Promise<unknown>): Promise<number[]> {
  const stream = (c as unknown as { connection: { stream: Record<string, unknown> } }).connection.stream;
  const write = stream._write as (...args: unknown[]) => unknown;
  const writev = stream._writev as (chunks: unknown[], ...rest: unknown[]) => unknown;
  const writes: number[] = [];
  stream._write = function (this: unknown, ...args: unknown[]) {
    writes.push(1);
    return write.apply(this, args);
  };
  stream._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
    writes.push(chunks.length);
    return writev.call(this, chunks, ...rest);
  };
  try {
    await work();
  } finally {
    stream._write = write;
    stream._writev = writev;
  }
  return writes;
}

describe('START TRANSACTION leaves with the first statement of the transaction (issue 7: one round trip fewer per change)', () => {
  it('writes the BEGIN and the statement behind it in one write, and the statement runs inside the transaction', async () => {
    const writes = await writesDuring(client, async () => {
      await client.query('START TRANSACTION');
      const { rows } = await client.query<{ inside: boolean }>('SELECT now() <> statement_timestamp() OR $1::bool AS inside', [false]);
      expect(rows).toEqual([{ inside: true }]);
      expect(client.getTransactionStatus()).toBe('T');
    });
    // START TRANSACTION (1 message) and Parse, Bind, Describe, Execute, Sync in a single write.
    expect(writes).toEqual([6]);
    await client.query('ROLLBACK');
    expect(client.getTransactionStatus()).toBe('I');
  });

  it('keeps a transaction whole: a statement that fails behind the BEGIN fails the transaction, and ROLLBACK undoes what came before', async () => {
    await client.query('CREATE TEMP TABLE t (n int PRIMARY KEY)');
    await client.query('START TRANSACTION');
    await client.query('INSERT INTO t VALUES ($1::int)', [1]);
    await expect(client.query('INSERT INTO t VALUES ($1::int)', [1])).rejects.toMatchObject({ code: '23505' });
    await expect(client.query('SELECT $1::int', [1])).rejects.toMatchObject({ code: '25P02' }); // in failed transaction
    await client.query('ROLLBACK');
    expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
  });

  it('sends a BEGIN that nothing follows by itself, within the same turn of the event loop', async () => {
    await client.query('START TRANSACTION');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The server has it: the transaction is open before any statement was written behind it.
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = pg_backend_pid() AND xact_start IS NOT NULL',
    );
    expect(rows).toEqual([{ n: 1 }]);
    await client.query('COMMIT');
  });

  it('answers START TRANSACTION at once, an empty transaction commits, and the next one begins again', async () => {
    for (let i = 0; i < 3; i++) {
      await client.query('START TRANSACTION');
      await client.query('COMMIT');
      expect(client.getTransactionStatus()).toBe('I');
    }
    await client.query('START TRANSACTION');
    expect((await client.query<{ n: number }>('SELECT $1::int AS n', [7])).rows).toEqual([{ n: 7 }]);
    expect(client.getTransactionStatus()).toBe('T');
    await client.query('COMMIT');
  });
});

describe("the hub's data source", () => {
  it('prepares its parameterised statements', async () => {
    const ds = createDataSource({ url: db.url, entities: [], poolSize: 1 });
    await ds.initialize();
    try {
      await ds.query('SELECT $1::text AS hello', ['world']);
      const rows: { statement: string }[] = await ds.query('SELECT statement FROM pg_prepared_statements');
      expect(rows.map((r) => r.statement)).toContain('SELECT $1::text AS hello');
    } finally {
      await ds.destroy();
    }
  });
});

describe("a transaction's last statement takes its COMMIT with it (commitWithNext; issue 7: one round trip fewer per change)", () => {
  let ds: DataSource;
  let pooled: PreparingClient;
  beforeAll(async () => {
    ds = createDataSource({ url: db.url, entities: [], poolSize: 1 });
    await ds.initialize();
    await ds.query('CREATE TABLE IF NOT EXISTS last_t (n int PRIMARY KEY)');
    // One connection in the pool: every transaction below runs on it.
    await ds.transaction(async (tx) => {
      pooled = (tx.queryRunner as unknown as { databaseConnection: PreparingClient }).databaseConnection;
    });
  });
  afterAll(() => ds.destroy());
  beforeEach(() => ds.query('TRUNCATE last_t'));
  const committedRows = async () => (await client.query<{ n: number }>('SELECT n FROM last_t ORDER BY n')).rows.map((r) => r.n);

  it('writes BEGIN, the statement and COMMIT in one write; the change is committed when the statement answers', async () => {
    let seenByOthers: number[] = [];
    const writes = await writesDuring(pooled, () =>
      ds.transaction(async (tx) => {
        commitWithNext(tx);
        await tx.query('INSERT INTO last_t VALUES ($1::int)', [1]);
        seenByOthers = await committedRows();
      }),
    );
    // START TRANSACTION, Parse/Bind/Describe/Execute/Sync and COMMIT; the transaction's own COMMIT sends nothing.
    expect(writes).toEqual([7]);
    expect(seenByOthers).toEqual([1]);
    expect(pooled.getTransactionStatus()).toBe('I');
  });

  it('commits nothing when the last statement fails, and the connection goes on', async () => {
    await expect(
      ds.transaction(async (tx) => {
        await tx.query('INSERT INTO last_t VALUES ($1::int)', [1]);
        commitWithNext(tx);
        await tx.query('INSERT INTO last_t VALUES ($1::int)', [1]);
      }),
    ).rejects.toMatchObject({ driverError: { code: '23505' } });
    expect(await committedRows()).toEqual([]);
    expect(pooled.getTransactionStatus()).toBe('I');
    await ds.transaction((tx) => tx.query('INSERT INTO last_t VALUES ($1::int)', [2]));
    expect(await committedRows()).toEqual([2]);
  });

  it('refuses a statement after the last one', async () => {
    await expect(
      ds.transaction(async (tx) => {
        commitWithNext(tx);
        await tx.query('INSERT INTO last_t VALUES ($1::int)', [1]);
        await tx.query('INSERT INTO last_t VALUES ($1::int)', [2]);
      }),
    ).rejects.toThrow(/after its transaction has committed/);
    // What the last statement wrote had committed with it; nothing after it ran.
    expect(await committedRows()).toEqual([1]);
    expect(pooled.getTransactionStatus()).toBe('I');
  });

  it('sends the last statements and the COMMIT in one write (lastStatements), each answering in turn', async () => {
    const answers: unknown[] = [];
    const writes = await writesDuring(pooled, () =>
      ds.transaction(async (tx) => {
        const [inserted, counted] = lastStatements(tx, [
          { sql: 'INSERT INTO last_t VALUES ($1::int) RETURNING n', params: [1] },
          { sql: 'SELECT count(*)::int AS n FROM last_t WHERE n >= $1::int', params: [0] },
        ]);
        answers.push(await inserted, await counted);
      }),
    );
    // START TRANSACTION, two statements of Parse/Bind/Describe/Execute/Sync each, COMMIT: one write.
    expect(writes).toEqual([12]);
    // The second statement sees what the first wrote: they run in order, in the same transaction.
    expect(answers).toEqual([[{ n: 1 }], [{ n: 1 }]]);
    expect(await committedRows()).toEqual([1]);
    expect(pooled.getTransactionStatus()).toBe('I');
  });

  it('gives each statement a snapshot of its own: the one after a lock sees what committed while the lock waited', async () => {
    await ds.query('INSERT INTO last_t VALUES (1)');
    // Another session holds the row the first statement will lock, and commits a new row before letting go.
    await client.query('BEGIN');
    await client.query('UPDATE last_t SET n = n WHERE n = 1');
    const step = ds.transaction(async (tx) => {
      const [locked, counted] = lastStatements(tx, [
        { sql: 'SELECT n FROM last_t WHERE n = $1::int FOR UPDATE', params: [1] },
        { sql: 'SELECT count(*)::int AS n FROM last_t WHERE n >= $1::int', params: [0] },
      ]);
      return [await locked, await counted];
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.query('INSERT INTO last_t VALUES (2)');
    await client.query('COMMIT');
    // A CTE of the locking statement would count 1: its snapshot is taken before the wait.
    expect(await step).toEqual([[{ n: 1 }], [{ n: 2 }]]);
  });

  it('commits nothing when the first of the last statements fails: the ones after it fail with it, and its error is the one reported', async () => {
    await expect(
      ds.transaction(async (tx) => {
        const [first, second] = lastStatements(tx, [
          { sql: 'INSERT INTO last_t VALUES ($1::int), ($1::int)', params: [1] },
          { sql: 'INSERT INTO last_t VALUES ($1::int)', params: [2] },
        ]);
        await first;
        await second;
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await committedRows()).toEqual([]);
    expect(pooled.getTransactionStatus()).toBe('I');
    await ds.transaction((tx) => tx.query('INSERT INTO last_t VALUES ($1::int)', [3]));
    expect(await committedRows()).toEqual([3]);
  });

  it('runs the last statements one after the other inside a savepoint, and the outer transaction still decides', async () => {
    await expect(
      ds.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          const answers = lastStatements(inner, [
            { sql: 'INSERT INTO last_t VALUES ($1::int)', params: [1] },
            { sql: 'INSERT INTO last_t VALUES ($1::int)', params: [2] },
          ]);
          for (const answer of answers) await answer;
        });
        expect((await tx.query('SELECT count(*)::int AS n FROM last_t'))[0].n).toBe(2);
        throw new Error('the outer transaction fails');
      }),
    ).rejects.toThrow('the outer transaction fails');
    expect(await committedRows()).toEqual([]);
  });

  it('does nothing inside a savepoint: the outer transaction still decides', async () => {
    await expect(
      ds.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          commitWithNext(inner);
          await inner.query('INSERT INTO last_t VALUES ($1::int)', [1]);
        });
        throw new Error('the outer transaction fails');
      }),
    ).rejects.toThrow('the outer transaction fails');
    expect(await committedRows()).toEqual([]);
  });
});
