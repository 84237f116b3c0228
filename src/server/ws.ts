import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Actor } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { maskError } from './errors.plugin';

export interface WebSocketHandle {
  apolloPlugin: ApolloServerPlugin<RequestContext>;
  /** Closes every socket (1001 Going Away) so clients reconnect elsewhere and resume from their cursor. */
  close(): Promise<void>;
}

/** Pings keep NAT and proxies from dropping idle dashboards, and find dead peers. */
const KEEP_ALIVE_MS = 12_000;
/** RFC 6455: the endpoint is going away; clients reconnect and resume from their cursor. */
const GOING_AWAY = 1001;

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
  makeContext: (authorization: unknown) => Promise<RequestContext>;
}): WebSocketHandle {
  const { config, logger } = opts;
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

  const server = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema: opts.schema,
      async onConnect(ctx) {
        try {
          const base = await opts.makeContext(ctx.connectionParams?.authorization);
          if (base.actor.kind === 'anonymous') return false;
          ctx.extra.actor = base.actor;
          return true;
        } catch {
          return false; // 4403 Forbidden: unknown or revoked token
        }
      },
      async context(ctx) {
        const base = await opts.makeContext(undefined);
        // The agency is fixed for the connection (checked in onConnect).
        return { ...base, actor: ctx.extra.actor ?? { kind: 'anonymous' } } satisfies RequestContext;
      },
      onNext(_ctx, _id, _payload, _args, result) {
        if (!('errors' in result) || !result.errors) return result;
        const errors = result.errors.map((e) => {
          const f = maskError(e.toJSON());
          return new GraphQLError(f.message, { path: f.path, extensions: f.extensions });
        });
        return { ...result, errors };
      },
      onError(_ctx, id, _payload, errors) {
        logger.warn({ operationId: id, errors: errors.map((e) => e.message) }, 'subscription error');
      },
    },
    wss,
    KEEP_ALIVE_MS,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const s of sockets) s.close(GOING_AWAY, 'Hub shutting down');
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    })());
  return {
    close,
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
