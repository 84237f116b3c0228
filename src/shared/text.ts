import { badInput } from './errors';

/**
 * U+0000 (PostgreSQL text cannot hold it: the insert failed with SQLSTATE
 * 22021) and lone UTF-16 surrogates (not characters: the driver would store
 * U+FFFD in their place, silently changing what was sent).
 */
const NOT_STORABLE = /[\0\p{Cs}]/u;

/** Refuses text the database cannot keep exactly as sent, naming the field. */
export function checkStorableText(field: string, value: string): string {
  if (NOT_STORABLE.test(value)) throw badInput(field, `${field} contains a NUL character or an unpaired surrogate.`);
  return value;
}

/** Characters (code points), as PostgreSQL's varchar(n) counts them: a character outside the BMP (生僻字, emoji) is one. */
export function codePointLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}
