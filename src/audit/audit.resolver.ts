import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { Account } from '../agencies/account.entity';
import { Agency } from '../agencies/agency.entity';
import { agencyLoaders, agencyNow } from '../agencies/agency.loaders';
import type { Now } from '../db/known-loader';
import type { RequestContext } from '../auth/context';
import { AuditEntry, AuditEntryConnection } from './audit-entry.type';
import { auditTrail } from './audit-trail';

@Resolver(() => AuditEntry)
export class AuditResolver {
  @Query(() => AuditEntryConnection, {
    description: 'Who read or changed what about a person: rescue-station supervisors and the administrator.',
  })
  auditTrail(
    @Ctx() ctx: RequestContext,
    @Arg('personId', () => ID) personId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<AuditEntryConnection> {
    return auditTrail(ctx, personId, first, after);
  }

  @FieldResolver(() => Account, { nullable: true, description: 'Null for the administrator and for the hub itself.' })
  actor(@Root() e: AuditEntry, @Ctx() ctx: RequestContext): Promise<Account | null> | null {
    return e.accountId ? agencyLoaders(ctx).account.load(e.accountId) : null;
  }

  @FieldResolver(() => Agency, { nullable: true, description: "The actor's agency; null for the administrator and the hub." })
  agency(@Root() e: AuditEntry, @Ctx() ctx: RequestContext): Now<Agency | null> {
    return e.agencyId ? agencyNow(ctx, e.agencyId) : null;
  }
}
