import { Vulnerability } from '../persons/person.enums';
import type { Person } from '../persons/person.entity';
import { chinaYear } from '../shared/china-time';
import { CaseOutcome } from './case.enums';

/** 工作规程: these persons are collected by family or escorted, never sent off alone. */
const MAY_NOT_LEAVE_ALONE = [
  Vulnerability.MENTAL_ILLNESS,
  Vulnerability.DEMENTIA_OR_INTELLECTUAL_DISABILITY,
  Vulnerability.PHYSICAL_DISABILITY,
];

/** Outcomes in which the person travels or walks away on their own. */
export const ALONE_OUTCOMES = [CaseOutcome.RETURNED_FUNDED, CaseOutcome.LEFT_VOLUNTARILY];

/** Outcomes that only a received referral produces (DOMAIN.md §4), never closeCase. */
export const REFERRAL_OUTCOMES = [CaseOutcome.RETURNED_ESCORTED, CaseOutcome.PLACED_IN_WELFARE_HOME];

/**
 * Under 16, or a listed vulnerability. With only a birth year known, someone
 * born 16 years ago may still be 15: for a child's safety that counts as under 16.
 */
export function mayNotLeaveAlone(person: Pick<Person, 'birthYear' | 'vulnerabilities'>, now: Date): boolean {
  if (person.birthYear !== null && chinaYear(now) - person.birthYear <= 16) return true;
  return person.vulnerabilities.some((v) => MAY_NOT_LEAVE_ALONE.includes(v));
}
