import { Arg, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { connectionOf } from '../events/connection';
import { eventFeedOf } from '../events/event-feed';
import type { FeedEvent } from '../events/event-log';
import { SUBSCRIBER_TOO_SLOW, SUBSCRIBER_TOO_SLOW_REASON } from '../events/event-stream';
import { parseEventCursor } from '../events/outbox';
import { badInput } from '../shared/errors';
import { ReferralEvent } from './referral.entity';
import type { ReferralEventType, ReferralStatus } from './referral.enums';

/**
 * Need to know (DOMAIN.md §6): an agency follows the referrals it is
 * requester, sender, receiver or escort of, and is therefore party to the
 * person; the administrator follows all.
 */
function subscribeReferralEvents({ args, context }: SubscribeResolverData<unknown, { after?: string | null }, RequestContext>) {
  const actor = requireAuthenticated(context.actor);
  let after: number | null = null;
  if (args.after != null) {
    after = parseEventCursor(args.after);
    if (after === null) throw badInput('after', 'Not an event cursor returned by this hub.');
  }
  return eventFeedOf(context.db).subscribe({
    agencyId: actor.kind === 'account' ? actor.agencyId : null,
    after,
    // The client resumes from the last cursor it received.
    onOverflow: () => connectionOf(context)?.(SUBSCRIBER_TOO_SLOW, SUBSCRIBER_TOO_SLOW_REASON),
  });
}

@Resolver(() => ReferralEvent)
export class ReferralEventsSubscription {
  @Subscription(() => ReferralEvent, {
    description:
      "Every event of the referrals the caller's agency is requester, sender, receiver or escort of (the administrator: all), in cursor order, " +
      'each once and only after it committed. With `after`, first everything since that cursor, then live, without gap or duplicate. ' +
      `A subscriber that falls more than HUB_SUBSCRIPTION_BUFFER events behind is disconnected (close code ${SUBSCRIBER_TOO_SLOW}) and resumes with \`after\`.`,
    subscribe: subscribeReferralEvents,
  })
  referralEvents(@Root() e: FeedEvent, @Arg('after', () => String, { nullable: true }) _after: string | null): ReferralEvent {
    return Object.assign(new ReferralEvent(), {
      seq: e.seq,
      referralId: e.referralId,
      type: e.type as ReferralEventType,
      status: e.status as ReferralStatus,
      occurredAt: e.occurredAt,
      actorAccountId: e.actorAccountId,
      actorAgencyId: e.actorAgencyId,
      note: e.note,
    });
  }
}
