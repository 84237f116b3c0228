import fc from 'fast-check';
import { checkCharacter, maskIdNumber, parseIdNumber, type IdNumberProblem } from '../../src/persons/identity-number';

/*
 * Test oracle, written independently of the implementation: GB 11643-1999
 * §5.2 (ISO 7064 MOD 11-2) defines the weight of position i (1-based, from
 * the right, check char at i=1) as 2^(i-1) mod 11, and the check value as
 * (12 - (Σ a_i·W_i mod 11)) mod 11, with 10 written 'X'.
 */
function refCheck(first17: string): string {
  let sum = 0;
  for (let k = 0; k < 17; k++) sum += Number(first17[k]) * (2 ** (17 - k) % 11);
  const v = (12 - (sum % 11)) % 11;
  return v === 10 ? 'X' : String(v);
}
const withCheck = (first17: string) => first17 + refCheck(first17);

/** Fixed clock: 2025-06-15 20:00 in China (UTC+8). */
const NOW = new Date('2025-06-15T12:00:00Z');
const DAY_MS = 86_400_000;
const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Independent date oracle: real Gregorian date, >= 1900, not after 2025-06-15. */
function refDateOk(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  const t = new Date(Date.UTC(y, m - 1, d));
  const real = t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
  return real && y >= 1900 && yyyymmdd <= '20250615';
}

const REAL_REGIONS = ['110105', '430406', '440305', '510107', '650102'];

