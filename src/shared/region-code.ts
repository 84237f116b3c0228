/**
 * GB/T 2260 administrative division codes (行政区划代码).
 *
 * A code is six digits: 2 for the province-level division, 2 for the
 * prefecture, 2 for the county. We only validate the province part against
 * a fixed list: the full county table changes every year (mergers, renames)
 * and ID numbers keep the code that was valid when they were issued, so a
 * "current" county table would wrongly reject old but genuine numbers.
 *
 * Pure and dependency-free on purpose: used by ID-number parsing and by
 * anything that routes work to a province.
 */

/**
 * Province-level codes (省级), incl. 71 Taiwan, 81 Hong Kong, 82 Macao.
 * Frozen so no caller can mutate the shared list at run time.
 */
export const PROVINCE_CODES: readonly string[] = Object.freeze([
  '11',
  '12',
  '13',
  '14',
  '15',
  '21',
  '22',
  '23',
  '31',
  '32',
  '33',
  '34',
  '35',
  '36',
  '37',
  '41',
  '42',
  '43',
  '44',
  '45',
  '46',
  '50',
  '51',
  '52',
  '53',
  '54',
  '61',
  '62',
  '63',
  '64',
  '65',
  '71',
  '81',
  '82',
]);

const PROVINCES = new Set(PROVINCE_CODES);

// ASCII digits only: `\d` would be fine without the `u` flag, but spelling it
// out guards against full-width or other Unicode digits ever slipping in.
const SIX_DIGITS = /^[0-9]{6}$/;

/** Exactly six ASCII digits whose first two are a province-level code. */
export function isRegionCode(s: string): boolean {
  return SIX_DIGITS.test(s) && PROVINCES.has(s.slice(0, 2));
}

/** Province part (first two digits). Does not validate: call isRegionCode first. */
export function provinceOf(code: string): string {
  return code.slice(0, 2);
}

/** Province + prefecture part (first four digits). Does not validate. */
export function prefectureOf(code: string): string {
  return code.slice(0, 4);
}
