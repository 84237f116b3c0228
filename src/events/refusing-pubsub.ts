import type { PubSub } from 'type-graphql';

/**
 * type-graphql insists on a PubSub as soon as any @Subscription exists, even
 * when every subscription brings its own stream (`subscribe: ...`), as the
 * hub's do (EventFeed: committed rows, bounded buffers, cursors). Its default
 * in-memory PubSub must not become a path: it knows nothing of commits or
 * other processes, and throws after 1024 pending events (STACK.md). This one
 * refuses to be used.
 */
export const refusingPubSub: PubSub = {
  publish() {
    throw new Error('The hub does not publish through type-graphql: write an event with appendReferralEvents.');
  },
  subscribe() {
    throw new Error('The hub does not subscribe through type-graphql topics: use `subscribe` with an EventFeed stream.');
  },
};
