import fc from 'fast-check';
import { parseIcd10 } from '../../src/referrals/icd10';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = `${UPPER}${UPPER.toLowerCase()}0123456789`;
const digit = fc.constantFrom(...'0123456789');

/** A well-formed code in any letter case. */
const icd10Code = fc
  .tuple(
    fc.constantFrom(...UPPER, ...UPPER.toLowerCase()),
    fc.stringOf(digit, { minLength: 2, maxLength: 2 }),
    fc.option(fc.stringOf(fc.constantFrom(...ALNUM), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  )
  .map(([letter, num, ext]) => (ext === undefined ? letter + num : `${letter}${num}.${ext}`));

describe('parseIcd10', () => {
  it.each(['F20', 'F20.9', 'S72.001', 'A00.1', 'Z99.89', 'S72.001A'])('accepts %s unchanged', (code) => {
    expect(parseIcd10(code)).toEqual({ ok: true, code, isMentalDisorder: code.startsWith('F') });
  });

  it('accepts a lower-case letter and stores it upper-case', () => {
    expect(parseIcd10('f20.9')).toEqual({ ok: true, code: 'F20.9', isMentalDisorder: true });
  });

  it('upper-cases letters in the extension too', () => {
    expect(parseIcd10('s72.001a')).toEqual({ ok: true, code: 'S72.001A', isMentalDisorder: false });
  });

  it.each([
    ['', 'empty'],
    ['F2', 'one digit'],
    ['F200', 'three digits without a dot'],
    ['F20.', 'dot with nothing after it'],
    ['F20.12345', 'five characters after the dot'],
    ['F20..9', 'two dots'],
    ['F20-9', 'dash instead of dot'],
    ['20.9', 'no letter'],
    ['FF20', 'two letters'],
    [' F20', 'leading space'],
    ['F20 ', 'trailing space'],
    ['F 20', 'inner space'],
    ['F20.9\n', 'trailing newline'],
    ['Ｆ２０', 'full-width characters'],
    ['F2O', 'letter O instead of zero'],
  ])('rejects %j (%s)', (raw) => {
    expect(parseIcd10(raw)).toEqual({ ok: false });
  });

  describe('isMentalDisorder', () => {
    it.each(['F00', 'F99', 'F32.1', 'f43.10'])('is true for chapter V code %s', (code) => {
      expect(parseIcd10(code)).toMatchObject({ ok: true, isMentalDisorder: true });
    });

    it.each(['E99', 'G00', 'G30.0', 'Z00'])('is false for non-F code %s', (code) => {
      expect(parseIcd10(code)).toMatchObject({ ok: true, isMentalDisorder: false });
    });
  });

  it('accepts every well-formed code, upper-cases it, and flags exactly the F codes', () => {
    fc.assert(
      fc.property(icd10Code, (raw) => {
        const r = parseIcd10(raw);
        return r.ok && r.code === raw.toUpperCase() && r.isMentalDisorder === (r.code[0] === 'F');
      }),
    );
  });

  it('is idempotent: a parsed code parses to itself', () => {
    fc.assert(
      fc.property(icd10Code, (raw) => {
        const r = parseIcd10(raw);
        if (!r.ok) return false;
        const again = parseIcd10(r.code);
        return again.ok && again.code === r.code;
      }),
    );
  });

  it('rejects any well-formed code with surrounding whitespace', () => {
    fc.assert(
      fc.property(icd10Code, fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u3000'), fc.boolean(), (raw, ws, before) => {
        return !parseIcd10(before ? ws + raw : raw + ws).ok;
      }),
    );
  });

  it('never throws on arbitrary strings, and anything accepted is canonical', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const r = parseIcd10(s);
        return !r.ok || /^[A-Z][0-9]{2}(\.[A-Z0-9]{1,4})?$/.test(r.code);
      }),
    );
  });
});
