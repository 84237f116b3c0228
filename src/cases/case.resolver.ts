import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Agency } from '../agencies/agency.entity';
import { agencyNow, requiredAgency } from '../agencies/agency.loaders';
import type { Now } from '../db/known-loader';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { Person } from '../persons/person.entity';
import { requiredVisiblePerson } from '../persons/person.loaders';
import { isRedacted } from '../persons/person.resolver';
import { notFound } from '../shared/errors';
import { selectsPath } from '../shared/look-ahead';
import { uuidOf } from '../shared/relay';
import { CaseStatus } from './case.enums';
import { CaseFilter, CloseCaseInput, ExtendRescuePeriodInput, OpenCaseInput } from './case.input';
import { caseLoaders } from './case.loaders';
import { listCases, prefetchCasePage, RescueCaseConnection } from './case.queries';
import { closeCase, extendRescuePeriod, openCase } from './case.service';
import { RescueCase, RescuePeriodExtension } from './rescue-case.entity';

/** A case is visible exactly when its person is (DOMAIN.md §6). */
export async function loadVisibleCase(ctx: RequestContext, id: string): Promise<RescueCase | null> {
  const c = await caseLoaders(ctx).case.load(id);
  if (!c) return null;
  return (await ctx.access.visiblePersons(ctx, [c.personId])).has(c.personId) ? c : null;
}

@Resolver(() => RescueCase)
export class CaseResolver {
  @Query(() => RescueCase, { nullable: true })
  async rescueCase(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<RescueCase> {
    requireAuthenticated(ctx.actor);
    const c = await loadVisibleCase(ctx, uuidOf('RescueCase', id));
    if (!c) throw notFound('RescueCase');
    return c;
  }

  @Query(() => RescueCaseConnection)
  cases(
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => CaseFilter, { nullable: true }) filter: CaseFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Info() info: GraphQLResolveInfo,
  ): Promise<RescueCaseConnection> {
    return listCases(ctx, filter, first, after, selectsPath(info, ['edges', 'node', 'person'])).then((page) =>
      prefetchCasePage(ctx, page, info),
    );
  }

  @Mutation(() => RescueCase, { description: 'station: register a person who came in without a referral' })
  openCase(@Ctx() ctx: RequestContext, @Arg('input', () => OpenCaseInput) input: OpenCaseInput): Promise<RescueCase> {
    return openCase(ctx, input);
  }

  @Mutation(() => RescueCase, { description: 'station supervisor' })
  extendRescuePeriod(
    @Ctx() ctx: RequestContext,
    @Arg('input', () => ExtendRescuePeriodInput) input: ExtendRescuePeriodInput,
  ): Promise<RescueCase> {
    return extendRescuePeriod(ctx, input);
  }

  @Mutation(() => RescueCase, { description: 'station' })
  closeCase(@Ctx() ctx: RequestContext, @Arg('input', () => CloseCaseInput) input: CloseCaseInput): Promise<RescueCase> {
    return closeCase(ctx, input);
  }

  @FieldResolver(() => Person)
  person(@Root() c: RescueCase, @Ctx() ctx: RequestContext): Now<Person> {
    return requiredVisiblePerson(ctx, c.personId);
  }

  @FieldResolver(() => Agency)
  station(@Root() c: RescueCase, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, c.stationId);
  }

  @FieldResolver(() => Agency, { nullable: true, description: 'The police station that escorted the person in, if any.' })
  broughtBy(@Root() c: RescueCase, @Ctx() ctx: RequestContext): Now<Agency | null> {
    return c.broughtById ? agencyNow(ctx, c.broughtById) : null;
  }

  @FieldResolver(() => [RescuePeriodExtension], { description: 'Every extension of the rescue period, oldest first.' })
  rescuePeriodExtensions(@Root() c: RescueCase, @Ctx() ctx: RequestContext): Promise<RescuePeriodExtension[]> {
    return caseLoaders(ctx).extensionsByCase.load(c.id);
  }
}

@Resolver(() => Person)
export class PersonCasesResolver {
  @FieldResolver(() => RescueCase, { nullable: true })
  async currentCase(@Root() person: Person, @Ctx() ctx: RequestContext): Promise<RescueCase | null> {
    if (isRedacted(person)) return null;
    const cases = await caseLoaders(ctx).casesByPerson.load(person.id);
    return cases.find((c) => c.status === CaseStatus.OPEN) ?? null;
  }

  @FieldResolver(() => [RescueCase], { description: 'Newest first.' })
  async cases(@Root() person: Person, @Ctx() ctx: RequestContext): Promise<RescueCase[]> {
    if (isRedacted(person)) return [];
    return caseLoaders(ctx).casesByPerson.load(person.id);
  }
}
