import { badInput, notFound } from './errors';

/**
 * Opaque global ids: base64url("<Type>:<uuid>"). Clients must not parse them;
 * the type prefix lets `node(id)` route and lets `person(id)` refuse an
 * agency's id with NOT_FOUND instead of a database error.
 */
export type NodeType = 'Agency' | 'Account' | 'Person' | 'RescueCase' | 'Referral';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function toGlobalId(type: NodeType, uuid: string): string {
  return Buffer.from(`${type}:${uuid}`).toString('base64url');
}

export function parseGlobalId(id: string): { type: NodeType; uuid: string } | null {
  if (typeof id !== 'string' || id.length > 100) return null;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  const uuid = text.slice(i + 1);
  if (!UUID.test(uuid)) return null;
  return { type: text.slice(0, i) as NodeType, uuid };
}

/**
 * The uuid behind a global id of the expected type. A malformed id, or one
 * of another type, names no visible object: NOT_FOUND (contract), unless the
 * caller passed it as input, where it is BAD_USER_INPUT naming the field.
 */
export function uuidOf(type: NodeType, id: string, field?: string): string {
  const parsed = parseGlobalId(id);
  if (!parsed || parsed.type !== type) {
    if (field) throw badInput(field, `Not a ${type} id.`);
    throw notFound(type);
  }
  return parsed.uuid;
}

/** Page-size rule for every connection: 1..100 (contract default 20). */
export function pageSize(first: number | null | undefined, def = 20): number {
  const n = first ?? def;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw badInput('first', 'first must be between 1 and 100.');
  return n;
}

/** Keyset cursor over (timestamp, id): stable under inserts, opaque to clients. */
export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(cursor: string, field = 'after'): (string | number)[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.every((p) => typeof p === 'string' || typeof p === 'number')) return parts;
  } catch {
    /* fall through */
  }
  throw badInput(field, 'Not a cursor returned by this hub.');
}

/** PostgreSQL's own text form of a timestamptz, as our keyset cursors carry it (microseconds kept). */
const PG_TIMESTAMPTZ = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/**
 * What the pattern cannot see and PostgreSQL refuses (SQLSTATE 22008/22009):
 * a day the month does not have, year 0000, an offset past ±15:59.
 */
function isRealTimestamp(at: string): boolean {
  const [y, m, d] = at.slice(0, 10).split('-').map(Number);
  const offset = /[+-](\d{2})(?::(\d{2}))?$/.exec(at)!;
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return y >= 1 && d <= daysInMonth && Number(offset[1]) <= 15 && Number(offset[2] ?? 0) <= 59;
}

/**
 * A (timestamp, id) keyset cursor as issued by a connection of this hub.
 * Anything else — even one that decodes — is BAD_USER_INPUT on `after`,
 * never a database error.
 */
export function decodeKeysetCursor(after: string): { at: string; id: string } {
  const parts = decodeCursor(after);
  const [at, id] = parts;
  if (
    parts.length !== 2 ||
    typeof at !== 'string' ||
    typeof id !== 'string' ||
    !PG_TIMESTAMPTZ.test(at) ||
    !isRealTimestamp(at) ||
    !UUID.test(id)
  ) {
    throw badInput('after', 'Not a cursor returned by this hub.');
  }
  return { at, id };
}
