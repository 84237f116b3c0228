import DataLoader from 'dataloader';
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { Agency } from '../agencies/agency.entity';
import { agencyLoaders } from '../agencies/agency.loaders';
import { perRequest, type RequestContext } from '../auth/context';
import { rowShape, rowsGroupedBy } from '../db/rows';
import { Person } from '../persons/person.entity';
import { isRedacted } from '../persons/person.resolver';
import { CustodyRecord } from './custody-record.entity';

/** One query for the custody history of every person on the page. */
export const custodyLoaders = perRequest(Symbol('custody'), (ctx: RequestContext) => ({
  historyByPerson: new DataLoader<string, CustodyRecord[]>((personIds) =>
    rowsGroupedBy(ctx.db, CustodyRecord, 'person_id', personIds, 't.from_at, t.id'),
  ),
  openByPerson: new DataLoader<string, CustodyRecord | null>(async (personIds) => {
    const shape = rowShape(ctx.db, CustodyRecord);
    const rows: Record<string, unknown>[] = await ctx.db.query(
      `SELECT ${shape.select('t')} FROM custody_record t WHERE t.person_id = ANY($1::uuid[]) AND t.to_at IS NULL`,
      [personIds],
    );
    const map = new Map(rows.map((r) => [r.personId as string, shape.map(r)!]));
    return personIds.map((id) => map.get(id) ?? null);
  }),
}));

@Resolver(() => Person)
export class PersonCustodyResolver {
  @FieldResolver(() => Agency, {
    nullable: true,
    description: 'The agency that holds the person now; null once released (returned home, left).',
  })
  async custodian(@Root() person: Person, @Ctx() ctx: RequestContext): Promise<Agency | null> {
    if (isRedacted(person)) return null;
    const open = await custodyLoaders(ctx).openByPerson.load(person.id);
    return open ? agencyLoaders(ctx).agency.load(open.holderId) : null;
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
  async holder(@Root() record: CustodyRecord, @Ctx() ctx: RequestContext): Promise<Agency> {
    return (await agencyLoaders(ctx).agency.load(record.holderId))!;
  }
}
