import { Arg, Ctx, Field, FieldResolver, ID, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { Account } from './account.entity';
import { Agency } from './agency.entity';
import { CreateAgencyInput, IssueAccessTokenInput } from './agency.input';
import { agencyLoaders, requiredAgency } from './agency.loaders';
import type { Now } from '../db/known-loader';
import { createAgency, issueAccessToken, listAgencies, revokeAccessToken } from './agency.service';

@ObjectType({ description: 'Who is calling.' })
export class Viewer {
  @Field()
  isAdmin!: boolean;

  @Field(() => Account, { nullable: true, description: 'Null for the administrator token.' })
  account!: Account | null;
}

@ObjectType()
export class IssuedToken {
  @Field({ description: 'Shown once; the hub keeps only a hash of it.' })
  token!: string;

  @Field(() => Account)
  account!: Account;
}

@Resolver()
export class AgencyResolver {
  @Query(() => Viewer)
  async viewer(@Ctx() ctx: RequestContext): Promise<Viewer> {
    const actor = requireAuthenticated(ctx.actor);
    if (actor.kind === 'admin') return { isAdmin: true, account: null };
    return { isAdmin: false, account: await agencyLoaders(ctx).account.load(actor.accountId) };
  }

  @Query(() => [Agency])
  agencies(
    @Ctx() ctx: RequestContext,
    @Arg('kind', () => AgencyKind, { nullable: true }) kind?: AgencyKind,
    @Arg('regionCode', () => String, { nullable: true }) regionCode?: string,
  ): Promise<Agency[]> {
    requireAuthenticated(ctx.actor);
    return listAgencies(ctx.db, kind ?? undefined, regionCode ?? undefined);
  }

  @Mutation(() => Agency, { description: 'administrator' })
  createAgency(@Ctx() ctx: RequestContext, @Arg('input', () => CreateAgencyInput) input: CreateAgencyInput): Promise<Agency> {
    return createAgency(ctx, input);
  }

  @Mutation(() => IssuedToken, { description: 'administrator' })
  issueAccessToken(
    @Ctx() ctx: RequestContext,
    @Arg('input', () => IssueAccessTokenInput) input: IssueAccessTokenInput,
  ): Promise<IssuedToken> {
    return issueAccessToken(ctx, input);
  }

  @Mutation(() => Account, {
    description: 'administrator: the token stops working at once, over HTTP and on open WebSockets (closed with 4403).',
  })
  revokeAccessToken(@Ctx() ctx: RequestContext, @Arg('accountId', () => ID) accountId: string): Promise<Account> {
    return revokeAccessToken(ctx, accountId);
  }
}

@Resolver(() => Account)
export class AccountResolver {
  @FieldResolver(() => Agency)
  agency(@Root() account: Account, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, account.agencyId);
  }
}
