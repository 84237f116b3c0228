/**
 * fast-check arbitraries for the hub's inputs, valid and invalid, with
 * oracles written from the rules themselves (GB 11643, GB/T 2260, RFC 3339,
 * the documented length limits) rather than from src/, so that a bug there
 * cannot hide behind a generator that shares it.
 */
import fc from 'fast-check';
import { checkChar } from '../persons/people';

// ---------------------------------------------------------------- text

/** Any character PostgreSQL text can hold: every Unicode scalar value but U+0000. */
const anyChar = fc.fullUnicode().filter((c) => c !== '\u0000');

/** Characters people really type, weighted in: Han (BMP and astral 生僻字), emoji, RTL, combining marks, spaces. */
const typedChar = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '张',
      '王',
      '李',
      '建',
      '国',
      '𠀀',
      '𪚥',
      '😀',
      'é',
      'ا',
      'a',
      'Z',
      '1',
      '·',
      '\u3000',
      ' ',
      '\u0301',
      '\u200f',
    ),
  },
  { weight: 2, arbitrary: anyChar },
);

const nonSpace = typedChar.filter((c) => c.trim() === c && c.trim().length > 0);

const codePoints = (s: string) => [...s].length;

/** A string of up to `max` code points (often exactly at the limit), possibly padded with spaces to be trimmed. */
export function textUpTo(max: number): fc.Arbitrary<string> {
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.stringOf(typedChar, { maxLength: Math.min(max, 30) }) },
    { weight: 1, arbitrary: fc.stringOf(typedChar, { minLength: Math.max(0, max - 3), maxLength: max }) },
  );
  return fc
    .tuple(fc.constantFrom('', ' ', '\u3000', ' \t'), body, fc.constantFrom('', ' ', '\n'))
    .map(([a, b, c]) => a + b + c)
    .filter((s) => codePoints(s.trim()) <= max);
}

/** Like textUpTo, but with at least one character left after trimming. */
export function requiredTextUpTo(max: number): fc.Arbitrary<string> {
  return textUpTo(max).filter((s) => s.trim().length > 0);
}

/** More than `max` code points even after trimming. */
export function textLongerThan(max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.stringOf(nonSpace, { minLength: max + 1, maxLength: max + 40 }), fc.constantFrom('', ' '))
    .map(([s, pad]) => pad + s + pad);
}

/** Nothing but whitespace: refused where text is required. */
export const blank = fc.constantFrom('', ' ', '   ', '\t\n', '\u3000');

/** Text the database cannot keep as sent: a NUL, or a UTF-16 surrogate without its partner. */
export const unstorable = fc
  .tuple(
    fc.stringOf(typedChar, { maxLength: 5 }),
    fc.constantFrom('\u0000', '\ud800', '\udfff', '\udbff'),
    fc.stringOf(typedChar, { maxLength: 5 }),
  )
  .map(([a, bad, b]) => `${a}x${bad}${b}`);

/** What the hub keeps of an optional text: trimmed, and nothing left means unknown. */
export const expectedOptional = (s: string | null | undefined) => (s == null ? null : s.trim() || null);

// ---------------------------------------------------------------- regions and ID numbers

/** GB/T 2260 province-level codes (省级), incl. 71 Taiwan, 81 Hong Kong, 82 Macao. */
export const PROVINCES = [
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42',
  '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82',
]; // prettier-ignore

export const refRegionValid = (s: string) => /^[0-9]{6}$/.test(s) && PROVINCES.includes(s.slice(0, 2));

export const validRegion = fc
  .tuple(fc.constantFrom(...PROVINCES), fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: 4, maxLength: 4 }))
  .map(([p, rest]) => p + rest);

export const invalidRegion = fc
  .oneof(
    fc.string({ maxLength: 8 }),
    fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: 5, maxLength: 7 }),
    fc.constantFrom('000000', '990000', '100000', '４３０４０６', ' 430406', '430406 ', '43040a'),
    fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: 6, maxLength: 6 }),
  )
  .filter((s) => !refRegionValid(s));

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const DAY = 86_400_000;

/** Today in China (UTC+8) as YYYYMMDD. */
export const chinaToday = (now = new Date()) => new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10).replace(/-/g, '');
export const chinaYear = (now = new Date()) => new Date(now.getTime() + 8 * 3_600_000).getUTCFullYear();

