import { Field, Int, ObjectType } from 'type-graphql';
import { Agency } from '../agencies/agency.entity';
import { agencyLoaders } from '../agencies/agency.loaders';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { CaseOutcome, IntakeChannel } from '../cases/case.enums';
import { AgeGroup, Gender, Vulnerability } from '../persons/person.enums';
import { badInput, forbidden, notFound } from '../shared/errors';
import { provinceOf } from '../shared/region-code';
import { uuidOf } from '../shared/relay';

@ObjectType({ description: 'One key of a breakdown and how many person-times (人次) fall under it.' })
export class CountByKey {
  @Field({ description: 'An enum value (e.g. MALE, ADULT, RETURNED_FUNDED) or OPEN for cases not yet closed.' })
  key!: string;

  @Field(() => Int, { description: 'Person-times (人次): a person with two cases in the period counts twice.' })
  count!: number;
}

@ObjectType({ description: "Counts of person-times (人次) for cases opened in the period, as in a station's work report." })
export class StationReport {
  @Field(() => Agency, { description: 'The rescue station whose cases are counted.' })
  station!: Agency;

  @Field({ description: 'Start of the period, inclusive.' })
  from!: Date;

  @Field({ description: 'End of the period, exclusive.' })
  to!: Date;

  @Field(() => Int, { description: '受助人次: cases opened at the station in [from, to).' })
  total!: number;

  @Field(() => Int, { description: "Origin outside the station's province (省外)." })
  outOfProvince!: number;

  @Field(() => Int, { description: "Origin inside the station's province (本市及其它市)." })
  inProvince!: number;

  @Field(() => Int, { description: 'No origin known (不详). outOfProvince + inProvince + originUnknown = total.' })
  originUnknown!: number;

  @Field(() => [CountByKey], { description: 'MALE, FEMALE, UNKNOWN (性别); adds up to total.' })
  byGender!: CountByKey[];

  @Field(() => [CountByKey], {
    description: 'At the opening of the case: MINOR 未成年人, ADULT 青壮年, ELDERLY 老年, UNKNOWN 年龄不详; adds up to total.',
  })
  byAgeGroup!: CountByKey[];

  @Field(() => [CountByKey], {
    description: '重点救助对象, e.g. 肢体残疾, 精神病人, 痴呆傻. Overlapping (a person may have several): does not add up to total.',
  })
  byVulnerability!: CountByKey[];

  @Field(() => [CountByKey], { description: 'How the person came in; adds up to total.' })
  byIntakeChannel!: CountByKey[];

  @Field(() => [CountByKey], {
    description: 'Of the cases counted in total: closed ones by outcome; the rest under the key OPEN. The counts add up to total.',
  })
  byOutcome!: CountByKey[];
}

/** The key under which byOutcome counts cases still open. */
export const OPEN = 'OPEN';

/** Every key of every breakdown, in enum order: a report always lists them all, 0 where none. */
const BREAKDOWNS = {
  byGender: { keys: Object.values(Gender), where: 'p.gender::text' },
  byAgeGroup: { keys: Object.values(AgeGroup), where: 'c.age_group::text' },
  byIntakeChannel: { keys: Object.values(IntakeChannel), where: 'c.intake_channel::text' },
  byOutcome: { keys: [...Object.values(CaseOutcome), OPEN], where: `CASE WHEN c.status = 'OPEN' THEN '${OPEN}' ELSE c.outcome::text END` },
} as const;

type Breakdown = keyof typeof BREAKDOWNS | 'byVulnerability';

/**
 * One statement, aggregates only: a FILTER'd count per key of every
 * breakdown over the station's cases opened in [from, to) joined to their
 * persons. Keys travel as parameters; the column names are ours.
 *
 * Gender, origin and vulnerabilities are the person's as recorded now (what
 * was learnt during the stay, e.g. a diagnosis, counts); the age group is the
 * one fixed at the opening of the case, as the case records it.
 */
export async function stationReport(ctx: RequestContext, stationGlobalId: string, from: Date, to: Date): Promise<StationReport> {
  const actor = requireAuthenticated(ctx.actor);
  const stationId = uuidOf('Agency', stationGlobalId, 'stationId');
  if (from.getTime() >= to.getTime()) throw badInput('to', 'to must be later than from.');
  // The figures are the station's own: its staff (any role) and the administrator read them.
  if (actor.kind === 'account' && actor.agencyId !== stationId) throw forbidden("Only the station's own staff may read its report.");
  const station = await agencyLoaders(ctx).agency.load(stationId);
  if (!station) throw notFound('Agency');
  if (station.kind !== AgencyKind.RESCUE_STATION) throw badInput('stationId', 'Reports are kept by rescue stations.');

  const params: unknown[] = [stationId, from, to, provinceOf(station.regionCode)];
  const p = (v: unknown) => `$${params.push(v)}`;
  const columns: string[] = [];
  const keysOf: [Breakdown, string, string][] = [];
  const column = (breakdown: Breakdown, key: string, condition: string) => {
    const name = `k${columns.length}`;
    columns.push(`count(*) FILTER (WHERE ${condition})::int AS ${name}`);
    keysOf.push([breakdown, key, name]);
  };
  for (const [breakdown, { keys, where }] of Object.entries(BREAKDOWNS) as [Breakdown, (typeof BREAKDOWNS)[keyof typeof BREAKDOWNS]][]) {
    for (const key of keys) column(breakdown, key, `${where} = ${p(key)}`);
  }
  for (const key of Object.values(Vulnerability)) column('byVulnerability', key, `${p(key)}::vulnerability = ANY (p.vulnerabilities)`);

  const [row]: Record<string, number>[] = await ctx.db.query(
    `SELECT count(*)::int AS total,
            count(*) FILTER (WHERE left(p.origin_region_code, 2) <> $4)::int AS out_of_province,
            count(*) FILTER (WHERE left(p.origin_region_code, 2) = $4)::int AS in_province,
            count(*) FILTER (WHERE p.origin_region_code IS NULL)::int AS origin_unknown,
            ${columns.join(',\n            ')}
       FROM rescue_case c
       JOIN person p ON p.id = c.person_id
      WHERE c.station_id = $1 AND c.opened_at >= $2 AND c.opened_at < $3`,
    params,
  );
  const report: StationReport = {
    station,
    from,
    to,
    total: row.total,
    outOfProvince: row.out_of_province,
    inProvince: row.in_province,
    originUnknown: row.origin_unknown,
    byGender: [],
    byAgeGroup: [],
    byVulnerability: [],
    byIntakeChannel: [],
    byOutcome: [],
  };
  for (const [breakdown, key, name] of keysOf) report[breakdown].push({ key, count: row[name] });
  return report;
}
