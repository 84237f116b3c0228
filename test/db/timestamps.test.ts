import fc from 'fast-check';
import { Client, types } from 'pg';
import { parseTimestamptz } from '../../src/db/timestamps';
import { createTestDatabase, type TestDatabase } from '../support/database';

jest.setTimeout(60_000);

const general = types.getTypeParser(1184, 'text') as (s: string) => Date;

let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  // The text PostgreSQL itself writes, read unparsed.
  client = new Client({ connectionString: db.url, options: '-c timezone=UTC', types: { getTypeParser: () => (s: string) => s } });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await db.stop();
});

describe('timestamptz read at fixed positions gives the same instant as the general parser', () => {
  it('for any instant PostgreSQL writes in a UTC session, microseconds included', async () => {
    // Years 1000-9999, any microsecond: PostgreSQL writes 0 to 6 fraction digits, trailing zeros dropped.
    const micros = fc
      .tuple(fc.bigInt({ min: -30610224000000000n, max: 253402300799999999n }), fc.integer({ min: 0, max: 6 }))
      .map(([m, zeros]) => (m / 10n ** BigInt(zeros)) * 10n ** BigInt(zeros));
    const samples = fc.sample(micros, 400);
    const { rows } = await client.query<{ t: string }>(
      `SELECT to_timestamp(0) + make_interval(secs => 0) + (m::text || ' microseconds')::interval AS t FROM unnest($1::bigint[]) m`,
      [samples.map(String)],
    );
    expect(rows.length).toBe(400);
    const lengths = new Set<number>();
    for (const { t } of rows) {
      lengths.add(t.length);
      expect(parseTimestamptz(t).getTime()).toBe(general(t).getTime());
    }
    // The samples did cover whole seconds and most fraction lengths.
    expect(lengths.has(22)).toBe(true);
    expect(lengths.size).toBeGreaterThanOrEqual(6);
  });

  it('hands every other form to the general parser', () => {
    for (const s of [
      '2026-11-23 17:30:06.931+08',
      '2026-11-23 17:30:06+05:30',
      '0999-01-01 00:00:00+00',
      '0044-03-15 12:00:00+00 BC',
      'infinity',
      '-infinity',
      '2026-11-23T17:30:06Z',
    ]) {
      expect(parseTimestamptz(s)).toEqual(general(s));
    }
  });

  it('is what the hub reads: its connections are in UTC', async () => {
    const row = (await client.query<{ t: string }>(`SELECT timestamptz '2026-11-24 02:30:00+08' AS t`)).rows[0];
    expect(row.t).toBe('2026-11-23 18:30:00+00');
    expect(parseTimestamptz(row.t).toISOString()).toBe('2026-11-23T18:30:00.000Z');
  });
});