/** GB 11643: 17 ASCII digits and a check character; known province; a real birth date from 1900 up to today in China. */
export function refIdValid(raw: string, now = new Date()): boolean {
  if (!/^[0-9]{17}[0-9Xx]$/.test(raw) || !PROVINCES.includes(raw.slice(0, 2))) return false;
  const [y, m, d] = [Number(raw.slice(6, 10)), Number(raw.slice(10, 12)), Number(raw.slice(12, 14))];
  const date = new Date(Date.UTC(y, m - 1, d));
  const real = date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  return real && y >= 1900 && raw.slice(6, 14) <= chinaToday(now) && checkChar(raw.slice(0, 17)) === raw[17].toUpperCase();
}

export interface IdFacts {
  raw: string;
  /** Upper-case X: the only normalisation the hub applies. */
  normalized: string;
  region: string;
  birthYear: number;
  gender: 'MALE' | 'FEMALE';
}

/** A valid number (the check character X sometimes typed as x), with what it says. */
export const validIdNumber: fc.Arbitrary<IdFacts> = fc
  .record({
    region: validRegion,
    // Up to yesterday: a run across midnight in China must not make a birth date "future".
    day: fc.integer({ min: Date.UTC(1900, 0, 1) / DAY, max: Math.floor(Date.now() / DAY) - 2 }),
    seq: fc.integer({ min: 0, max: 999 }),
    lowerX: fc.boolean(),
  })
  .map(({ region, day, seq, lowerX }) => {
    const d = new Date(day * DAY);
    const body = `${region}${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(seq, 3)}`;
    const normalized = body + checkChar(body);
    return {
      raw: lowerX ? normalized.replace(/X$/, 'x') : normalized,
      normalized,
      region,
      birthYear: d.getUTCFullYear(),
      gender: seq % 2 === 1 ? ('MALE' as const) : ('FEMALE' as const),
    };
  });

/** Numbers that are not valid: one thing broken in a valid one, or anything at all. */
export const invalidIdNumber: fc.Arbitrary<string> = fc
  .oneof(
    validIdNumber.map((v) => v.normalized.slice(0, 17) + (v.normalized[17] === '0' ? '1' : '0')),
    validIdNumber.chain((v) => fc.integer({ min: 0, max: 17 }).map((i) => v.normalized.slice(0, i) + v.normalized.slice(i + 1))),
    validIdNumber.map((v) => `${v.normalized}0`),
    validIdNumber.map((v) => ` ${v.normalized}`),
    validIdNumber.map((v) => v.normalized.replace(/[0-9]/, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))),
    validIdNumber.map((v) => `99${v.normalized.slice(2)}`),
    fc.tuple(validIdNumber, fc.constantFrom('18991231', '20000230', '19991301', '19990132', '19990000', '30000101')).map(([v, date]) => {
      const body = v.normalized.slice(0, 6) + date + v.normalized.slice(14, 17);
      return body + checkChar(body);
    }),
    fc.string({ maxLength: 20 }),
    fc.stringOf(fc.constantFrom(...'0123456789Xx'), { minLength: 18, maxLength: 18 }),
  )
  .filter((s) => !refIdValid(s));

// ---------------------------------------------------------------- birth years, ICD-10, short codes

export const validBirthYear = fc.integer({ min: 1900, max: chinaYear() });
export const invalidBirthYear = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 1899 }),
  fc.integer({ min: chinaYear() + 1, max: 2 ** 31 - 1 }),
);

/** ICD-10 shape: a letter, two digits, optionally '.' and 1-4 letters or digits (F20.9, S72.001A); case-insensitive. */
export const refIcd10Valid = (s: string) => /^[A-Za-z][0-9]{2}(\.[A-Za-z0-9]{1,4})?$/.test(s);
const letter = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const digit = fc.constantFrom(...'0123456789');
export const validIcd10 = fc
  .tuple(letter, digit, digit, fc.option(fc.stringOf(fc.oneof(letter, digit), { minLength: 1, maxLength: 4 }), { nil: undefined }))
  .map(([l, a, b, ext]) => `${l}${a}${b}${ext === undefined ? '' : `.${ext}`}`);
