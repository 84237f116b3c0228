import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { eventFeedOf } from '../../src/events/event-feed';
import type { Hub } from '../../src/server/app';
import { LiveReferralEventsDocument } from '../generated/graphql';

/** Polls `check` every few milliseconds until it returns a value other than undefined/false; fails with `what` after `ms`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, 'ws');

/** A real graphql-ws client with one subscription, recording what it receives. */
export interface Live<R> {
  client: Client;
  /** Every `data` received, in order. */
  items: R[];
  /** Every error the subscription received (GraphQL errors or a close event). */
  errors: unknown[];
  /** Close codes of the socket, in order. */
  closeCodes: number[];
  completed: boolean;
  /** Waits until `n` items have arrived (and returns them all). */
  count(n: number, ms?: number): Promise<R[]>;
  dispose(): Promise<void>;
}

export function subscribe<R, V>(
  httpUrl: string,
  token: string,
  doc: TypedDocumentNode<R, V>,
  variables: V,
  options: { onConnected?: () => void } = {},
): Live<R> {
  const closeCodes: number[] = [];
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: {
      closed: (event) => closeCodes.push((event as { code: number }).code),
      connected: () => options.onConnected?.(),
    },
  });
  const live: Live<R> = {
    client,
    items: [],
    errors: [],
    closeCodes,
    completed: false,
    count: (n, ms = 5000) => eventually(`${n} items (have ${live.items.length})`, () => live.items.length >= n && live.items, ms),
    dispose: () => client.dispose() as Promise<void>,
  };
  client.subscribe<R>(
    { query: print(doc), variables: variables as Record<string, unknown> },
    {
      next: (r) => {
        if (r.errors) live.errors.push(...r.errors);
        if (r.data) live.items.push(r.data);
      },
      error: (err) => live.errors.push(err),
      complete: () => (live.completed = true),
    },
  );
  return live;
}

/**
 * A live Subscription.referralEvents on `hub` (no cursor), resolved once that hub has registered it, so that nothing
 * committed afterwards can be missed; added to `open` for the file's afterAll to dispose.
 */
export async function followOn(hub: Hub, token: string, open: Live<unknown>[]) {
  const feed = eventFeedOf(hub.db);
  const before = feed.subscriberCount;
  const live = subscribe(hub.url, token, LiveReferralEventsDocument, {});
  open.push(live as Live<unknown>);
  await eventually('subscription registered', () => feed.subscriberCount > before);
  return live;
}
