import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import express from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { DataSource } from 'typeorm';
import { accessPolicy } from '../access/access.policy';
import { flushReads } from '../audit/audit.service';
import type { Actor } from '../auth/actor';
import { authenticate } from '../auth/authenticate';
import type { HubSettings, RequestContext } from '../auth/context';
import { bearerToken } from '../auth/token';
import { TokenCache } from '../auth/token-cache';
import { createDataSource } from '../db/data-source';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '../db/unavailable';
import { casePageCachePlugin } from '../cases/case-page.cache';
import { EventFeed } from '../events/event-feed';
import { startExpirySweep } from '../referrals/referral.expiry';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/logger';
import { HubError } from '../shared/errors';
import { ENTITIES } from './entities';
import { errorsPlugin } from './errors.plugin';
import { shareEmptyArguments } from './field-arguments';
import { introspectionGuardPlugin } from './introspection';
import { bodyErrorHandler, queryLimits, queryLimitsPlugin, tokenLimitMiddleware } from './limits';
import { RateLimiter, rateLimitKey, rateLimitMiddleware } from './rate-limit';
import { createSchema } from './schema';
import { subscriptionValidationGuard } from './subscription-validation';
import { graphQLHttp } from './graphql-http';
import { attachWebSocket, type WebSocketHandle } from './ws';

export interface Hub {
  url: string;
  port: number;
  db: DataSource;
  schema: GraphQLSchema;
  /** Graceful: in-flight requests finish, WebSockets close, the pool drains. */
  stop(): Promise<void>;
}

export interface HubOptions {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  idNumberKey: Buffer;
  adminToken?: string;
}

export class PortInUseError extends Error {}

/** /healthz answers 503 when the database has not answered `SELECT 1` within this. */
const HEALTHZ_TIMEOUT_MS = 3_000;

/** The migrations startHub would apply, on their own: a HUB_WORKERS primary applies them once before its workers start. */
export async function applyMigrations(databaseUrl: string, logger: Logger): Promise<void> {
  const db = createDataSource({ url: databaseUrl, entities: ENTITIES, poolSize: 1, applicationName: 'rescue-referral-hub-migrate' });
  await db.initialize();
  try {
    const applied = await db.runMigrations({ transaction: 'each' });
    for (const m of applied) logger.info({ migration: m.name }, 'migration applied');
  } finally {
    await db.destroy();
  }
}

