import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  GraphQLError,
  getNamedType,
  getNullableType,
  isListType,
  Kind,
  validate,
  visit,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { RequestContext } from '../auth/context';
import type { Config } from '../shared/config';
import { ErrorCode } from '../shared/errors';

/**
 * What one operation may ask of the hub, over HTTP and graphql-ws alike.
 * A refused operation gets QUERY_TOO_COMPLEX with `measure` (tokens, depth,
 * aliases, cost, nodes), `limit`, and for cost the estimate in `cost`.
 *
 * Depth, aliases and tokens are graphql-armor's rules; the cost estimate is
 * graphql-query-complexity's, because it sees variables and can multiply a
 * connection's children by its page size (`first: 100` of something costs a
 * hundred of it), which armor's cost rule cannot.
 */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
}

export function queryLimits(config: Config): QueryLimits {
  return { maxDepth: config.maxDepth, maxAliases: config.maxAliases, maxTokens: config.maxTokens, maxCost: config.maxCost };
}

export type LimitMeasure = 'tokens' | 'depth' | 'aliases' | 'cost' | 'nodes' | 'bytes';

export function queryTooComplex(measure: LimitMeasure, limit: number, details: Record<string, number> = {}): GraphQLError {
  return new GraphQLError(`The operation exceeds the hub's ${measure} limit of ${limit}; ask for less per operation.`, {
    extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, measure, limit, ...details },
  });
}

/** Page size assumed for a connection asked for without `first`/`last` (the contract's default). */
const DEFAULT_PAGE_SIZE = 20;
/** Rows assumed behind a list that has no paging arguments (a person's cases, custody history, ...). */
const UNPAGED_LIST_SIZE = 10;
/** graphql-query-complexity's guard against fragment fan-out: fields visited while estimating. */
const MAX_QUERY_NODES = 10_000;

/**
 * Every field costs 1 plus its children; the children of a paged field count
 * once per requested row. `edges`/`nodes` of a connection are not multiplied
 * again. Introspection is free: it is bounded by the schema, not the data.
 * A resolver may set its own `complexity` (type-graphql's field option).
 */
const pagedEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  if (field.args.some((a) => a.name === 'first' || a.name === 'last')) {
    const asked = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE);
    const rows = Number.isFinite(asked) ? Math.min(Math.max(asked, 1), 100) : DEFAULT_PAGE_SIZE;
    return 1 + childComplexity * rows;
  }
  if (isListType(getNullableType(field.type))) {
    const alreadyPaged = getNamedType(type).name.endsWith('Connection');
    return 1 + childComplexity * (alreadyPaged ? 1 : UNPAGED_LIST_SIZE);
  }
  return undefined;
};

const ESTIMATORS = [fieldExtensionsEstimator(), pagedEstimator, simpleEstimator({ defaultComplexity: 1 })];

/**
 * Before parsing: counts lexer tokens and stops at the first one past the
 * limit, so a huge document never reaches the parser or the validator.
 * Syntax errors are left to the caller's parser to report.
 */
export function checkTokens(source: string, limits: QueryLimits): GraphQLError | undefined {
  const known = withinTokens.get(limits);
  if (known?.has(source)) return undefined;
  let exceeded = false;
  try {
    new MaxTokensParserWLexer(source, { n: limits.maxTokens, onReject: [() => (exceeded = true)] }).parseDocument();
  } catch {
    // exceeded, or a syntax error that the real parse reports in its usual form
  }
  if (exceeded) return queryTooComplex('tokens', limits.maxTokens);
  // Clients send the same few documents again and again: remember those within the limit (not those refused,
  // nor long ones), so each is lexed once, not on every request.
  if (source.length <= REMEMBERED_SOURCE_CHARS) {
    const set = known ?? new Set<string>();
    if (!known) withinTokens.set(limits, set);
    set.add(source);
    if (set.size > REMEMBERED_SOURCES) set.delete(set.values().next().value!);
  }
  return undefined;
}

/** Sources known to be within a set of limits' token count; bounded in number and size. */
const withinTokens = new WeakMap<QueryLimits, Set<string>>();
const REMEMBERED_SOURCES = 1_000;
const REMEMBERED_SOURCE_CHARS = 16 * 1024;

/**
 * What the checks found for one parsed document (Apollo and graphql-ws keep
 * each document they parsed, so the same object comes back): the depth and
 * aliases verdict, which depends on the document alone, and the cost for each
 * combination of the variables the cost can depend on.
 */
interface DocumentChecks {
  depthAndAliases: GraphQLError | null;
  /** Variables used as `first`/`last` or in a directive (@skip/@include): all the estimate reads of them. */
  costVariables: string[];
  costs: Map<string, number | 'too many nodes'>;
}

const checked = new WeakMap<QueryLimits, WeakMap<DocumentNode, DocumentChecks>>();
const REMEMBERED_COSTS = 100;

function costVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.value.kind === Kind.VARIABLE && (node.name.value === 'first' || node.name.value === 'last'))
        names.add(node.value.name.value);
    },
    Directive(node) {
      for (const arg of node.arguments ?? []) if (arg.value.kind === Kind.VARIABLE) names.add(arg.value.name.value);
    },
  });
  return [...names].sort();
}

