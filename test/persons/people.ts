/**
 * Test helpers for persons and cases: resident ID numbers computed here,
 * independently of src/persons/identity-number.ts (so a bug there cannot
 * hide behind a helper that shares it), and small accessors for errors and
 * opaque ids.
 */
import { OpenCaseDocument, type OpenCaseMutationVariables } from '../generated/graphql';
import type { GraphQLResponse, TestHub } from '../support/hub';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** GB 11643 check character of 17 digits. */
export function checkChar(first17: string): string {
  const sum = [...first17].reduce((s, c, i) => s + Number(c) * WEIGHTS[i], 0);
  return '10X98765432'[sum % 11];
}

let serial = 100;

/**
 * A valid number for region + birth date (YYYYMMDD); the sequence digits are
 * unique per call (odd last digit for a man, even for a woman).
 */
export function idNumber(region: string, birthDate: string, gender: 'MALE' | 'FEMALE' = 'MALE'): string {
  serial = (serial + 1) % 500;
  const seq = String(serial * 2 + (gender === 'MALE' ? 1 : 0)).padStart(3, '0');
  const body = `${region}${birthDate}${seq}`;
  return body + checkChar(body);
}

/** The same 17 digits with a wrong check character. */
export function withWrongCheck(id: string): string {
  const right = id[17];
  const wrong = right === '0' ? '1' : '0';
  return id.slice(0, 17) + wrong;
}

/** A number ending in X (the check character for 10), for the lower-case x tests. */
export function idNumberEndingInX(region: string, birthDate: string): string {
  for (let s = 0; s < 1000; s++) {
    const body = `${region}${birthDate}${String(s).padStart(3, '0')}`;
    if (checkChar(body) === 'X') return `${body}X`;
  }
  throw new Error('no number ends in X');
}

export const thisYear = () => new Date().getUTCFullYear();

/** The uuid behind an opaque global id, for SQL checks only. */
export const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1];

export function errorOf(res: GraphQLResponse<unknown>): Record<string, unknown> {
  expect(res.errors).toBeDefined();
  return res.errors![0].extensions ?? {};
}

type NewPerson = NonNullable<OpenCaseMutationVariables['input']['person']>;

/** Opens a case for a new person at the station whose token is given. */
export async function openCaseFor(hub: TestHub, token: string, person: Partial<NewPerson> = {}) {
  const { openCase } = await hub.ok(
    OpenCaseDocument,
    { input: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN', ...person } } },
    token,
  );
  return openCase;
}
