import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import type { Actor } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import type { Logger } from '../shared/logger';
import { checkTokens, errorBody, notJson, type QueryLimits } from './limits';
import { rateLimitHeaders, rateLimited, rateLimitKey, type RateLimiter } from './rate-limit';
import { subscriptionOverHttp } from './subscription-validation';

/**
 * The ordinary GraphQL request — POST /graphql, `Content-Type: application/json` (UTF-8), a Content-Length
 * within the body limit — answered on node:http directly, with the same steps, in the same order and with the
 * same answers as the Express stack in app.ts: rate limit (with its headers), the body read and parsed (not
 * JSON, or not an object or array: 400 BAD_REQUEST, as body-parser's strict mode), the token limit, the
 * subscription guard, then Apollo. Measured on the bench (issue 7, person by id): Express's router, body
 * parsing and response helpers were ~35% of the hub's CPU for a small answer (0.75-0.93 → 0.43-0.54 ms per
 * request side by side). Everything else — other methods and paths, other content types, chunked or
 * oversized bodies, /healthz — goes to Express unchanged, so its edge cases keep their one implementation.
 */
export interface GraphQLHttpOptions {
  apollo: () => ApolloServer<RequestContext> | undefined;
  schema: GraphQLSchema;
  limits: QueryLimits;
  limiter: RateLimiter;
  maxBodyBytes: number;
  logger: Logger;
  /** The actor behind the Authorization header, as the rate limiter identifies callers (one lookup per request). */
  authenticate: (authorization: string | undefined) => Promise<Actor>;
  /** The request's context (app.ts), given the authentication already under way; may throw a GraphQLError. */
  context: (
    authorization: string | undefined,
    actor: Promise<Actor>,
    setHeader: (name: string, value: string) => void,
  ) => Promise<RequestContext>;
}

/** Requests this process answered on the direct path (all hubs in the process): for operators, and for the test that both paths answer alike. */
export const directPathStats = { answered: 0 };

const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** Whether this request takes the direct path; it does only when it needs nothing Express alone knows how to do. */
function ordinary(req: IncomingMessage, maxBodyBytes: number): boolean {
  if (req.method !== 'POST' || req.url !== '/graphql') return false;
  const type = req.headers['content-type'];
  if (!type || !JSON_TYPE.test(type)) return false;
  if (req.headers['transfer-encoding'] !== undefined || req.headers['content-encoding'] !== undefined) return false;
  const length = req.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return false;
  const n = Number(length);
  return n > 0 && n <= maxBodyBytes;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** express's res.json, as sendError (limits.ts) answers. */
function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, value: unknown): void {
  send(res, status, { ...headers, 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(value));
}

/** Returns a handler that answers an ordinary request and returns true, or returns false and touches nothing. */
export function graphQLHttp(opts: GraphQLHttpOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const started = opts.apollo();
    if (!started || !ordinary(req, opts.maxBodyBytes)) return false;
    const apollo = started;
    directPathStats.answered++;
    const headers: Record<string, string> = {};
    const authorization = req.headers.authorization;
    const actor = opts.authenticate(authorization);
    // Awaited only once the body has arrived (answer), or never if the client goes away first: a refused token or
    // an unreachable database must not count as an unhandled rejection before then, which would end the process.
    actor.catch(() => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined); // a client gone mid-body gets no answer
    req.on('end', () => {
      void answer(Buffer.concat(chunks)).catch((err: Error) => {
        opts.logger.error({ err: { name: err.name, message: err.message } }, 'unexpected error answering a GraphQL request');
        if (!res.headersSent)
          sendJson(res, 500, headers, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
    });

    async function answer(raw: Buffer): Promise<void> {
      const decision = opts.limiter.take(rateLimitKey(await actor.catch(() => undefined), req.socket.remoteAddress));
      Object.assign(headers, rateLimitHeaders(decision));
      if (!decision.allowed) return sendJson(res, 429, headers, errorBody(rateLimited(decision.retryAfterSeconds)));
      let body: unknown;
      const text = raw.toString('utf8');
      try {
        // body-parser's strict mode: only an object or an array.
        if (!/^[ \t\n\r]*[[{]/.test(text)) throw new SyntaxError('not an object or array');
        body = JSON.parse(text);
      } catch {
        return sendJson(res, 400, headers, errorBody(notJson()));
      }
      const query = body && typeof body === 'object' && 'query' in body ? (body as { query: unknown }).query : undefined;
      const tooMany = typeof query === 'string' ? checkTokens(query, opts.limits) : undefined;
      if (tooMany) return sendJson(res, 400, headers, errorBody(tooMany));
      const guarded = subscriptionOverHttp(opts.schema, query);
      if (guarded) return sendJson(res, 400, headers, guarded);
      const requestHeaders = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) requestHeaders.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers: requestHeaders, search: '', body },
        context: () => opts.context(authorization, actor, (name, value) => (headers[name] = value)),
      });
      for (const [key, value] of result.headers) headers[key] = value;
      if (result.body.kind === 'complete') return send(res, result.status ?? 200, headers, result.body.string);
      res.writeHead(result.status ?? 200, headers);
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
    return true;
  };
}
