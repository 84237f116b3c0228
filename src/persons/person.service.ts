import type { DataSource, EntityManager } from 'typeorm';
import { PARTY_SQL } from '../access/access.policy';
import { appendAudit } from '../audit/audit.service';
import { AgencyKind, requireAgency } from '../auth/actor';
import { inRequestTransaction, type RequestContext } from '../auth/context';
import { rowShape } from '../db/rows';
import { constraintName, sqlState } from '../db/transaction';
import { badInput, conflict, notFound } from '../shared/errors';
import { prefectureOf } from '../shared/region-code';
import { uuidOf } from '../shared/relay';
import { encryptIdNumber, idNumberHash } from './id-number.crypto';
import { Gender, IdentityStatus } from './person.enums';
import { Person } from './person.entity';
import type { PersonInput, VerifyIdentityInput } from './person.input';
import { checkIdNumber, checkPersonInput, type PersonFacts, optionalText } from './person.rules';

/** A unique-index violation on the ID-number hash means: this human is already registered. */
async function guardDuplicateIdNumber<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (sqlState(err) === '23505' && constraintName(err) === 'person_id_number_hash_key') {
      throw conflict('A person with this ID number is already registered; refer to them by personId.', { field });
    }
    throw err;
  }
}

export async function createPerson(tx: EntityManager, ctx: RequestContext, facts: PersonFacts, field: string): Promise<Person> {
  const key = ctx.settings.idNumberKey;
  if (facts.idNumber) {
    const existing = await tx.getRepository(Person).findOneBy({ idNumberHash: idNumberHash(key, facts.idNumber) });
    if (existing) {
      throw conflict('A person with this ID number is already registered; refer to them by personId.', { field: `${field}.idNumber` });
    }
  }
  const repo = tx.getRepository(Person);
  const person = repo.create({
    name: facts.name,
    gender: facts.gender,
    birthYear: facts.birthYear,
    idNumberCipher: facts.idNumber ? encryptIdNumber(key, facts.idNumber) : null,
    idNumberHash: facts.idNumber ? idNumberHash(key, facts.idNumber) : null,
    // Anything the person says about who they are is self-reported until the police verify it.
    identityStatus: facts.name || facts.idNumber ? IdentityStatus.SELF_REPORTED : IdentityStatus.UNKNOWN,
    originRegionCode: facts.originRegionCode,
    vulnerabilities: facts.vulnerabilities,
    description: facts.description,
  });
  const saved = await guardDuplicateIdNumber(`${field}.idNumber`, () => repo.save(person));
  await appendAudit(tx, ctx, [{ action: 'person.create', subjectType: 'Person', subjectId: saved.id }]);
  return saved;
}

/**
 * The person an intake or escort is about: an existing one (`personId`) or a
 * new one (`person`), exactly one of the two. The row is locked for the rest
 * of the transaction so that parallel intakes of one person serialize.
 */
export async function personForIntake(
  tx: EntityManager,
  ctx: RequestContext,
  input: { personId?: string | null; person?: PersonInput | null },
  prefix = 'input',
): Promise<{ person: Person; created: boolean }> {
  if ((input.personId == null) === (input.person == null)) {
    throw badInput(`${prefix}.personId`, 'Give either personId (a known person) or person (a new one), not both or neither.');
  }
  if (input.personId != null) {
    const id = uuidOf('Person', input.personId, `${prefix}.personId`);
    const person = await lockPerson(tx, id);
    if (!person) throw badInput(`${prefix}.personId`, 'No such person.');
    return { person, created: false };
  }
  const facts = checkPersonInput(input.person!, `${prefix}.person`);
  return { person: await createPerson(tx, ctx, facts, `${prefix}.person`), created: true };
}

export async function lockPerson(tx: EntityManager, id: string): Promise<Person | null> {
  const shape = rowShape(tx.connection, Person);
  const [row]: Record<string, unknown>[] = await tx.query(
    `SELECT ${shape.select('p')} FROM person p WHERE p.id = $1::uuid FOR UPDATE OF p`,
    [id],
  );
  return row ? shape.map(row) : null;
}

/** Who holds a person and their open case, as read once the person's lock is held. */
export interface Holding {
  holderId: string | null;
  openCase: { id: string; stationId: string } | null;
}

/**
 * lockPerson, and in the same statement whether `agencyId` may see the person (need to know: PARTY_SQL, the
 * policy's own rule) and who holds them now with their open case. Null when the person is absent or not visible,
 * which the caller answers NOT_FOUND alike. On the transaction's own connection: a second pool connection taken
 * while holding the lock would let poolSize concurrent requests wait on each other. A party stays a party, so the
 * statement's snapshot suffices for need to know; custody and cases change only under the person's lock, and
 * person_holding reads them with a snapshot of its own, above the locking subquery, so after the lock is granted
 * (migrations/1796239262076-PersonHolding.ts).
 */
