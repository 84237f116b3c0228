import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, getOperationAST, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { DataSource } from 'typeorm';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Actor } from '../auth/actor';
import { activeAccountIds } from '../auth/authenticate';
import { flushReads } from '../audit/audit.service';
import { bindConnection } from '../events/connection';
import type { RequestContext } from '../auth/context';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../db/unavailable';
import { maskError } from './errors.plugin';
import { asVariableError, withInputField } from './input-field';
import { checkOperation, checkTokens, type QueryLimits } from './limits';
import { rateLimited, rateLimitKey, type RateLimiter } from './rate-limit';
import { subscribeSharingExecution } from './shared-execution';
import { SAFE_RULES, subscriptionSelectsNothing } from './subscription-validation';

export interface WebSocketHandle {
  apolloPlugin: ApolloServerPlugin<RequestContext>;
  /** Closes every socket (1001 Going Away) so clients reconnect elsewhere and resume from their cursor. */
  close(): Promise<void>;
  /** Ends an account's open connections in this process (4403 Forbidden), e.g. once its token is revoked. */
  closeAccount(accountId: string): void;
}

/** Pings keep NAT and proxies from dropping idle dashboards, and find dead peers. */
const KEEP_ALIVE_MS = 12_000;
/** RFC 6455: the endpoint is going away; clients reconnect and resume from their cursor. */
const GOING_AWAY = 1001;

/**
 * Operations that passed every check, by their text, operation name and
 * variables (all that the checks depend on): a thousand dashboards sending
 * the same subscription are parsed and checked once, and share one document,
 * which also lets shared-execution.ts execute each event once for them.
 * Bounded, least recently used out; refusals are never kept.
 */
const ACCEPTED_MAX = 200;
const ACCEPTED_KEY_MAX = 20_000;

function acceptedKey(query: string, operationName: string | undefined, variables: Record<string, unknown> | undefined): string | undefined {
  const key = JSON.stringify([query, operationName ?? null, variables ?? null]);
  return key.length <= ACCEPTED_KEY_MAX ? key : undefined;
}

type ConnectionExtra = { actor?: Actor } & Record<PropertyKey, unknown>;

/**
 * graphql-ws on the same path as HTTP. CSRF prevention does not cover
 * WebSockets, so the browser Origin is checked here against
 * HUB_ALLOWED_ORIGINS (servers send none), and the token is checked in
 * onConnect: a bad one never gets an open connection.
 */
