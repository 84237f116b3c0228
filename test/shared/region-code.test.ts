import fc from 'fast-check';
import { PROVINCE_CODES, isRegionCode, prefectureOf, provinceOf } from '../../src/shared/region-code';

// The 34 province-level divisions of GB/T 2260, written out independently.
const EXPECTED_PROVINCES = (
  '11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 ' + '50 51 52 53 54 61 62 63 64 65 71 81 82'
).split(' ');

const digits = (n: number) => fc.stringOf(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n });

describe('PROVINCE_CODES', () => {
  it('lists exactly the 34 province-level codes, in order', () => {
    expect([...PROVINCE_CODES]).toEqual(EXPECTED_PROVINCES);
  });

  it('cannot be mutated at run time', () => {
    expect(Object.isFrozen(PROVINCE_CODES)).toBe(true);
  });
});

describe('isRegionCode', () => {
  it.each(['110105', '430406', '440305', '510107', '650102', '710000', '810000', '820000'])('accepts the real division code %s', (code) =>
    expect(isRegionCode(code)).toBe(true),
  );

  it.each([
    ['000000', 'province 00 does not exist'],
    ['990000', 'province 99 does not exist'],
    ['160101', 'province 16 does not exist'],
    ['830000', 'province 83 is not in the list'],
    ['11010', 'five digits'],
    ['1101050', 'seven digits'],
    [' 110105', 'leading space'],
    ['110105 ', 'trailing space'],
    ['11010a', 'a letter'],
    ['１１０１０５', 'full-width digits'],
    ['', 'empty string'],
  ])('rejects %j (%s)', (code) => expect(isRegionCode(code)).toBe(false));

  it('accepts any four digits after a listed province', () => {
    fc.assert(fc.property(fc.constantFrom(...PROVINCE_CODES), digits(4), (p, rest) => isRegionCode(p + rest)));
  });

  it('for six-digit strings, is true exactly when the first two digits are a listed province', () => {
    fc.assert(fc.property(digits(6), (s) => isRegionCode(s) === EXPECTED_PROVINCES.includes(s.slice(0, 2))));
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => typeof isRegionCode(s) === 'boolean'));
  });
});

describe('provinceOf / prefectureOf', () => {
  it('takes the first two digits as the province', () => {
    expect(provinceOf('430406')).toBe('43');
  });

  it('takes the first four digits as the prefecture', () => {
    expect(prefectureOf('430406')).toBe('4304');
  });

  it('prefecture always starts with the province', () => {
    fc.assert(fc.property(digits(6), (s) => prefectureOf(s).startsWith(provinceOf(s))));
  });
});