/** A random valid number (check char possibly lower-case x) plus its parts. */
const validId = fc
  .record({
    region: fc.constantFrom(...REAL_REGIONS),
    day: fc.integer({ min: Date.UTC(1900, 0, 1) / DAY_MS, max: Date.UTC(2025, 5, 15) / DAY_MS }),
    seq: fc.integer({ min: 0, max: 999 }),
    lowerX: fc.boolean(),
  })
  .map(({ region, day, seq, lowerX }) => {
    const d = new Date(day * DAY_MS);
    const y = d.getUTCFullYear();
    const date = `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
    let raw = withCheck(region + date.replace(/-/g, '') + pad(seq, 3));
    if (lowerX) raw = raw.replace(/X$/, 'x');
    return { raw, region, date, year: y, gender: seq % 2 === 1 ? 'MALE' : 'FEMALE' };
  });

function problemOf(raw: string, now: Date = NOW): IdNumberProblem | 'OK' {
  const r = parseIdNumber(raw, now);
  return r.ok ? 'OK' : r.problem;
}

describe('checkCharacter', () => {
  it('computes X for the GB 11643-1999 example 11010519491231002X', () => {
    expect(checkCharacter('11010519491231002')).toBe('X');
  });

  it('computes 4 for the GB 11643-1999 example 440524188001010014', () => {
    expect(checkCharacter('44052418800101001')).toBe('4');
  });

  it('agrees with the 2^(i-1) mod 11 definition for any 17 digits', () => {
    fc.assert(
      fc.property(fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: 17, maxLength: 17 }), (s) => {
        return checkCharacter(s) === refCheck(s);
      }),
    );
  });

  it.each(['1101051949123100', '110105194912310021', '1101051949123100X', '１１０１０５１９４９１２３１００２'])(
    'throws a RangeError for %j, without echoing it',
    (bad) => {
      expect(() => checkCharacter(bad)).toThrow(RangeError);
      expect(() => checkCharacter(bad)).not.toThrow(bad);
    },
  );
});

describe('parseIdNumber', () => {
  it('accepts the standard example and decomposes it', () => {
    expect(parseIdNumber('11010519491231002X', NOW)).toEqual({
      ok: true,
      value: {
        normalized: '11010519491231002X',
        regionCode: '110105',
        birthDate: '1949-12-31',
        birthYear: 1949,
        gender: 'FEMALE',
      },
    });
  });

  it('accepts a lower-case x and stores it as X', () => {
    const r = parseIdNumber('11010519491231002x', NOW);
    expect(r.ok && r.value.normalized).toBe('11010519491231002X');
  });

  it('reads an odd 17th digit as MALE and an even one as FEMALE', () => {
    const male = parseIdNumber(withCheck('43040619900101123'), NOW);
    const female = parseIdNumber(withCheck('43040619900101124'), NOW);
    expect(male.ok && male.value.gender).toBe('MALE');
    expect(female.ok && female.value.gender).toBe('FEMALE');
  });

  it('uses the current time when no clock is given', () => {
    expect(parseIdNumber('11010519491231002X').ok).toBe(true);
    expect(problemOf(withCheck('11010529990101001'), new Date())).toBe('BIRTH_DATE');
  });

  describe('LENGTH', () => {
    it.each([
      ['', 'empty'],
      ['110105491231002', 'a 15-digit first-generation number'],
      ['11010519491231002', 'the check character missing'],
      ['11010519491231002X0', 'one extra character'],
      [' 11010519491231002X', 'a leading space (no trimming)'],
      ['11010519491231002X ', 'a trailing space (no trimming)'],
      ['11010519491231002X\n', 'a trailing newline'],
    ])('rejects %j (%s)', (raw) => {
      expect(problemOf(raw)).toBe('LENGTH');
    });
  });

  describe('FORMAT', () => {
    it.each([
      ['1101051949123100 X', 'an inner space'],
      ['11010519491231002A', 'a check character other than X'],
      ['X10105194912310021', 'X anywhere but the last position'],
      ['11010519491231002Ｘ', 'a full-width X'],
      ['１１０１０５１９４９１２３１００２Ｘ', 'full-width digits'],
      ['-1010519491231002X', 'a sign'],
    ])('rejects %j (%s)', (raw) => {
      expect(problemOf(raw)).toBe('FORMAT');
    });
  });

  describe('REGION', () => {
    it.each(['000000', '990000', '160101', '830000'])('rejects region %s', (region) => {
      expect(problemOf(withCheck(`${region}19900101001`))).toBe('REGION');
    });
  });

  describe('BIRTH_DATE', () => {
    it.each([
      ['18991231', 'before 1900'],
      ['18800101', 'the 1880 example from the standard itself (policy: year >= 1900)'],
      ['19000229', '1900 is not a leap year'],
      ['20230229', '2023 is not a leap year'],
      ['19900001', 'month 00'],
      ['19901301', 'month 13'],
      ['19900100', 'day 00'],
      ['19900132', 'day 32'],
      ['19900431', 'April 31st'],
      ['20250616', 'tomorrow'],
      ['20260101', 'next year'],
    ])('rejects %s (%s)', (date) => {
      expect(problemOf(withCheck(`110105${date}001`))).toBe('BIRTH_DATE');
    });

    it.each([
      ['19000101', 'the first day of 1900'],
      ['20000229', '2000 is a leap year'],
      ['20240229', '2024 is a leap year'],
      ['20250615', 'today'],
    ])('accepts %s (%s)', (date) => {
      expect(problemOf(withCheck(`110105${date}001`))).toBe('OK');
    });

    it('judges "today" in China time (UTC+8), whatever the server time zone', () => {
      const bornMar2 = withCheck('11010520240302001');
      expect(problemOf(bornMar2, new Date('2024-03-01T15:59:59Z'))).toBe('BIRTH_DATE'); // 23:59:59 Mar 1 CST
      expect(problemOf(bornMar2, new Date('2024-03-01T16:00:00Z'))).toBe('OK'); // 00:00 Mar 2 CST
    });

    it('rejects every birth date when the clock is invalid', () => {
      expect(problemOf('11010519491231002X', new Date(Number.NaN))).toBe('BIRTH_DATE');
    });
  });

  describe('CHECKSUM', () => {
    it('rejects the standard example with a wrong check character', () => {
      expect(problemOf('110105194912310021')).toBe('CHECKSUM');
    });
  });

  describe('order of checks: LENGTH, FORMAT, REGION, BIRTH_DATE, CHECKSUM', () => {
    it.each<[string, IdNumberProblem]>([
      ['00000018991399000A0', 'LENGTH'], // everything wrong
      ['00000018991399000A', 'FORMAT'], // right length, rest wrong
      ['000000189913990000', 'REGION'], // bad region, date and checksum
      ['110105189913990000', 'BIRTH_DATE'], // bad date and checksum
      ['110105194912310020', 'CHECKSUM'],
    ])('reports %s as %s', (raw, problem) => {
      expect(problemOf(raw)).toBe(problem);
    });
  });

  describe('messages', () => {
    it('are English and never contain the number or its parts', () => {
      for (const raw of ['11010519491231002A', '000000194912310020', '110105189912310020', '110105194912310021']) {
        const r = parseIdNumber(raw, NOW);
        if (r.ok) throw new Error('expected failure');
        expect(r.message).toMatch(/^[\x20-\x7e]+$/);
        expect(r.message).not.toContain(raw);
        expect(r.message).not.toContain(raw.slice(0, 6));
        expect(r.message).not.toContain(raw.slice(6, 14));
      }
    });
  });

  describe('properties', () => {
    it('parses every valid number and round-trips its parts', () => {
      fc.assert(
        fc.property(validId, ({ raw, region, date, year, gender }) => {
          const r = parseIdNumber(raw, NOW);
          expect(r).toEqual({
            ok: true,
            value: { normalized: raw.toUpperCase(), regionCode: region, birthDate: date, birthYear: year, gender },
          });
        }),
      );
    });

    it('is idempotent: the normalized form parses to the same value', () => {
      fc.assert(
        fc.property(validId, ({ raw }) => {
          const first = parseIdNumber(raw, NOW);
          if (!first.ok) return false;
          expect(parseIdNumber(first.value.normalized, NOW)).toEqual(first);
        }),
      );
    });

    it('never accepts a single-digit change in the first 17 digits, and reports the first check that fails', () => {
      fc.assert(
        fc.property(validId, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 9 }), ({ raw }, pos, delta) => {
          const digit = String((Number(raw[pos]) + delta) % 10);
          const mutated = raw.slice(0, pos) + digit + raw.slice(pos + 1);
          // MOD 11-2 detects every single substitution (weights are non-zero mod the prime 11),
          // so the result is never OK; which problem is reported depends on where the digit is.
          let expected: IdNumberProblem = 'CHECKSUM';
          if (pos < 2 && !REAL_PROVINCE(mutated.slice(0, 2))) expected = 'REGION';
          else if (pos >= 6 && pos < 14 && !refDateOk(mutated.slice(6, 14))) expected = 'BIRTH_DATE';
          expect(problemOf(mutated)).toBe(expected);
        }),
      );
    });

    it('never accepts a different check character', () => {
      fc.assert(
        fc.property(validId, fc.constantFrom(...'0123456789X'), ({ raw }, c) => {
          fc.pre(c !== raw[17].toUpperCase());
          expect(problemOf(raw.slice(0, 17) + c)).toBe('CHECKSUM');
        }),
      );
    });

    it('never throws on random strings, and failure messages never leak the input', () => {
      const idLike = fc.stringOf(fc.constantFrom(...'0123456789Xx '), { minLength: 16, maxLength: 20 });
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), idLike), (s) => {
          const r = parseIdNumber(s, NOW);
          if (r.ok) {
            expect(r.value.normalized).toBe(s.toUpperCase());
          } else {
            expect(r.message).not.toMatch(/[0-9]{4}/);
          }
        }),
      );
    });
  });
});

/** Province check for the mutation property, from GB/T 2260 directly. */
function REAL_PROVINCE(p: string): boolean {
  return /^(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])$/.test(p);
}

describe('maskIdNumber', () => {
  it('keeps the region and the last four characters', () => {
    expect(maskIdNumber('43040619900101123X')).toBe('430406********123X');
  });

  it('hides the whole birth date of any valid number', () => {
    fc.assert(
      fc.property(validId, ({ raw, region }) => {
        const r = parseIdNumber(raw, NOW);
        if (!r.ok) return false;
        const masked = maskIdNumber(r.value.normalized);
        expect(masked).toHaveLength(18);
        expect(masked.startsWith(region)).toBe(true);
        expect(masked.slice(6, 14)).toBe('********');
        expect(masked.slice(14)).toBe(r.value.normalized.slice(14));
      }),
    );
  });

  it.each(['110105491231002', '11010519491231002X ', ''])('masks everything when given %j (not 18 characters)', (s) => {
    expect(maskIdNumber(s)).toBe('*'.repeat(s.length));
  });
});
