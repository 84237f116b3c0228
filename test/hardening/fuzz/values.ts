/**
 * Values a fuzzer sends: plausible ones (valid ID numbers, region codes,
 * DateTimes, ids of real objects, real cursors) and hostile ones (emoji, RTL
 * marks, NUL, lone surrogates, 10k characters, SQL and JSON fragments, huge
 * and fractional numbers).
 */
import { checkChar } from '../../persons/people';
import type { Rng } from './random';

export type NodeType = 'Agency' | 'Account' | 'Person' | 'RescueCase' | 'Referral';

/** Ids and cursors of objects that exist in the fuzzed hub, so that some operations reach past the id checks. */
export interface Pools {
  ids: Record<NodeType, string[]>;
  /** Cursors the hub handed out (cases, referrals, audit trail). */
  cursors: string[];
}

export const globalId = (type: string, uuid: string) => Buffer.from(`${type}:${uuid}`).toString('base64url');
const cursorOf = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');

const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n\r ',
  '\u3000',
  '😀',
  '👨‍👩‍👧‍👦🏳️‍🌈',
  '𠀀𠀁𠀂',
  'مرحبا بالعالم',
  '\u202Eabc\u202C',
  'שלום\u200Fעולם',
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udfffy',
  'e\u0301\u0301\u0301',
  '\u200b\u200c\u200d\ufeff',
  '４３０４０６１９７８０３１５１２３Ｘ',
  "'; DROP TABLE person; --",
  "1' OR '1'='1",
  'Robert"); DELETE FROM referral; --',
  '$1::text',
  '%s%n%x%d',
  '{"a":[1,2,{"b":null}],"__proto__":{"x":1}}',
  '[]',
  'null',
  '{"$gt":""}',
  '${jndi:ldap://example.invalid/a}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  '\\',
  '"',
  '\\u0000',
  'constructor',
  '__proto__',
  'NaN',
  '-0',
  '1e309',
  'true',
  'UNKNOWN',
  'MALE',
  'F20.9',
  'f20.9',
  'Z99.ZZZZ',
  'F2',
  '430406',
  '000000',
  '990000',
  '2026-11-24T18:30:00+08:00',
  '2026-02-30T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59-23:59',
  'ev:1',
  'ZXY6MQ',
  'ev:99999999999999999999',
];

/** A hostile or odd string: from the catalogue, long, or a mixture. */
export function weirdString(rng: Rng): string {
  switch (rng.int(0, 9)) {
    case 0:
      return rng
        .pick(['x', '张', '😀', 'a\u0000', '\u202E'])
        .repeat(rng.pick([49, 50, 51, 100, 101, 200, 201, 500, 501, 2000, 2001, 10_000]));
    case 1:
      return rng.pick(HOSTILE_STRINGS) + rng.pick(HOSTILE_STRINGS);
    case 2:
      return randomUnicode(rng, rng.int(0, 60));
    default:
      return rng.pick(HOSTILE_STRINGS);
  }
}

/** Code points from every plane that matters: ASCII, controls, CJK, astral, surrogates. */
export function randomUnicode(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const range = rng.pick([
      [0x20, 0x7e],
      [0x00, 0x1f],
      [0x4e00, 0x9fff],
      [0x0590, 0x06ff],
      [0x1f300, 0x1faff],
      [0x20000, 0x2a6df],
      [0xd800, 0xdfff],
      [0xfff0, 0xffff],
    ]);
    s += String.fromCodePoint(rng.int(range[0], range[1]));
  }
  return s;
}

export function weirdNumber(rng: Rng): number {
  return rng.pick([
    0,
    -1,
    1,
    2,
    20,
    50,
    51,
    100,
    101,
    1899,
    1900,
    2026,
    2147483647,
    2147483648,
    -2147483648,
    -2147483649,
    1e21,
    1e308,
    -1e308,
    0.5,
    -0.0,
    Number.MAX_SAFE_INTEGER + 2,
    3.14159,
  ]);
}

/** Any JSON value at all, for a variable of the wrong type. */
export function weirdJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, depth > 1 ? 3 : 5)) {
    case 0:
      return weirdString(rng);
    case 1:
      return weirdNumber(rng);
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return rng.pick(['', 0, [], {}]);
    case 4:
      return Array.from({ length: rng.int(0, 3) }, () => weirdJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 3); i > 0; i--)
        o[rng.pick(['a', 'id', '__proto__', 'constructor', 'gender', 'name', '$where'])] = weirdJson(rng, depth + 1);
      return o;
    }
  }
}

