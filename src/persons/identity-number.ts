/**
 * Chinese resident identity number (公民身份号码), GB 11643-1999.
 *
 * Layout (GB 11643-1999 §4): 6-digit address code (GB/T 2260), 8-digit birth
 * date YYYYMMDD, 3-digit sequence code (odd = male, even = female), and one
 * check character computed with ISO 7064:1983 MOD 11-2 (§5.2).
 *
 * Error messages never echo the number: it is personal data and messages end
 * up in logs and GraphQL errors.
 */
import { isRegionCode } from '../shared/region-code';

export type IdNumberProblem = 'LENGTH' | 'FORMAT' | 'CHECKSUM' | 'REGION' | 'BIRTH_DATE';

export interface ParsedIdNumber {
  /** 18 characters, check character upper-case. */
  normalized: string;
  regionCode: string;
  /** YYYY-MM-DD */
  birthDate: string;
  birthYear: number;
  gender: 'MALE' | 'FEMALE';
}

export type ParseIdNumberResult = { ok: true; value: ParsedIdNumber } | { ok: false; problem: IdNumberProblem; message: string };

/** W_i = 2^(i-1) mod 11 for positions 18..2, i.e. the GB 11643-1999 §5.2 weights. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** Check character indexed by (Σ a_i·W_i) mod 11; 'X' stands for 10. */
const CHECK_CHARS = '10X98765432';

// ASCII only; lower-case x is tolerated because people type it that way.
const SHAPE = /^[0-9]{17}[0-9Xx]$/;
const FIRST17 = /^[0-9]{17}$/;

/** China Standard Time is UTC+8 with no DST; "today" for birth dates is Chinese today. */
const CST_OFFSET_MS = 8 * 60 * 60 * 1000;
const MIN_BIRTH_YEAR = 1900;

/** ISO 7064 MOD 11-2 check character for 17 ASCII digits. Throws RangeError otherwise. */
export function checkCharacter(first17: string): string {
  if (!FIRST17.test(first17)) {
    // Deliberately not echoing the argument (see module comment).
    throw new RangeError('checkCharacter expects exactly 17 ASCII digits');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/** Real Gregorian date, year >= 1900, not after "today" in China at `now`. */
function isAcceptableBirthDate(y: number, m: number, d: number, now: Date): boolean {
  if (y < MIN_BIRTH_YEAR || m < 1 || m > 12 || d < 1) return false;
  // Day 0 of the next month = last day of this month; handles leap years.
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (d > daysInMonth) return false;
  const today = new Date(now.getTime() + CST_OFFSET_MS);
  const todayKey = today.getUTCFullYear() * 10000 + (today.getUTCMonth() + 1) * 100 + today.getUTCDate();
  // An invalid `now` gives NaN; treat that as "cannot confirm" rather than accept.
  return y * 10000 + m * 100 + d <= todayKey;
}

function fail(problem: IdNumberProblem, message: string): ParseIdNumberResult {
  return { ok: false, problem, message };
}

/**
 * Validate and decompose an 18-character ID number. Checks run in a fixed
 * order and the first failure is reported: LENGTH, FORMAT, REGION,
 * BIRTH_DATE, CHECKSUM. No trimming: surrounding whitespace is a LENGTH error.
 * (15-digit first-generation numbers are not accepted.)
 */
export function parseIdNumber(raw: string, now: Date = new Date()): ParseIdNumberResult {
  if (typeof raw !== 'string' || raw.length !== 18) {
    const len = typeof raw === 'string' ? raw.length : 0;
    return fail('LENGTH', `identity number must be 18 characters, got ${len}`);
  }
  if (!SHAPE.test(raw)) {
    return fail('FORMAT', 'identity number must be 17 digits followed by a digit or X');
  }
  const normalized = raw.toUpperCase(); // only the last char can be a letter
  const regionCode = normalized.slice(0, 6);
  if (!isRegionCode(regionCode)) {
    return fail('REGION', 'identity number has an unknown region (address) code');
  }
  const y = Number(normalized.slice(6, 10));
  const m = Number(normalized.slice(10, 12));
  const d = Number(normalized.slice(12, 14));
  if (!isAcceptableBirthDate(y, m, d, now)) {
    return fail('BIRTH_DATE', 'identity number has an impossible birth date');
  }
  if (checkCharacter(normalized.slice(0, 17)) !== normalized[17]) {
    return fail('CHECKSUM', 'identity number check character does not match');
  }
  return {
    ok: true,
    value: {
      normalized,
      regionCode,
      birthDate: `${normalized.slice(6, 10)}-${normalized.slice(10, 12)}-${normalized.slice(12, 14)}`,
      birthYear: y,
      // GB 11643-1999 §4.4: sequence code's last digit (17th char) odd = male.
      gender: (normalized.charCodeAt(16) - 48) % 2 === 1 ? 'MALE' : 'FEMALE',
    },
  };
}

/**
 * Display form: region + 8 stars + last 4, e.g. 430406********123X.
 * Anything that is not 18 characters is masked completely, so a malformed
 * value can never leak through this function.
 */
export function maskIdNumber(normalized: string): string {
  if (normalized.length !== 18) return '*'.repeat(normalized.length);
  return `${normalized.slice(0, 6)}********${normalized.slice(14)}`;
}
