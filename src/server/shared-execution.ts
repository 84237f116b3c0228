import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { copyReads } from '../audit/audit.service';
import type { Actor } from '../auth/actor';
import type { RequestContext } from '../auth/context';

/**
 * graphql-ws's `subscribe`, executing each event ONCE per process for all
 * subscribers with the same document, operation, variables and viewer, instead
 * of once per subscriber: a thousand subscribers of one agency cost one
 * execution per event, not a thousand.
 *
 * Correct for different viewers because the viewer is part of the key: every
 * field of a subscription payload depends on the caller only through its
 * agency (need to know, src/access), its kind, role and region, never its
 * account; each subscriber still has its own event stream (created by the
 * subscribe resolver with its own context, so need-to-know filters events per
 * agency and a slow subscriber is cut off alone). The execution gets a context
 * of its own with fresh loaders (current rows for every event), and the reads
 * it notes are copied into each receiving subscriber's context, so that every
 * payload is audited under its receiver's account and request as before.
 *
 * The memo is keyed by the event object the feed hands to all its
 * subscribers (WeakMap: it goes when the event does); replays and other
 * payloads that are not shared objects simply execute per subscriber.
 */
export async function subscribeSharingExecution(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  const group = groupOf(args);
  return mapStream(source[Symbol.asyncIterator](), (payload) => executeShared(args, payload, group));
}

const runs = new WeakMap<object, Map<string, Promise<{ result: ExecutionResult; context: RequestContext }>>>();

async function executeShared(args: ExecutionArgs, payload: unknown, group: string | undefined): Promise<ExecutionResult> {
  const context = args.contextValue as RequestContext;
  if (group === undefined || typeof payload !== 'object' || payload === null) {
    return execute({ ...args, rootValue: payload });
  }
  let byGroup = runs.get(payload);
  if (!byGroup) runs.set(payload, (byGroup = new Map()));
  let run = byGroup.get(group);
  if (!run) {
    const shared: RequestContext = { ...context, memo: new Map() };
    run = Promise.resolve(execute({ ...args, rootValue: payload, contextValue: shared })).then((result) => ({ result, context: shared }));
    byGroup.set(group, run);
  }
  const { result, context: shared } = await run;
  copyReads(shared, context);
  return result;
}

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 1;

/** What a payload's result depends on besides the event; undefined: do not share. */
function groupOf(args: ExecutionArgs): string | undefined {
  const viewer = viewerKey((args.contextValue as RequestContext | undefined)?.actor);
  if (viewer === undefined) return undefined;
  let doc = documentIds.get(args.document);
  if (doc === undefined) documentIds.set(args.document, (doc = nextDocumentId++));
  return JSON.stringify([doc, args.operationName ?? null, args.variableValues ?? null, viewer]);
}

/** Everything about the caller that a field may depend on: all but the account (audited per subscriber). */
function viewerKey(actor: Actor | undefined): unknown[] | undefined {
  if (actor?.kind === 'admin') return ['admin'];
  if (actor?.kind === 'account') return ['account', actor.agencyId, actor.agencyKind, actor.role, actor.agencyRegionCode];
  return undefined;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof (v as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/**
 * graphql-js's mapAsyncIterator, written out because it is not public API:
 * `return()` reaches the source at once (an idle subscription ends without
 * waiting for its next event), and a failed mapping ends the source too.
 */
function mapStream<T, R>(source: AsyncIterator<T>, map: (value: T) => Promise<R>): AsyncIterableIterator<R> {
  const close = async () => {
    await source.return?.();
  };
  return {
    async next() {
      const r = await source.next();
      if (r.done) return { done: true, value: undefined };
      try {
        return { done: false, value: await map(r.value) };
      } catch (err) {
        await close();
        throw err;
      }
    },
    async return() {
      await close();
      return { done: true, value: undefined };
    },
    async throw(err: unknown) {
      await close();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