const REGIONS = ['430406', '430521', '440103', '110105', '650102', '810000', '710000'];
const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A valid GB 11643 number (check character computed independently of src/). */
export function validIdNumber(rng: Rng): string {
  const day = new Date(Date.UTC(1930, 0, 1) + rng.int(0, 90 * 365) * 86_400_000);
  const body = `${rng.pick(REGIONS)}${pad(day.getUTCFullYear(), 4)}${pad(day.getUTCMonth() + 1, 2)}${pad(day.getUTCDate(), 2)}${pad(rng.int(0, 999), 3)}`;
  const id = body + checkChar(body);
  return rng.chance(0.2) ? id.replace('X', 'x') : id;
}

export function idNumberLike(rng: Rng): string {
  if (rng.chance(0.5)) return validIdNumber(rng);
  const id = validIdNumber(rng);
  return rng.pick([
    id.slice(0, 17) + (id[17] === '0' ? '1' : '0'),
    id.slice(0, 17),
    `${id} `,
    id.replace(/\d/, '９'),
    `99${id.slice(2)}`,
    `${id.slice(0, 10)}1399${id.slice(14)}`,
    weirdString(rng),
  ]);
}

export function regionLike(rng: Rng): string {
  return rng.chance(0.5)
    ? rng.pick(REGIONS)
    : rng.pick(['', '43040', '4304060', '990000', '43040a', '４３０４０６', ' 430406', weirdString(rng)]);
}

export function icd10Like(rng: Rng): string {
  return rng.chance(0.5)
    ? rng.pick(['F20.9', 'f20.9', 'S72.001A', 'A00', 'Z99.9', 'F32'])
    : rng.pick(['F2', 'F20.', 'F20.12345', '20.9', 'FF0.9', ' F20.9', 'F20.9\u0000', weirdString(rng)]);
}

/** A DateTime as agencies send it (any offset, with or without seconds and fractions), or something that is none. */
export function dateTimeLike(rng: Rng): string {
  if (rng.chance(0.7)) {
    const ms = Date.UTC(2026, 0, 1) + rng.int(-40_000, 40_000) * 86_400_000 + rng.int(0, 86_399_999);
    const offsetMin = rng.pick([0, 480, -300, 330, 840, -720, 59]);
    const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, rng.pick([16, 19, 23]));
    const off =
      offsetMin === 0 && rng.chance(0.5)
        ? 'Z'
        : `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMin) / 60), 2)}:${pad(Math.abs(offsetMin) % 60, 2)}`;
    return local + off;
  }
  return rng.pick([
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00',
    '2026-01-01',
    '1700000000000',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59-23:59',
    '2026-01-01T00:00:00.1234567890Z',
    weirdString(rng),
  ]);
}

const UUIDS = ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '123e4567-e89b-12d3-a456-426614174000'];

/** An id: of a real object of the expected type, of another type, of nothing, or no id at all. */
export function idLike(rng: Rng, pools: Pools, expected: NodeType | undefined): string {
  const types = Object.keys(pools.ids) as NodeType[];
  const real = (t: NodeType) => (pools.ids[t].length ? rng.pick(pools.ids[t]) : globalId(t, rng.pick(UUIDS)));
  switch (rng.int(0, 9)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
      return real(expected ?? rng.pick(types));
    case 5:
      return real(rng.pick(types));
    case 6:
      return globalId(expected ?? rng.pick(types), rng.pick(UUIDS));
    case 7:
      return globalId(rng.pick(['Bogus', '__proto__', 'constructor', 'Person ', '', 'AuditEntry']), rng.pick(UUIDS));
    case 8:
      return rng.pick([
        '',
        '1',
        '-1',
        rng.pick(UUIDS),
        globalId('Person', 'x'),
        'a'.repeat(101),
        Buffer.from('Person:' + UUIDS[0] + ':x').toString('base64'),
      ]);
    default:
      return weirdString(rng);
  }
}

/** A cursor the hub handed out, a well-formed one it never did, or junk. */
export function cursorLike(rng: Rng, pools: Pools): string {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
      return pools.cursors.length ? rng.pick(pools.cursors) : 'x';
    case 2:
      return cursorOf([
        rng.pick([
          '2026-01-01 00:00:00+00',
          '2026-02-31 00:00:00+00',
          '0000-01-01 00:00:00+00',
          '2026-01-01 00:00:00.123456+15:59',
          '2026-01-01 00:00:00+16',
          '9999-12-31 23:59:59.999999-15',
        ]),
        rng.pick(UUIDS),
      ]);
    case 3:
      return cursorOf(
        rng.pick([['9223372036854775807'], ['9223372036854775808'], ['9999999999999999999'], ['-1'], [1], [], [null], {}, 'x']),
      );
    case 4:
      return rng.pick(['', '!!', 'ev:1', Buffer.from('ev:123').toString('base64url'), Buffer.from('[').toString('base64url')]);
    default:
      return weirdString(rng);
  }
}
