import { rowsById } from '../db/rows';
import { andThen, KnownLoader, type Now } from '../db/known-loader';
import { notFound } from '../shared/errors';
import { perRequest, type RequestContext } from '../auth/context';
import { Person } from './person.entity';

/** Raw rows, before need-to-know: resolvers filter through ctx.access. */
export const personLoaders = perRequest(Symbol('persons'), (ctx: RequestContext) => ({
  person: new KnownLoader<string, Person | null>((ids) => rowsById(ctx.db, Person, ids)),
}));

/** The person if the caller may see them, else null (NOT_FOUND is indistinguishable from absent). */
export function loadVisiblePerson(ctx: RequestContext, id: string): Now<Person | null> {
  // Rights known already (a station's own page primes them with its persons' rows): the answer at once.
  const known = ctx.access.readVisiblePersonNow(ctx, id);
  if (known === false) return null;
  if (known === true) return personLoaders(ctx).person.get(id);
  return loadUnknown(ctx, id);
}

/** loadVisiblePerson where the caller holds a row naming the person (a case, a referral): NOT_FOUND when not visible. */
export function requiredVisiblePerson(ctx: RequestContext, id: string): Now<Person> {
  return andThen(loadVisiblePerson(ctx, id), (person) => {
    if (!person) throw notFound('Person');
    return person;
  });
}

async function loadUnknown(ctx: RequestContext, id: string): Promise<Person | null> {
  // Visibility first: its batched check also brings the person's row (access.policy.ts primes the loader) and
  // audits the read (access.readVisiblePersons).
  if (!(await ctx.access.readVisiblePersons(ctx, [id])).has(id)) return null;
  return personLoaders(ctx).person.load(id);
}
