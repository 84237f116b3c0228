import { PLAN_EACH_CALL } from '../db/prepared-client';
import { Field, Float, ObjectType } from 'type-graphql';
import { noteRead } from '../audit/audit.service';
import { AgencyKind, requireAgency } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { badInput } from '../shared/errors';
import { idNumberHash } from './id-number.crypto';
import { Person } from './person.entity';
import { Gender } from './person.enums';
import type { PersonSearchInput } from './person.input';
import { checkBirthYear, checkIdNumber, checkOptionalRegion, optionalText } from './person.rules';

@ObjectType()
export class PersonMatch {
  @Field(() => Person)
  person!: Person;

  @Field(() => Float, { description: '0..1, higher is more alike.' })
  score!: number;

  @Field(() => [String], { description: 'Which attributes agreed, e.g. ["idNumber"] or ["name", "birthYear", "originRegionCode"].' })
  matchedOn!: string[];
}

/** Below this trigram similarity a name does not count as matching (pg_trgm's own default). */
const NAME_THRESHOLD = 0.3;

/**
 * pg_trgm finds no trigrams in Chinese names (the database's ctype is C, so
 * Han characters are not "alphanumeric": similarity('张建国', '张建国') is 0),
 * and a 3-character name is a single word whose trigrams barely overlap
 * when one character differs. Names with non-ASCII characters are therefore
 * also compared by character bigrams (Jaccard, with start and end marks,
 * spaces and dots ignored): 张建国 / 张健国 0.33, 张三 / 张伟 (surname only) 0.2.
 */
const NON_ASCII = '[^\\x01-\\x7f]';
const bigrams = (text: string) =>
  `ARRAY(SELECT DISTINCT substr(t.s, i, 2)
           FROM (SELECT '^' || regexp_replace(lower(${text}), '[[:space:]·.-]', '', 'g') || '$' AS s) t,
                generate_series(1, char_length(t.s) - 1) i)`;

/**
 * Candidates for the same human (de-duplication before registering). An
 * equal ID number is certain (score 1). Otherwise a weighted sum: name
 * similarity (pg_trgm) 0.5, birth year within 2 years 0.2, origin region 0.2
 * (same prefecture 0.1), gender 0.1. Ties broken by id, so the ranking is
 * stable. Persons the caller is not party to are shown as existing, with only
 * the attributes that matched (see person.resolver.ts: `redacted`).
 */
