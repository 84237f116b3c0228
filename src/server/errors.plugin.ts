import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { RequestContext } from '../auth/context';
import { isDatabaseUnavailable } from '../db/unavailable';
import type { Logger } from '../shared/logger';
import { withInputField } from './input-field';

/** Codes a client may see as they are: the contract's, and graphql-js/Apollo's own request errors. */
const PASS_THROUGH = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'INVALID_TRANSITION',
  'CONFLICT',
  'RATE_LIMITED',
  'QUERY_TOO_COMPLEX',
  // The database is away: a clear, retryable answer (HTTP 503) rather than a masked one.
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * Anything that is not a deliberate error becomes "Unexpected error." with
 * INTERNAL_SERVER_ERROR and the request id; the full error goes to the log.
 * A client never sees a stack, SQL or a constraint name.
 */
export function maskError(formatted: GraphQLFormattedError, requestId?: string): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && PASS_THROUGH.has(code)) {
    // Apollo's stacktrace is off in production but never wanted here.
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return {
    message: 'Unexpected error.',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', ...(requestId ? { requestId } : {}) },
  };
}

function isClientStatus(http: unknown): boolean {
  const status = (http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function errorsPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const err of errors) {
            const code = err.extensions?.code;
            if (typeof code === 'string' && PASS_THROUGH.has(code)) continue;
            // Apollo's own refusals of a malformed request (a persisted-query hash that does not match the query, an
            // unknown persisted-query version) carry an HTTP 4xx but no code: the client's mistake, not an unexpected error.
            if (code === undefined && !err.path && isClientStatus(err.extensions?.http)) {
              err.extensions.code = 'BAD_REQUEST';
              continue;
            }
            // The database is away (stopped, restarting, unreachable, no connection free within the timeout): a
            // clear, retryable SERVICE_UNAVAILABLE with HTTP 503, as when authentication itself cannot reach it.
            if (isDatabaseUnavailable(err)) {
              err.extensions.code = 'SERVICE_UNAVAILABLE';
              err.extensions.http = { status: 503 };
              logger.warn({ requestId: contextValue?.requestId, operationName, path: err.path }, 'database unavailable');
              continue;
            }
            // The original error, not the request: variables may hold personal data.
            const original = err.originalError ?? err;
            logger.error(
              {
                requestId: contextValue?.requestId,
                operationName,
                path: err.path,
                err: { name: original.name, message: original.message, stack: original.stack },
              },
              'unexpected error',
            );
          }
        },
        async willSendResponse({ response, contextValue, document }) {
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          response.body.singleResult.errors = response.body.singleResult.errors.map((e) =>
            maskError(withInputField(e, document), contextValue?.requestId),
          );
        },
      };
    },
  };
}
