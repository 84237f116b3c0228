/**
 * ICD-10 diagnosis codes on referrals (e.g. a psychiatric hospital transfer).
 *
 * Shape: category = letter + two digits (F20), optionally '.' + 1-4
 * alphanumerics for subcategories/extensions (F20.9, S72.001, ICD-10-CM style
 * S72.001A). We check shape only, not membership in a code table: local
 * editions (GB/T 14396, ICD-10-CM) extend the list and drift over time.
 */

export type Icd10Result = { ok: true; code: string; isMentalDisorder: boolean } | { ok: false };

// ASCII only and anchored: no whitespace, no trimming, no Unicode look-alikes.
const ICD10 = /^[A-Za-z][0-9]{2}(?:\.[A-Za-z0-9]{1,4})?$/;

export function parseIcd10(raw: string): Icd10Result {
  if (typeof raw !== 'string' || !ICD10.test(raw)) return { ok: false };
  // Upper-case everything: codes are case-insensitive and stored canonical.
  const code = raw.toUpperCase();
  // Chapter V "Mental and behavioural disorders" is exactly F00-F99.
  return { ok: true, code, isMentalDisorder: code[0] === 'F' };
}