export async function findPersons(ctx: RequestContext, input: PersonSearchInput): Promise<PersonMatch[]> {
  requireAgency(ctx.actor, AgencyKind.RESCUE_STATION, AgencyKind.POLICE_STATION);
  const now = new Date();
  const limit = input.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw badInput('input.limit', 'limit must be between 1 and 50.');
  const name = optionalText('input.name', input.name, 50);
  const birthYear = checkBirthYear('input.birthYear', input.birthYear, now);
  const origin = checkOptionalRegion('input.originRegionCode', input.originRegionCode);
  optionalText('input.description', input.description, 2000);
  const hash =
    input.idNumber != null ? idNumberHash(ctx.settings.idNumberKey, checkIdNumber('input.idNumber', input.idNumber, now).normalized) : null;
  const gender = input.gender && input.gender !== Gender.UNKNOWN ? input.gender : null;
  if (!name && !hash && birthYear === null && !origin) {
    throw badInput('input', 'Give at least a name, an ID number, a birth year or an origin region.');
  }
  const rows: (Record<string, unknown> & {
    score: number;
    m_id: boolean;
    m_name: boolean;
    m_year: boolean;
    m_origin: boolean;
    m_gender: boolean;
  })[] = await ctx.db.query(
    // Planned at each call: the filters left out ($n IS NULL) fold away, so a search by ID number is an index lookup.
    `${PLAN_EACH_CALL}WITH q AS (SELECT ${bigrams('$1::text')} AS grams),
       candidates AS (
         SELECT p.*, p.vulnerabilities::text[] AS vulnerability_list,
                (p.id_number_hash = $2) IS TRUE AS m_id,
                GREATEST(COALESCE(similarity(p.name, $1), 0), han.sim) AS name_sim,
                ($3::int IS NOT NULL AND abs(p.birth_year - $3::int) <= 2) IS TRUE AS m_year,
                ($4::text IS NOT NULL AND p.origin_region_code = $4) IS TRUE AS m_origin,
                ($4::text IS NOT NULL AND left(p.origin_region_code, 4) = left($4, 4)) IS TRUE AS m_prefecture,
                ($5::text IS NOT NULL AND p.gender::text = $5) IS TRUE AS m_gender
           FROM person p
          CROSS JOIN q
          CROSS JOIN LATERAL (
                SELECT CASE WHEN $1::text ~ '${NON_ASCII}' AND p.name IS NOT NULL
                            THEN (SELECT count(*) FILTER (WHERE g = ANY (q.grams))::float8
                                         / (count(*) + cardinality(q.grams) - count(*) FILTER (WHERE g = ANY (q.grams)))
                                    FROM unnest(${bigrams('p.name')}) g)
                            ELSE 0 END AS sim) han
          WHERE ($2::bytea IS NOT NULL AND p.id_number_hash = $2)
             OR ($1::text IS NOT NULL AND p.name % $1)
             OR ($1::text ~ '${NON_ASCII}' AND han.sim >= ${NAME_THRESHOLD})
             OR ($1::text IS NULL AND $2::bytea IS NULL
                 AND ($3::int IS NULL OR p.birth_year BETWEEN $3::int - 2 AND $3::int + 2)
                 AND ($4::text IS NULL OR left(p.origin_region_code, 4) = left($4, 4)))
       )
       SELECT c.*, c.name_sim >= ${NAME_THRESHOLD} AS m_name,
              CASE WHEN c.m_id THEN 1.0
                   ELSE least(0.99, 0.5 * c.name_sim + CASE WHEN c.m_year THEN 0.2 ELSE 0 END
                        + CASE WHEN c.m_origin THEN 0.2 WHEN c.m_prefecture THEN 0.1 ELSE 0 END
                        + CASE WHEN c.m_gender THEN 0.1 ELSE 0 END) END AS score
         FROM candidates c
        ORDER BY score DESC, c.id
        LIMIT $6`,
    [name, hash, birthYear, origin, gender, limit],
  );
  const visible = await ctx.access.visiblePersons(
    ctx,
    rows.map((r) => r.id as string),
  );
  // A record shown whole is a read of it (DOMAIN.md §6); a redacted one shows only what the caller typed in.
  for (const id of visible) noteRead(ctx, 'person.read', id);
  return rows.map((r) => {
    const matchedOn = [
      ...(r.m_id ? ['idNumber'] : []),
      ...(r.m_name ? ['name'] : []),
      ...(r.m_year ? ['birthYear'] : []),
      ...(r.m_origin ? ['originRegionCode'] : []),
      ...(r.m_gender ? ['gender'] : []),
    ];
    const person = ctx.db.getRepository(Person).create({
      id: r.id as string,
      name: r.name as string | null,
      gender: r.gender as Gender,
      birthYear: r.birth_year as number | null,
      idNumberCipher: r.id_number_cipher as Buffer | null,
      idNumberHash: null,
      identityStatus: r.identity_status as Person['identityStatus'],
      originRegionCode: r.origin_region_code as string | null,
      vulnerabilities: r.vulnerability_list as Person['vulnerabilities'],
      description: r.description as string | null,
    });
    return { person: visible.has(person.id) ? person : redact(person, matchedOn), score: Number(Number(r.score).toFixed(4)), matchedOn };
  });
}

/** Only the matched attributes of a person the caller is not party to: enough to know the record exists. */
function redact(p: Person, matchedOn: string[]): Person {
  const keep = new Set(matchedOn);
  return Object.assign(Object.create(Person.prototype) as Person, {
    id: p.id,
    redacted: true,
    name: keep.has('name') ? p.name : null,
    gender: keep.has('gender') ? p.gender : Gender.UNKNOWN,
    birthYear: keep.has('birthYear') ? p.birthYear : null,
    idNumberCipher: null,
    idNumberHash: null,
    identityStatus: 'UNKNOWN',
    originRegionCode: keep.has('originRegionCode') ? p.originRegionCode : null,
    vulnerabilities: [],
    description: null,
  });
}
