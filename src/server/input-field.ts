import { Kind, type DirectiveNode, type DocumentNode, type GraphQLFormattedError, type SelectionNode, type ValueNode } from 'graphql';

/**
 * graphql-js refuses a variable that does not fit its type (a DateTime that
 * is no date, an Int past 32 bits, a missing required field) before any
 * resolver runs, with BAD_USER_INPUT but no `extensions.field`; the contract
 * promises one. Its message names the variable and the path inside it
 * (`Variable "$i" got invalid value ... at "i.until"; ...`), and the
 * document says which argument the variable was given to, so the field is
 * that argument's path, e.g. `input.until` (list positions as `.0`, like the
 * hub's own checks).
 */
export function withInputField(error: GraphQLFormattedError, document: DocumentNode | undefined): GraphQLFormattedError {
  if (error.extensions?.code !== 'BAD_USER_INPUT' || error.extensions.field !== undefined || !document) return error;
  const variable = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)"/.exec(error.message)?.[1];
  if (!variable) return error;
  const argument = argumentPathOf(document, variable);
  if (!argument) return error;
  // The inspected value is JSON-quoted, so ` at "$name` cannot occur inside it, only in the suffix.
  const inside = new RegExp(` at "${variable}((?:\\.[_A-Za-z][_0-9A-Za-z]*|\\[\\d+\\])*)"; `).exec(error.message)?.[1] ?? '';
  // A missing or unknown field of an input object is reported at the object: name the field itself.
  const named = /; Field "([_A-Za-z][_0-9A-Za-z]*)" (?:of required type .* was not provided|is not defined by type .*)\.$/.exec(
    error.message,
  )?.[1];
  const field = argument + inside.replace(/\[(\d+)\]/g, '.$1') + (named ? `.${named}` : '');
  return { ...error, extensions: { ...error.extensions, field } };
}

/**
 * graphql-js's refusal of a request's variables has no code of its own and
 * no path; Apollo calls it BAD_USER_INPUT over HTTP, and the WebSocket path
 * must too (it would otherwise be masked as INTERNAL_SERVER_ERROR).
 */
export function asVariableError(error: GraphQLFormattedError): GraphQLFormattedError {
  if (error.extensions?.code !== undefined || error.path) return error;
  if (!/^Variable "\$[_A-Za-z][_0-9A-Za-z]*" (got invalid value|of required type|of non-null type)/.test(error.message)) return error;
  return { ...error, extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } };
}

/** Where the variable is first used: an argument's name, then the input-object fields around it. */
function argumentPathOf(document: DocumentNode, variable: string): string | undefined {
  const inValue = (value: ValueNode, path: string): string | undefined => {
    if (value.kind === Kind.VARIABLE) return value.name.value === variable ? path : undefined;
    if (value.kind === Kind.OBJECT) {
      for (const f of value.fields) {
        const found = inValue(f.value, `${path}.${f.name.value}`);
        if (found) return found;
      }
    }
    if (value.kind === Kind.LIST) {
      for (const [i, v] of value.values.entries()) {
        const found = inValue(v, `${path}.${i}`);
        if (found) return found;
      }
    }
    return undefined;
  };
  let found: string | undefined;
  // A directive's argument is named with its directive, e.g. `@skip.if`.
  const inDirectives = (directives: readonly DirectiveNode[] | undefined) => {
    for (const d of directives ?? [])
      for (const arg of d.arguments ?? []) found ??= inValue(arg.value, `@${d.name.value}.${arg.name.value}`);
  };
  const visitSelections = (selections: readonly SelectionNode[]): void => {
    for (const s of selections) {
      if (found) return;
      if (s.kind === Kind.FIELD) {
        for (const arg of s.arguments ?? []) {
          found ??= inValue(arg.value, arg.name.value);
        }
      }
      inDirectives(s.directives);
      if (s.kind !== Kind.FRAGMENT_SPREAD && s.selectionSet) visitSelections(s.selectionSet.selections);
    }
  };
  for (const def of document.definitions) {
    if (def.kind === Kind.OPERATION_DEFINITION || def.kind === Kind.FRAGMENT_DEFINITION) {
      inDirectives(def.directives);
      visitSelections(def.selectionSet.selections);
    }
    if (found) return found;
  }
  return undefined;
}
