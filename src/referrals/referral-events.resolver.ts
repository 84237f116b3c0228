import DataLoader from 'dataloader';
import { Arg, Ctx, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import type { DataSource } from 'typeorm';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { connectionOf } from '../events/connection';
import { eventFeedOf } from '../events/event-feed';
import type { FeedEvent } from '../events/event-log';
import { SUBSCRIBER_TOO_SLOW, SUBSCRIBER_TOO_SLOW_REASON } from '../events/event-stream';
import { parseEventCursor } from '../events/outbox';
import { rowsById } from '../db/rows';
import { badInput } from '../shared/errors';
import { Referral, ReferralEvent } from './referral.entity';
import { referralLoaders } from './referral.loaders';
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

/**
 * The referral as it stands after an event, read ONCE per event per process
 * and shared by every subscriber the feed hands that event to (the feed
 * passes one object to all of them; a replay reads its own). Reading it per
 * subscriber cost a statement per delivery: a thousand for one change.
 * Events of one wake-up are read together (the loader batches, never caches:
 * the memo is the event object, and it goes when the event does).
 */
const referralAfterEvent = new WeakMap<FeedEvent, Promise<Referral | null>>();
const referralReaders = new WeakMap<DataSource, DataLoader<string, Referral | null>>();

function referralAfter(db: DataSource, e: FeedEvent): Promise<Referral | null> {
  let read = referralAfterEvent.get(e);
  if (!read) {
    let reader = referralReaders.get(db);
    if (!reader) referralReaders.set(db, (reader = new DataLoader((ids) => rowsById(db, Referral, ids), { cache: false })));
    // A failed read is not remembered: the next subscriber of the event tries again.
    read = reader.load(e.referralId).catch((err: unknown) => {
      referralAfterEvent.delete(e);
      throw err;
    });
    referralAfterEvent.set(e, read);
  }
  return read;
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
  async referralEvents(
    @Root() e: FeedEvent,
    @Ctx() ctx: RequestContext,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): Promise<ReferralEvent> {
    // The subscriber's own loader gets the shared row; whether it may see it is still decided per
    // subscriber (loadVisibleReferral), in memory for a party, so a payload costs no statement.
    // Should the shared read fail, the field resolver reads (and reports) on its own.
    const referral = await referralAfter(ctx.db, e).catch(() => null);
    if (referral) referralLoaders(ctx).referral.prime(referral.id, referral);
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
