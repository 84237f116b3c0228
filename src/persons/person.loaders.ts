import DataLoader from 'dataloader';
import { rowsById } from '../db/rows';
import { perRequest, type RequestContext } from '../auth/context';
import { Person } from './person.entity';

/** Raw rows, before need-to-know: resolvers filter through ctx.access. */
export const personLoaders = perRequest(Symbol('persons'), (ctx: RequestContext) => ({
  person: new DataLoader<string, Person | null>((ids) => rowsById(ctx.db, Person, ids)),
}));

/** The person if the caller may see them, else null (NOT_FOUND is indistinguishable from absent). */
export async function loadVisiblePerson(ctx: RequestContext, id: string): Promise<Person | null> {
  // Visibility first: its batched check also brings the person's row (access.policy.ts primes the loader) and
  // audits the read (access.readVisiblePersons).
  if (!(await ctx.access.readVisiblePersons(ctx, [id])).has(id)) return null;
  return personLoaders(ctx).person.load(id);
}
