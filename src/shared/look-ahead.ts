import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type FragmentSpreadNode,
  type GraphQLResolveInfo,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Whether the operation asks, below the field being resolved, for the field
 * path given (e.g. `['edges', 'node', 'person']`), through aliases, inline
 * fragments and fragment spreads, as graphql-js will execute it: a selection
 * that @skip or @include drops does not count (a page's statement writes the
 * read of the persons it is asked for, case.queries.ts).
 */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  // graphql-js's own test (collectFields' shouldIncludeNode), with the operation's variables.
  const included = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode) =>
    !node.directives?.length ||
    (getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if !== true &&
      getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false);
  const visit = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): boolean => {
    if (!set) return false;
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value === path[depth] && (depth === path.length - 1 || visit(sel.selectionSet, depth + 1, seen))) return true;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (visit(sel.selectionSet, depth, seen)) return true;
      } else {
        const name = sel.name.value;
        if (seen.has(name)) continue;
        const fragment = info.fragments[name];
        if (fragment && visit(fragment.selectionSet, depth, new Set(seen).add(name))) return true;
      }
    }
    return false;
  };
  return info.fieldNodes.some((node) => visit(node.selectionSet, 0, new Set()));
}
