import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, GraphQLError, Kind, visit, type DocumentNode } from 'graphql';
import type { RequestContext } from '../auth/context';
import { ErrorCode } from '../shared/errors';

/** `__schema` and `__type` describe the schema; `__typename` is harmless and clients need it. */
export function asksForSchema(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * The schema is described only to callers with a token: a stranger learns
 * nothing of what the hub holds. (WebSockets need a token to connect at all.)
 * Fragments are visited too, so introspection cannot hide in one.
 */
export function introspectionGuardPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document }) {
          if (contextValue.actor.kind === 'anonymous' && asksForSchema(document)) {
            throw new GraphQLError('Introspection needs a valid bearer token.', {
              extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
            });
          }
        },
      };
    },
  };
}