export const invalidIcd10 = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    validIcd10.map((c) => ` ${c}`),
    validIcd10.map((c) => `${c}.`),
    validIcd10.map((c) => `${c}12345`),
    validIcd10.map((c) => c.slice(0, 2)),
    validIcd10.map((c) => `１${c.slice(1)}`),
  )
  .filter((s) => !refIcd10Valid(s));

export const validShortCode = fc
  .tuple(
    fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
    fc.stringOf(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), { minLength: 1, maxLength: 7 }),
  )
  .map(([a, b]) => a + b);
export const invalidShortCode = fc
  .oneof(fc.string({ maxLength: 10 }), fc.constantFrom('H', 'hy', '1HY', 'ABCDEFGHI', 'H-Y', 'ＨＹ'))
  .filter((s) => !/^[A-Z][A-Z0-9]{1,7}$/.test(s));

// ---------------------------------------------------------------- DateTime (RFC 3339 with an offset)

export interface DateTimeParts {
  text: string;
  /** The instant, in ms, when the text is a real DateTime; null when it is not. */
  instant: number | null;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * DateTimes built from their fields, each sometimes out of range (month 13,
 * February 29 of a common year, 24:00, 60 seconds, an offset of +24:00), with
 * the instant an oracle computes by hand from the fields when all are valid.
 */
export const dateTime: fc.Arbitrary<DateTimeParts> = fc
  .record({
    y: fc.integer({ min: 1900, max: 2200 }),
    mo: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 31 }),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
    frac: fc.option(fc.stringOf(digit, { minLength: 1, maxLength: 9 }), { nil: undefined }),
    offset: fc.oneof(
      fc.constant('Z' as const),
      fc.record({ sign: fc.constantFrom(1, -1), h: fc.integer({ min: 0, max: 23 }), m: fc.integer({ min: 0, max: 59 }) }),
    ),
    broken: fc.option(fc.constantFrom('month', 'day', 'hour', 'minute', 'second', 'offsetHour', 'offsetMinute'), {
      freq: 4,
      nil: undefined,
    }),
  })
  .map(({ y, mo, d, h, mi, s, frac, offset, broken }) => {
    const dim = mo === 2 && isLeap(y) ? 29 : DAYS[mo - 1];
    d = Math.min(d, dim);
    if (broken === 'month') mo = 13;
    if (broken === 'day') d = dim + 1;
    if (broken === 'hour') h = 24;
    if (broken === 'minute') mi = 60;
    if (broken === 'second') s = 60;
    // A broken offset needs an offset to break.
    const base = offset === 'Z' && broken?.startsWith('offset') ? { sign: 1, h: 0, m: 0 } : offset;
    const off = base === 'Z' ? base : { ...base, h: broken === 'offsetHour' ? 24 : base.h, m: broken === 'offsetMinute' ? 60 : base.m };
    const withSeconds = s !== undefined || frac !== undefined;
    const text =
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}` +
      (withSeconds ? `:${pad(s ?? 0, 2)}${frac !== undefined ? `.${frac}` : ''}` : '') +
      (off === 'Z' ? 'Z' : `${off.sign > 0 ? '+' : '-'}${pad(off.h, 2)}:${pad(off.m, 2)}`);
    if (broken) return { text, instant: null };
    const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));
    const offsetMs = off === 'Z' ? 0 : off.sign * (off.h * 60 + off.m) * 60_000;
    return { text, instant: Date.UTC(y, mo - 1, d, h, mi, s ?? 0, ms) - offsetMs };
  });

/** Strings that are no DateTime at all: no offset, no time, other notations. */
export const notADateTime = fc.oneof(
  fc.constantFrom(
    '2026-01-01',
    '2026-01-01T00:00:00',
    '2026-01-01 00:00:00Z',
    '1700000000000',
    'now',
    '',
    '2026-1-1T00:00:00Z',
    '+02026-01-01T00:00:00Z',
  ),
  fc.string({ maxLength: 30 }),
);

// ---------------------------------------------------------------- idempotency keys and cursors

/** 1-100 characters (code points), no NUL. */
export const validIdempotencyKey = fc.oneof(
  fc.stringOf(typedChar, { minLength: 1, maxLength: 40 }),
  fc.stringOf(typedChar, { minLength: 95, maxLength: 100 }),
);
export const invalidIdempotencyKey = fc.oneof(fc.constant(''), fc.stringOf(typedChar, { minLength: 101, maxLength: 140 }), unstorable);
