import { types } from 'pg';

const TIMESTAMPTZ_OID = 1184;
const parseAnyTimestamptz = types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (value: string) => Date;

const DIGIT_0 = 48;
const isDigit = (s: string, i: number) => {
  const c = s.charCodeAt(i) - DIGIT_0;
  return c >= 0 && c <= 9;
};
const FIXED_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
const num = (s: string, from: number, to: number) => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - DIGIT_0);
  return n;
};

/**
 * timestamptz as PostgreSQL writes it for a UTC session (data-source.ts sets
 * `timezone=UTC`): `2026-11-23 17:30:06.931512+00`. The general parser
 * (postgres-date, a regular expression per value) was 3.3% of the hub's CPU
 * for a 50-case dashboard (bench, issue 7); this reads the fixed positions and
 * hands anything else (another offset, BC, infinity, years before 1000) to it.
 * Sub-millisecond digits are dropped, as the general parser does.
 */
export function parseTimestamptz(s: string): Date {
  const n = s.length;
  if (
    n >= 22 &&
    n <= 29 &&
    n !== 23 &&
    s.charCodeAt(4) === 45 && // -
    s.charCodeAt(7) === 45 &&
    s.charCodeAt(10) === 32 && // space
    s.charCodeAt(13) === 58 && // :
    s.charCodeAt(16) === 58 &&
    s.charCodeAt(n - 3) === 43 && // +
    s.charCodeAt(n - 2) === DIGIT_0 &&
    s.charCodeAt(n - 1) === DIGIT_0 &&
    (n === 22 || s.charCodeAt(19) === 46) && // .
    s.charCodeAt(0) !== DIGIT_0
  ) {
    for (const i of FIXED_DIGITS) if (!isDigit(s, i)) return parseAnyTimestamptz(s);
    let ms = 0;
    if (n > 22) {
      for (let i = 20; i < n - 3; i++) if (!isDigit(s, i)) return parseAnyTimestamptz(s);
      const end = Math.min(23, n - 3);
      ms = num(s, 20, end) * 10 ** (23 - end);
    }
    return new Date(Date.UTC(num(s, 0, 4), num(s, 5, 7) - 1, num(s, 8, 10), num(s, 11, 13), num(s, 14, 16), num(s, 17, 19), ms));
  }
  return parseAnyTimestamptz(s);
}

/** pg's type parsers with the fast timestamptz one; given to the pool (data-source.ts), not installed globally. */
export const hubTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID && format !== 'binary') return parseTimestamptz;
    return types.getTypeParser(oid, format);
  },
};
