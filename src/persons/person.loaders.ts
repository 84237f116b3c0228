import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { noteRead } from '../audit/audit.service';
import { byId } from '../agencies/agency.loaders';
import { perRequest, type RequestContext } from '../auth/context';
import { Person } from './person.entity';

/** Raw rows, before need-to-know: resolvers filter through ctx.access. */
export const personLoaders = perRequest(Symbol('persons'), (ctx: RequestContext) => ({
  person: new DataLoader<string, Person | null>(async (ids) => byId(ids, await ctx.db.getRepository(Person).findBy({ id: In([...ids]) }))),
}));

/** The person if the caller may see them, else null (NOT_FOUND is indistinguishable from absent). */
export async function loadVisiblePerson(ctx: RequestContext, id: string): Promise<Person | null> {
  const [person, visible] = await Promise.all([personLoaders(ctx).person.load(id), ctx.access.visiblePersons(ctx, [id])]);
  if (!person || !visible.has(id)) return null;
  noteRead(ctx, 'person.read', id);
  return person;
}
