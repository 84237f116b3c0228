import type { RequestHandler } from 'express';
import {
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  parse,
  SingleFieldSubscriptionsRule,
  specifiedRules,
  validate,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * graphql-js 16's SingleFieldSubscriptionsRule evaluates @skip/@include on a
 * subscription's root selections without variables, and throws — instead of
 * reporting an error — when their `if` is a variable, missing or not a
 * boolean: `validate` itself throws. Apollo answered that with HTTP 500 and
 * graphql-ws closed the socket with 4500, for a document as valid as
 * `subscription($b: Boolean!) { referralEvents @skip(if: $b) { cursor } }`.
 *
 * This rule runs the original and, where it throws, counts the root fields
 * without evaluating those directives (conservatively: a field that a
 * directive might skip still counts). Whatever is wrong with the directive
 * itself is reported by its own rules (required argument, value type).
 */
export const SafeSingleFieldSubscriptionsRule: ValidationRule = (context: ValidationContext): ASTVisitor => {
  const original = SingleFieldSubscriptionsRule(context) as { OperationDefinition?: (...args: unknown[]) => unknown };
  return {
    OperationDefinition(node, ...rest) {
      try {
        return original.OperationDefinition?.(node, ...rest) as undefined;
      } catch {
        if (node.operation !== 'subscription') return undefined;
        const fragments = new Map(
          context
            .getDocument()
            .definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
            .map((d) => [d.name.value, d]),
        );
        const keys = new Set<string>();
        const seen = new Set<string>();
        const collect = (set: SelectionSetNode) => {
          for (const s of set.selections) {
            if (s.kind === Kind.FIELD) keys.add(s.alias?.value ?? s.name.value);
            else if (s.kind === Kind.INLINE_FRAGMENT) collect(s.selectionSet);
            else if (!seen.has(s.name.value)) {
              seen.add(s.name.value);
              const f = fragments.get(s.name.value);
              if (f) collect(f.selectionSet);
            }
          }
        };
        collect(node.selectionSet);
        if (keys.size > 1) {
          const name = node.name?.value;
          context.reportError(
            new GraphQLError(
              name
                ? `Subscription "${name}" must select only one top level field.`
                : 'Anonymous Subscription must select only one top level field.',
              { nodes: node },
            ),
          );
        }
        return undefined;
      }
    },
  };
};

/** The specified rules, with the subscription rule that cannot throw. */
export const SAFE_RULES: readonly ValidationRule[] = specifiedRules.map((r) =>
  r === SingleFieldSubscriptionsRule ? SafeSingleFieldSubscriptionsRule : r,
);

/** Does `validate` with the specified rules throw on this document (see above)? */
function validateThrows(schema: GraphQLSchema, document: DocumentNode): boolean {
  try {
    validate(schema, document);
    return false;
  } catch {
    return true;
  }
}

/**
 * Express, before Apollo (which validates with the specified rules and
 * cannot be given others in their place): a document that would make its
 * validation throw is answered here. Only documents with a subscription and
 * @skip/@include are parsed a second time; subscriptions are served over
 * WebSocket anyway.
 */
export function subscriptionValidationGuard(schema: GraphQLSchema): RequestHandler {
  return (req, res, next) => {
    const body: unknown = req.body;
    const query = body && typeof body === 'object' && 'query' in body ? body.query : req.query?.query;
    const refused = subscriptionOverHttp(schema, query);
    if (!refused) return next();
    res.status(400).json(refused);
  };
}

/** The guard's answer (a 400 body) for a document it refuses, else undefined; shared by both HTTP paths (app.ts). */
export function subscriptionOverHttp(schema: GraphQLSchema, query: unknown): { errors: unknown[] } | undefined {
  if (typeof query !== 'string' || !query.includes('subscription') || !/@(skip|include)\b/.test(query)) return undefined;
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined; // Apollo reports the syntax error as usual
  }
  if (!validateThrows(schema, document)) return undefined;
  const errors = validate(schema, document, SAFE_RULES, { hideSuggestions: true });
  if (errors.length > 0) {
    return {
      errors: errors.map((e) => ({ message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })),
    };
  }
  const err = new GraphQLError('Subscriptions are served over WebSocket (graphql-transport-ws) at this URL, not over HTTP.', {
    extensions: { code: 'BAD_REQUEST' },
  });
  return { errors: [{ message: err.message, extensions: err.extensions }] };
}

/**
 * A subscription whose root field @skip/@include leave out with this
 * request's variables selects nothing, and graphql-js 16's subscribe then
 * throws a TypeError (graphql-ws closed the socket with 4500). Asked before
 * execution; variables that do not fit are left to execution to report.
 */
export function subscriptionSelectsNothing(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown> | undefined,
): boolean {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return false;
  const values = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (values.errors) return false;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const included = (node: SelectionNode) =>
    getDirectiveValues(GraphQLSkipDirective, node, values.coerced)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, values.coerced)?.if !== false;
  const selectsSome = (set: SelectionSetNode, seen: Set<string>): boolean =>
    set.selections.some((s) => {
      if (!included(s)) return false;
      if (s.kind === Kind.FIELD) return true;
      if (s.kind === Kind.INLINE_FRAGMENT) return selectsSome(s.selectionSet, seen);
      const f = fragments.get(s.name.value);
      if (!f || seen.has(f.name.value)) return false;
      return selectsSome(f.selectionSet, new Set([...seen, f.name.value]));
    });
  try {
    return !selectsSome(operation.selectionSet, new Set());
  } catch {
    return false; // a directive that cannot be read is validation's to report
  }
}
