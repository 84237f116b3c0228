import DataLoader from 'dataloader';
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { Agency } from '../agencies/agency.entity';
import { agencyNow, requiredAgency } from '../agencies/agency.loaders';
import { andThen, KnownLoader, type Now } from '../db/known-loader';
import { perRequest, type RequestContext } from '../auth/context';
import { rowShape, rowsGroupedBy } from '../db/rows';
import { Person } from '../persons/person.entity';
import { personLoaders } from '../persons/person.loaders';
import { isRedacted } from '../persons/person.resolver';
import { CustodyRecord } from './custody-record.entity';

/** One query for the custody history of every person on the page. */
export const custodyLoaders = perRequest(Symbol('custody'), (ctx: RequestContext) => ({
  historyByPerson: new DataLoader<string, CustodyRecord[]>((personIds) =>
    rowsGroupedBy(ctx.db, CustodyRecord, 'person_id', personIds, 't.from_at, t.id'),
  ),
  openByPerson: new KnownLoader<string, CustodyRecord | null>(async (personIds) => {
    const shape = rowShape(ctx.db, CustodyRecord);
    const rows: Record<string, unknown>[] = await ctx.db.query(
      `SELECT ${shape.select('t')} FROM custody_record t WHERE t.person_id = ANY($1::uuid[]) AND t.to_at IS NULL`,
      [personIds],
    );
    const map = new Map(rows.map((r) => [r.personId as string, shape.map(r)!]));
    return personIds.map((id) => map.get(id) ?? null);
  }),
}));

/**
 * Reads a person's row and open custody record along with another statement's rows (its SELECT list and LEFT
 * JOINs on `personId`, an SQL expression), and primes both loaders from each row: whoever lists persons
 * (need to know, a station's page of cases) brings what their fields will ask for in the same round trip.
 */
export function withPersonAndOpenCustody(ctx: RequestContext, personId: string) {
  const person = rowShape(ctx.db, Person);
  const custody = rowShape(ctx.db, CustodyRecord);
  const persons = personLoaders(ctx).person;
  const openCustody = custodyLoaders(ctx).openByPerson;
  return {
    select: `${person.select('pp', 'p_')}, ${custody.select('kk', 'k_')}`,
    joins: `LEFT JOIN person pp ON pp.id = ${personId} LEFT JOIN custody_record kk ON kk.person_id = ${personId} AND kk.to_at IS NULL`,
    prime(row: Record<string, unknown>, id: string) {
      persons.prime(id, person.map(row, 'p_'));
      openCustody.prime(id, custody.map(row, 'k_'));
    },
  };
}

@Resolver(() => Person)
export class PersonCustodyResolver {
  @FieldResolver(() => Agency, {
    nullable: true,
    description: 'The agency that holds the person now; null once released (returned home, left).',
  })
  custodian(@Root() person: Person, @Ctx() ctx: RequestContext): Now<Agency | null> {
    if (isRedacted(person)) return null;
    return andThen(custodyLoaders(ctx).openByPerson.get(person.id), (open) => (open ? agencyNow(ctx, open.holderId) : null));
  }

  @FieldResolver(() => [CustodyRecord])
  async custodyHistory(@Root() person: Person, @Ctx() ctx: RequestContext): Promise<CustodyRecord[]> {
    if (isRedacted(person)) return [];
    return custodyLoaders(ctx).historyByPerson.load(person.id);
  }
}

@Resolver(() => CustodyRecord)
export class CustodyRecordResolver {
  @FieldResolver(() => Agency)
  holder(@Root() record: CustodyRecord, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, record.holderId);
  }
}
