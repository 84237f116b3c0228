import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { noteRead } from '../audit/audit.service';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { uuidOf } from '../shared/relay';
import { notFound } from '../shared/errors';
import { decryptIdNumber } from './id-number.crypto';
import { maskIdNumber } from './identity-number';
import { AgeGroup, ageGroupOf } from './person.enums';
import { Person } from './person.entity';
import { PersonSearchInput, VerifyIdentityInput } from './person.input';
import { loadVisiblePerson } from './person.loaders';
import { findPersons, PersonMatch } from './person.search';
import { verifyIdentity } from './person.service';

/** A person shown by findPersons to an agency that is not party to them. */
export const isRedacted = (p: Person) => (p as Person & { redacted?: boolean }).redacted === true;

@Resolver(() => Person)
export class PersonResolver {
  @Query(() => Person, { nullable: true })
  async person(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Person> {
    requireAuthenticated(ctx.actor);
    const person = await loadVisiblePerson(ctx, uuidOf('Person', id));
    if (!person) throw notFound('Person');
    return person;
  }

  @Query(() => [PersonMatch])
  findPersons(@Ctx() ctx: RequestContext, @Arg('input', () => PersonSearchInput) input: PersonSearchInput): Promise<PersonMatch[]> {
    return findPersons(ctx, input);
  }

  @Mutation(() => Person, { description: "police: check a person's identity against household registration" })
  async verifyIdentity(@Ctx() ctx: RequestContext, @Arg('input', () => VerifyIdentityInput) input: VerifyIdentityInput): Promise<Person> {
    const person = await verifyIdentity(ctx, input);
    // The answer is the person's record: a read like any other.
    noteRead(ctx, 'person.read', person.id);
    return person;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: "18-character resident identity number. Masked (e.g. 430406********123X) unless the caller's agency may see it whole.",
  })
  async idNumber(@Root() person: Person, @Ctx() ctx: RequestContext): Promise<string | null> {
    if (!person.idNumberCipher) return null;
    const whole = decryptIdNumber(ctx.settings.idNumberKey, person.idNumberCipher);
    if (isRedacted(person) || !(await ctx.access.mayRevealIdNumber(ctx, person.id))) return maskIdNumber(whole);
    noteRead(ctx, 'person.idNumber.reveal', person.id);
    return whole;
  }

  @FieldResolver(() => AgeGroup, { description: 'Today, from the birth year.' })
  ageGroup(@Root() person: Person): AgeGroup {
    return ageGroupOf(person.birthYear, new Date());
  }
}