export async function startHub(opts: HubOptions): Promise<Hub> {
  const { config, logger } = opts;
  const db = createDataSource({ url: opts.databaseUrl, entities: ENTITIES, poolSize: config.poolSize });
  await db.initialize();
  let feed: EventFeed | undefined;
  try {
    if (config.migrate) {
      const applied = await db.runMigrations({ transaction: 'each' });
      for (const m of applied) logger.info({ migration: m.name }, 'migration applied');
    } else if (await db.showMigrations()) {
      logger.warn('pending migrations not applied (HUB_MIGRATE=false): run `npm run migrate`');
    }
    const settings: HubSettings = { config, idNumberKey: opts.idNumberKey };
    shareEmptyArguments();
    const schema = await createSchema();
    // Used only while the feed's connection hears revocations (token-cache.ts); `ws` closes sockets once it exists.
    const tokens = new TokenCache(config.tokenCacheMs);
    settings.forgetAccount = (accountId) => tokens.forget(accountId);
    // One LISTENing connection per process fans committed events out to this process's subscribers.
    feed = new EventFeed({
      db,
      databaseUrl: opts.databaseUrl,
      logger,
      pollMs: config.eventPollMs,
      idleReadMs: config.eventIdleReadMs,
      bufferSize: config.subscriptionBuffer,
      accounts: {
        revoked: (accountId) => {
          tokens.forget(accountId);
          settings.closeConnectionsOf?.(accountId);
        },
        hearing: (hearing) => tokens.setHearing(hearing),
      },
    });
    await feed.start();
    const events = feed;
    const adminToken = opts.adminToken;

    /** `actor`: the authentication the rate limiter already started for this request, if any. */
    const makeContext = async (authorization: unknown, actor?: Promise<Actor>): Promise<RequestContext> => ({
      actor: await (actor ?? authenticate(db, adminToken, bearerToken(authorization), tokens)),
      requestId: randomUUID(),
      db,
      settings,
      access: accessPolicy,
      memo: new Map(),
    });

    const app = express();
    app.disable('x-powered-by');
    // Express hashes every body it sends for an ETag (SHA-1 of the whole 60 KB dashboard); answers to POSTed
    // GraphQL are never revalidated by a cache, so the hash is work without use.
    app.set('etag', false);
    const limits = queryLimits(config);
    const limiter = new RateLimiter(config.rateLimitPerMinute, config.rateLimitBurst);
    const authenticateHeader = (authorization: unknown) => authenticate(db, adminToken, bearerToken(authorization), tokens);
    /** An HTTP request's context, on either path; failures become the answers Apollo should give. */
    const httpContext = async (
      authorization: unknown,
      actor: Promise<Actor> | undefined,
      setHeader: (name: string, value: string) => void,
    ) => {
      try {
        const ctx = await makeContext(authorization, actor);
        // Over HTTP a person's read may be audited by the statement that reads it (access.policy.ts).
        ctx.readsAuditedInline = true;
        setHeader('x-request-id', ctx.requestId);
        return ctx;
      } catch (err) {
        // Apollo answers context failures with HTTP 500 unless told otherwise.
        if (err instanceof HubError) {
          throw new GraphQLError(err.message, { extensions: { code: err.code, http: { status: 401 } } });
        }
        logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'authentication failed');
        throw new GraphQLError(DATABASE_UNAVAILABLE_MESSAGE, {
          extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503 } },
        });
      }
    };
    /** Apollo once started (the server listens only after that). */
    const started: { apollo?: ApolloServer<RequestContext> } = {};
    const direct = graphQLHttp({
      apollo: () => started.apollo,
      schema,
      limits,
      limiter,
      maxBodyBytes: config.maxBodyBytes,
      logger,
      authenticate: authenticateHeader,
      context: httpContext,
    });
    // The ordinary POST /graphql on node:http directly (graphql-http.ts); everything else through Express.
    const httpServer = http.createServer((req, res) => {
      if (!direct(req, res)) app(req, res);
    });
    const ws: WebSocketHandle = attachWebSocket({ httpServer, schema, config, logger, db, limits, limiter, makeContext });
    settings.closeConnectionsOf = ws.closeAccount;

    const apollo = new ApolloServer<RequestContext>({
      schema,
      // Tells strangers nothing about the schema ("Did you mean ...").
      hideSchemaDetailsFromClientErrors: true,
      // Apollo's own messages may quote the request (a name, an ID number): only that something happened reaches the log.
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: () => logger.warn({ source: 'apollo' }, 'Apollo Server warning (text withheld: it may quote the request)'),
        error: () => logger.error({ source: 'apollo' }, 'Apollo Server error (text withheld: it may quote the request)'),
      },
      allowBatchedHttpRequests: false,
      // main.ts owns SIGINT/SIGTERM: Apollo's own handlers would race it and stall the drain.
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: false,
      // Apollo's default depends on NODE_ENV; the hub's own rule (introspection.ts: only for a known caller) decides.
      introspection: true,
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        // Always installed otherwise, and costs 40-75% on large responses (STACK.md).
        ApolloServerPluginCacheControlDisabled(),
        // The default landing page loads from a CDN, unreachable on a government network.
        ApolloServerPluginLandingPageDisabled(),
        errorsPlugin(logger),
        introspectionGuardPlugin(),
        queryLimitsPlugin(limits),
        // After the limits (they still refuse what they refuse) and before execution: a station's unchanged page again.
        casePageCachePlugin(config.pageCacheEntries),
        {
          // Subscriptions are served over graphql-ws; over HTTP graphql-js would run the field without its stream.
          async requestDidStart() {
            return {
              async didResolveOperation({ operation }) {
                if (operation?.operation !== 'subscription') return;
                throw new GraphQLError('Subscriptions are served over WebSocket (graphql-transport-ws) at this URL, not over HTTP.', {
                  extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
                });
              },
            };
          },
        },
        {
          // Reads of personal records are audited once per request, after the response is built.
          async requestDidStart() {
            return {
              async willSendResponse({ contextValue, response }) {
                try {
                  await flushReads(contextValue);
                } catch (err) {
                  if (!isDatabaseUnavailable(err) || response.body.kind !== 'single') throw err;
                  // Reads that cannot be audited are not shown (as over WebSocket); the answer is the outage itself,
                  // not Apollo's bare HTTP 500.
                  response.http.status = 503;
                  response.body.singleResult = {
                    errors: [{ message: DATABASE_UNAVAILABLE_MESSAGE, extensions: { code: 'SERVICE_UNAVAILABLE' } }],
                  };
                }
              },
            };
          },
        },
        ws.apolloPlugin,
      ],
    });
    await apollo.start();
    started.apollo = apollo;

    app.get('/healthz', async (_req, res) => {
      // Bounded: a database that does not answer (frozen, or behind a network gone silent) would otherwise hang
      // the check, which load balancers read as "no news" for far longer than a 503.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          db.query('SELECT 1'),
          new Promise((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error('no answer')), HEALTHZ_TIMEOUT_MS);
          }),
        ]);
        res.status(200).json({ status: 'ok' });
      } catch {
        res.status(503).json({ status: 'database unavailable' });
      } finally {
        clearTimeout(timer);
      }
    });
    app.use(
      '/graphql',
      rateLimitMiddleware(limiter, async (req, res) => {
        const actor = authenticateHeader(req.headers.authorization);
        res.locals.actor = actor; // one authentication per request: the context awaits the same promise
        return rateLimitKey(await actor.catch(() => undefined), req.ip);
      }),
      express.json({ limit: config.maxBodyBytes }),
      tokenLimitMiddleware(limits),
      subscriptionValidationGuard(schema),
      expressMiddleware(apollo, {
        context: ({ req, res }) =>
          httpContext(req.headers.authorization, res.locals.actor as Promise<Actor> | undefined, (name, value) =>
            res.setHeader(name, value),
          ),
      }),
      bodyErrorHandler(config.maxBodyBytes),
    );

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new PortInUseError(
              `Port ${config.port} on ${config.host} is already in use (another hub?). Stop that process or set PORT to a free port.`,
            ),
          );
        } else reject(err);
      });
      httpServer.listen(config.port, config.host, resolve);
    });
    const port = (httpServer.address() as AddressInfo).port;

    const stopSweep = startExpirySweep(db, config.expirySweepMs, logger);
    let stopping: Promise<void> | undefined;
    return {
      url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}/graphql`,
      port,
      db,
      schema,
      stop: () =>
        (stopping ??= (async () => {
          stopSweep();
          await ws.close();
          await events.stop();
          await apollo.stop(); // stops accepting, lets in-flight requests finish (drain plugin)
          await db.destroy();
        })()),
    };
  } catch (err) {
    await feed?.stop().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    throw err;
  }
}
