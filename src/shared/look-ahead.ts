import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the operation asks, below the field being resolved, for the field
 * path given (e.g. `['edges', 'node', 'person']`), through aliases, inline
 * fragments and fragment spreads. Directives (@skip/@include) are not read:
 * a field they drop counts as asked, which only costs the read ahead.
 */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  const visit = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): boolean => {
    if (!set) return false;
    for (const sel of set.selections) {
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