export function attachWebSocket(opts: {
  httpServer: http.Server;
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  db: DataSource;
  limits: QueryLimits;
  limiter: RateLimiter;
  makeContext: (authorization: unknown) => Promise<RequestContext>;
}): WebSocketHandle {
  const { config, logger, limits } = opts;
  const accepted = new Map<string, DocumentNode>();
  const wss = new WebSocketServer({
    server: opts.httpServer,
    path: '/graphql',
    maxPayload: config.maxBodyBytes,
    verifyClient: ({ origin }: { origin?: string }) => !origin || config.allowedOrigins.includes(origin),
  });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  /** Open connections by account, so that a revoked token loses them at once. */
  const byAccount = new Map<string, Set<WebSocket>>();
  const track = (accountId: string, socket: WebSocket) => {
    const set = byAccount.get(accountId) ?? new Set<WebSocket>();
    byAccount.set(accountId, set.add(socket));
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && byAccount.get(accountId) === set) byAccount.delete(accountId);
    });
  };
  const closeAccount = (accountId: string) => {
    for (const socket of byAccount.get(accountId) ?? []) socket.close(CloseCode.Forbidden, 'Forbidden');
  };

  // Another process may have revoked a token (or this one, while onConnect was
  // still authenticating): every process re-checks its own connections' accounts
  // in one query.
  let rechecking = false;
  const recheck = async () => {
    if (rechecking || byAccount.size === 0) return;
    rechecking = true;
    try {
      const ids = [...byAccount.keys()];
      const active = await activeAccountIds(opts.db, ids);
      for (const id of ids) if (!active.has(id)) closeAccount(id);
    } catch (err) {
      logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'WebSocket account re-check failed');
    } finally {
      rechecking = false;
    }
  };
  const recheckTimer = setInterval(() => void recheck(), config.wsAccountRecheckMs);
  recheckTimer.unref();

  const server = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: opts.schema,
      subscribe: subscribeSharingExecution,
      async onConnect(ctx) {
        try {
          const base = await opts.makeContext(ctx.connectionParams?.authorization);
          if (base.actor.kind === 'anonymous') return false;
          ctx.extra.actor = base.actor;
          // A socket that closed while authenticating would never leave the map.
          if (base.actor.kind === 'account' && ctx.extra.socket.readyState === ctx.extra.socket.OPEN) {
            track(base.actor.accountId, ctx.extra.socket);
          }
          return true;
        } catch {
          return false; // 4403 Forbidden: unknown or revoked token
        }
      },
      // The same rate limit and query limits as HTTP; returning the checked
      // arguments spares graphql-ws a second parse and validation.
      onSubscribe(ctx, _id, payload) {
        const decision = opts.limiter.take(rateLimitKey(ctx.extra.actor, ctx.extra.request.socket.remoteAddress));
        if (!decision.allowed) return [rateLimited(decision.retryAfterSeconds)];
        const operationName = payload.operationName ?? undefined;
        const variables = payload.variables ?? undefined;
        const key = acceptedKey(payload.query, operationName, variables);
        const known = key === undefined ? undefined : accepted.get(key);
        if (known) {
          accepted.delete(key!); // most recently used last
          accepted.set(key!, known);
          return { schema: opts.schema, document: known, variableValues: variables, operationName };
        }
        const tooMany = checkTokens(payload.query, limits);
        if (tooMany) return [tooMany];
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('The operation could not be parsed.')];
        }
        // SAFE_RULES: graphql-js's own subscription rule throws on some @skip/@include (subscription-validation.ts).
        const invalid = validate(opts.schema, document, SAFE_RULES, { hideSuggestions: true });
        if (invalid.length > 0) return invalid;
        if (!getOperationAST(document, operationName)) return [new GraphQLError('Unable to identify the operation.')];
        const refused = checkOperation(opts.schema, document, limits, variables, operationName);
        if (refused) return [refused];
        if (subscriptionSelectsNothing(opts.schema, document, operationName, variables)) {
          return [
            new GraphQLError('The subscription selects no field: @skip/@include leave out its root field.', {
              extensions: { code: 'BAD_REQUEST' },
            }),
          ];
        }
        if (key !== undefined) {
          accepted.set(key, document);
          if (accepted.size > ACCEPTED_MAX) accepted.delete(accepted.keys().next().value!);
        }
        return { schema: opts.schema, document, variableValues: variables, operationName };
      },
      async context(ctx) {
        const base = await opts.makeContext(undefined);
        // The agency is fixed for the connection (checked in onConnect).
        const context = { ...base, actor: ctx.extra.actor ?? { kind: 'anonymous' } } satisfies RequestContext;
        // A subscription too slow to keep up ends its own connection (src/events).
        bindConnection(context, (code, reason) => ctx.extra.socket.close(code, reason));
        return context;
      },
      async onNext(_ctx, _id, _payload, args, result) {
        // A subscription's context lasts as long as the operation: its reads are audited with each payload (HTTP:
        // at the end of the request), before it is sent, and its loaders start afresh so the next payload reads
        // current rows. A read that cannot be audited is not sent.
        const context = args.contextValue as RequestContext;
        try {
          await flushReads(context);
        } catch (err) {
          logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'audit of a WebSocket payload failed');
          throw new Error('The hub could not audit this read; nothing was sent. Try again shortly.');
        } finally {
          context.memo.clear();
        }
        if (!('errors' in result) || !result.errors) return result;
        const errors = result.errors.map((e) => {
          // The database went away while the payload was read (an event committed just before an outage is
          // delivered in it): SERVICE_UNAVAILABLE, as over HTTP (errors.plugin.ts), not a masked internal error.
          if (isDatabaseUnavailable(e)) {
            logger.warn({ requestId: context.requestId, path: e.path }, 'database unavailable');
            return new GraphQLError(DATABASE_UNAVAILABLE_MESSAGE, { path: e.path, extensions: { code: 'SERVICE_UNAVAILABLE' } });
          }
          // Variables that do not fit are the client's mistake (BAD_USER_INPUT naming the field), as over HTTP.
          const f = maskError(withInputField(asVariableError(e.toJSON()), args.document), context.requestId);
          if (f.extensions?.code === 'INTERNAL_SERVER_ERROR') {
            // As over HTTP: the client sees "Unexpected error." and the request id; the log gets the original.
            const original = e.originalError ?? e;
            logger.error(
              {
                requestId: context.requestId,
                path: e.path,
                err: { name: original.name, message: original.message, stack: original.stack },
              },
              'unexpected error in a subscription payload',
            );
          }
          return new GraphQLError(f.message, { path: f.path, extensions: f.extensions });
        });
        return { ...result, errors };
      },
      onError(_ctx, id, _payload, errors) {
        // Codes only: graphql-js's messages quote the operation's literals, which may be a name or an ID number.
        logger.warn({ operationId: id, codes: errors.map((e) => e.extensions?.code ?? null) }, 'subscription error');
      },
    },
    wss,
    KEEP_ALIVE_MS,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(recheckTimer);
      for (const s of sockets) s.close(GOING_AWAY, 'Hub shutting down');
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    })());
  return {
    close,
    closeAccount,
    apolloPlugin: {
      async serverWillStart() {
        return {
          async drainServer() {
            await close();
          },
        };
      },
    },
  };
}