/**
 * After the document has passed the specified validation rules: depth,
 * aliases, then the cost estimate with the request's variables.
 */
export function checkOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits,
  variables?: Record<string, unknown>,
  operationName?: string,
): GraphQLError | undefined {
  let perDocument = checked.get(limits);
  if (!perDocument) checked.set(limits, (perDocument = new WeakMap()));
  let known = perDocument.get(document);
  if (!known) {
    let refused: GraphQLError | undefined;
    const refuse = (measure: LimitMeasure, limit: number) => () => (refused ??= queryTooComplex(measure, limit));
    const rules: ValidationRule[] = [
      maxDepthRule({ n: limits.maxDepth, propagateOnRejection: false, onReject: [refuse('depth', limits.maxDepth)] }),
      maxAliasesRule({ n: limits.maxAliases, propagateOnRejection: false, onReject: [refuse('aliases', limits.maxAliases)] }),
    ];
    validate(schema, document, rules);
    known = { depthAndAliases: refused ?? null, costVariables: costVariablesOf(document), costs: new Map() };
    perDocument.set(document, known);
  }
  if (known.depthAndAliases) return known.depthAndAliases;

  // An absent variable (its default applies) and an explicit null are different requests.
  const costKey = JSON.stringify([
    operationName ?? null,
    ...known.costVariables.map((v) => (variables && v in variables ? [variables[v]] : [])),
  ]);
  let cost = known.costs.get(costKey);
  if (cost === undefined) {
    cost = estimateCost(schema, document, variables, operationName);
    // Not remembered when the variables did not fit: another request's variables may, and must then be costed.
    if (cost !== undefined) {
      known.costs.set(costKey, cost);
      if (known.costs.size > REMEMBERED_COSTS) known.costs.delete(known.costs.keys().next().value!);
    }
  }
  if (cost === 'too many nodes') return queryTooComplex('nodes', MAX_QUERY_NODES);
  return cost !== undefined && cost > limits.maxCost ? queryTooComplex('cost', limits.maxCost, { cost }) : undefined;
}

/**
 * The operation's estimated cost; undefined when its variables do not fit
 * (execution reports that as usual); 'too many nodes' when fragments fan out
 * past graphql-query-complexity's guard.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables?: Record<string, unknown>,
  operationName?: string,
): number | 'too many nodes' | undefined {
  try {
    return getComplexity({ schema, query: document, variables, operationName, estimators: ESTIMATORS, maxQueryNodes: MAX_QUERY_NODES });
  } catch (err) {
    // Thrown with this message by graphql-query-complexity 1.x; anything else is a variables error.
    if (err instanceof GraphQLError && /maximum allowed number of nodes/.test(err.message)) return 'too many nodes';
    return undefined;
  }
}

function withHttpStatus(err: GraphQLError, status: number): GraphQLError {
  return new GraphQLError(err.message, { extensions: { ...err.extensions, http: { status } } });
}

/** Apollo: depth, aliases and cost once the operation is known (documents are cached, variables are not). */
export function queryLimitsPlugin(limits: QueryLimits): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return; // Apollo answers OPERATION_RESOLUTION_FAILURE itself
          const refused = checkOperation(schema, document, limits, request.variables, operation.name?.value);
          if (refused) throw withHttpStatus(refused, 400);
        },
      };
    },
  };
}

/** A GraphQL-shaped JSON body for answers given before Apollo sees the request. */
export function errorBody(err: GraphQLError): { errors: { message: string; extensions: GraphQLError['extensions'] }[] } {
  return { errors: [{ message: err.message, extensions: err.extensions }] };
}

export function sendError(res: Parameters<RequestHandler>[1], status: number, err: GraphQLError): void {
  res.status(status).json(errorBody(err));
}

/** A body that is not JSON, or (body-parser's strict mode) not an object or an array. */
export const notJson = () => new GraphQLError('The request body is not valid JSON.', { extensions: { code: 'BAD_REQUEST' } });

/** Express, after the body is parsed: refuses documents past the token limit before Apollo parses them. */
export function tokenLimitMiddleware(limits: QueryLimits): RequestHandler {
  return (req, res, next) => {
    const body: unknown = req.body;
    const query = body && typeof body === 'object' && 'query' in body ? body.query : req.query?.query;
    const refused = typeof query === 'string' ? checkTokens(query, limits) : undefined;
    if (refused) sendError(res, 400, refused);
    else next();
  };
}

/**
 * express.json's failures as GraphQL errors: an oversized body is 413 with
 * QUERY_TOO_COMPLEX (measure `bytes`), unreadable JSON is 400 BAD_REQUEST.
 * Express would otherwise answer with an HTML page.
 */
export function bodyErrorHandler(maxBodyBytes: number): ErrorRequestHandler {
  return (err: { type?: string; status?: number }, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err?.type === 'entity.too.large') return sendError(res, 413, queryTooComplex('bytes', maxBodyBytes));
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      if (err.type === 'entity.parse.failed') return sendError(res, err.status, notJson());
      return sendError(res, err.status, new GraphQLError('The request body could not be read.', { extensions: { code: 'BAD_REQUEST' } }));
    }
    next(err);
  };
}