export async function lockVisiblePerson(
  tx: EntityManager,
  id: string,
  agencyId: string,
): Promise<{ person: Person; holding: Holding } | null> {
  const lock = lockVisiblePersonStatement(tx.connection, id, agencyId);
  return lockedPersonOf(tx.connection, (await tx.query(lock.sql, lock.params))[0]);
}

/**
 * The person's row lock alone, for a statement sent behind it that reads what it needs with a snapshot of its own
 * once the lock is held and decides in SQL (referral.create.ts, the guarded request). Taken whoever asks, as
 * lockVisiblePerson's is: a caller who may not see the person holds it for one statement that changes nothing.
 */
export function personLockStatement(id: string): { sql: string; params: unknown[] } {
  return { sql: `SELECT 1 FROM person p WHERE p.id = $1::uuid FOR UPDATE OF p`, params: [id] };
}

/** lockVisiblePerson's statement. */
function lockVisiblePersonStatement(db: DataSource, id: string, agencyId: string): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT l.*, h.holder_id, h.case_id, h.case_station_id
         FROM (SELECT ${rowShape(db, Person).select('p')}, ${PARTY_SQL('p.id', '$2::uuid')} AS visible FROM person p WHERE p.id = $1::uuid FOR UPDATE OF p) l,
              LATERAL person_holding(l.id) h`,
    params: [id, agencyId],
  };
}

/** What lockVisiblePerson answers, from its statement's row. */
function lockedPersonOf(db: DataSource, row: Record<string, unknown> | undefined): { person: Person; holding: Holding } | null {
  if (!row?.visible) return null;
  const caseId = row.case_id as string | null;
  return {
    person: rowShape(db, Person).map(row)!,
    holding: {
      holderId: row.holder_id as string | null,
      openCase: caseId ? { id: caseId, stationId: row.case_station_id as string } : null,
    },
  };
}

/** A person the caller may see, or NOT_FOUND (never "exists but forbidden"). */
export async function visiblePerson(ctx: RequestContext, id: string): Promise<Person> {
  const person = await ctx.db.getRepository(Person).findOneBy({ id });
  if (!person || !(await ctx.access.visiblePersons(ctx, [id])).has(id)) throw notFound('Person');
  return person;
}

const BIRTH_YEAR_TOLERANCE = 5;

/**
 * Police only (户籍核查 is theirs): identity VERIFIED with name and ID number.
 * What was unknown (gender, birth year, origin) is filled in from the number;
 * what was known and contradicts it is refused on the idNumber field.
 */
export async function verifyIdentity(ctx: RequestContext, input: VerifyIdentityInput): Promise<Person> {
  requireAgency(ctx.actor, AgencyKind.POLICE_STATION);
  const id = uuidOf('Person', input.personId, 'input.personId');
  const name = optionalText('input.name', input.name, 50);
  if (!name) throw badInput('input.name', 'name must not be empty.');
  const parsed = checkIdNumber('input.idNumber', input.idNumber, new Date());
  await visiblePerson(ctx, id);
  return inRequestTransaction(ctx, async (tx) => {
    const person = (await lockPerson(tx, id))!;
    if (person.gender !== Gender.UNKNOWN && person.gender !== parsed.gender) {
      throw badInput('input.idNumber', 'The ID number contradicts the recorded gender.');
    }
    // Birth years are often estimated by staff (DOMAIN.md §3): within 5 years is the same person.
    if (person.birthYear !== null && Math.abs(person.birthYear - parsed.birthYear) > BIRTH_YEAR_TOLERANCE) {
      throw badInput('input.idNumber', 'The ID number contradicts the recorded birth year.');
    }
    // A self-reported origin may name the county wrongly, but not the prefecture.
    if (person.originRegionCode !== null && prefectureOf(person.originRegionCode) !== prefectureOf(parsed.regionCode)) {
      throw badInput('input.idNumber', 'The ID number contradicts the recorded origin.');
    }
    const key = ctx.settings.idNumberKey;
    person.name = name;
    person.gender = parsed.gender as Gender;
    // An estimated birth year and a self-reported origin give way to the verified number.
    person.birthYear = parsed.birthYear;
    person.originRegionCode = parsed.regionCode;
    person.idNumberCipher = encryptIdNumber(key, parsed.normalized);
    person.idNumberHash = idNumberHash(key, parsed.normalized);
    person.identityStatus = IdentityStatus.VERIFIED;
    const saved = await guardDuplicateIdNumber('input.idNumber', () => tx.getRepository(Person).save(person));
    await appendAudit(tx, ctx, [{ action: 'person.verifyIdentity', subjectType: 'Person', subjectId: id }]);
    return saved;
  });
}
