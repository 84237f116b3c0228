import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { agencyLoaders } from '../agencies/agency.loaders';
import { requireAuthenticated } from '../auth/actor';
import { loadVisibleCase } from '../cases/case.resolver';
import { loadVisiblePerson } from '../persons/person.loaders';
import { loadVisibleReferral } from '../referrals/referral.loaders';
import type { RequestContext } from '../auth/context';
import { Node } from '../shared/node';
import { parseGlobalId } from '../shared/relay';

/**
 * node(id) routes by the id's type to the module that owns it; each module
 * applies its own visibility rules, and whatever the caller may not see is
 * simply null (the contract's "not visible" is indistinguishable from "none").
 */
@Resolver()
export class NodeResolver {
  @Query(() => Node, { nullable: true })
  async node(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Node | null> {
    const actor = requireAuthenticated(ctx.actor);
    const parsed = parseGlobalId(id);
    if (!parsed) return null;
    switch (parsed.type) {
      case 'Agency':
        return agencyLoaders(ctx).agency.load(parsed.uuid);
      case 'Account': {
        const account = await agencyLoaders(ctx).account.load(parsed.uuid);
        // Accounts are people: only the administrator and their own agency see them.
        if (!account || (actor.kind === 'account' && actor.agencyId !== account.agencyId)) return null;
        return account;
      }
      case 'Person':
        return loadVisiblePerson(ctx, parsed.uuid);
      case 'RescueCase':
        return loadVisibleCase(ctx, parsed.uuid);
      case 'Referral':
        return loadVisibleReferral(ctx, parsed.uuid);
      default:
        return null;
    }
  }
}
