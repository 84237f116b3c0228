import { GraphQLError } from 'graphql';

/**
 * The contract's error codes (../shared/contract/hub.graphql). Clients act on
 * these, never on message text, so they are stable across releases.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What a client can act on; never personal data. */
export type ErrorDetails = Record<string, string | number | boolean | null | undefined>;

/**
 * A deliberate, expected error. Anything that is not a HubError (or a
 * GraphQL validation error) is masked as INTERNAL_SERVER_ERROR by the server.
 */
export class HubError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, { extensions: { code, ...details } });
    this.code = code;
  }
}

export const unauthenticated = (message = 'A valid bearer token is required.') => new HubError(ErrorCode.UNAUTHENTICATED, message);

export const forbidden = (message = 'Your agency may not do this.') => new HubError(ErrorCode.FORBIDDEN, message);

export const notFound = (what: string) => new HubError(ErrorCode.NOT_FOUND, `${what} not found.`);

/** `field` is the input path, e.g. `input.person.idNumber`. */
export const badInput = (field: string, message: string, details: ErrorDetails = {}) =>
  new HubError(ErrorCode.BAD_USER_INPUT, message, { field, ...details });

export const invalidTransition = (status: string, message: string) => new HubError(ErrorCode.INVALID_TRANSITION, message, { status });

export const conflict = (message: string, details: ErrorDetails = {}) => new HubError(ErrorCode.CONFLICT, message, details);
