import { chinaYear } from '../shared/china-time';
import { badInput } from '../shared/errors';
import { isRegionCode } from '../shared/region-code';
import { checkStorableText, codePointLength } from '../shared/text';
import { parseIdNumber } from './identity-number';
import { Gender, Vulnerability } from './person.enums';
import type { PersonInput } from './person.input';

/** What the hub keeps about a person, checked and completed from the ID number. */
export interface PersonFacts {
  name: string | null;
  gender: Gender;
  birthYear: number | null;
  /** Normalized (upper-case X); encrypted before it is stored. */
  idNumber: string | null;
  originRegionCode: string | null;
  vulnerabilities: Vulnerability[];
  description: string | null;
}

/** Trimmed; empty means unknown (null); longer than `max` is refused, never cut. */
export function optionalText(field: string, raw: string | null | undefined, max: number): string | null {
  if (raw === null || raw === undefined) return null;
  const v = checkStorableText(field, raw).trim();
  // Characters (code points), as PostgreSQL's varchar(n) counts them: a rare name character outside the BMP (生僻字) is one, not two.
  if (codePointLength(v) > max) throw badInput(field, `${field} must be at most ${max} characters.`);
  return v.length === 0 ? null : v;
}

export function checkBirthYear(field: string, year: number | null | undefined, now: Date): number | null {
  if (year === null || year === undefined) return null;
  if (!Number.isInteger(year) || year < 1900 || year > chinaYear(now)) {
    throw badInput(field, `birthYear must be between 1900 and ${chinaYear(now)}.`);
  }
  return year;
}

export function checkOptionalRegion(field: string, code: string | null | undefined): string | null {
  if (code === null || code === undefined) return null;
  if (!isRegionCode(code)) throw badInput(field, 'A region code is six digits whose first two are a province code (GB/T 2260).');
  return code;
}

/** GB 11643: a valid number, or BAD_USER_INPUT naming the field (the message never repeats the number). */
export function checkIdNumber(field: string, raw: string, now: Date) {
  const parsed = parseIdNumber(raw, now);
  if (!parsed.ok) throw badInput(field, `Not a valid resident ID number: ${parsed.message}`, { problem: parsed.problem });
  return parsed.value;
}

/**
 * Checks a PersonInput (`prefix` is its path, e.g. `input.person`). Gender,
 * birth year and origin missing are taken from a valid ID number; given ones
 * that contradict it are refused on their own field. Duplicate
 * vulnerabilities are folded; nothing else is silently changed.
 */
export function checkPersonInput(input: PersonInput, prefix: string, now = new Date()): PersonFacts {
  const name = optionalText(`${prefix}.name`, input.name, 50);
  const description = optionalText(`${prefix}.description`, input.description, 2000);
  let birthYear = checkBirthYear(`${prefix}.birthYear`, input.birthYear, now);
  let originRegionCode = checkOptionalRegion(`${prefix}.originRegionCode`, input.originRegionCode);
  let gender = input.gender;
  let idNumber: string | null = null;
  if (input.idNumber !== null && input.idNumber !== undefined) {
    const id = checkIdNumber(`${prefix}.idNumber`, input.idNumber, now);
    idNumber = id.normalized;
    if (gender !== Gender.UNKNOWN && gender !== id.gender) {
      throw badInput(`${prefix}.gender`, 'gender contradicts the ID number.');
    }
    if (birthYear !== null && birthYear !== id.birthYear) {
      throw badInput(`${prefix}.birthYear`, 'birthYear contradicts the ID number.');
    }
    if (originRegionCode !== null && originRegionCode !== id.regionCode) {
      throw badInput(`${prefix}.originRegionCode`, 'originRegionCode contradicts the ID number.');
    }
    gender = id.gender as Gender;
    birthYear = id.birthYear;
    originRegionCode = id.regionCode;
  }
  const vulnerabilities = [...new Set(input.vulnerabilities ?? [])].sort();
  return { name, gender, birthYear, idNumber, originRegionCode, vulnerabilities, description };
}
