import { buildSchema, execute, parse, type GraphQLFieldResolver } from 'graphql';
import { NO_ARGUMENTS, shareEmptyArguments } from '../../src/server/field-arguments';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const values = require('graphql/execution/values') as { getArgumentValues: unknown };

const schema = buildSchema(`
  type Query {
    plain: String
    page(first: Int = 50, after: String): String
    again: String
  }
`);

/** Runs `source` with resolvers that keep the `args` each field was given. */
function argsSeen(source: string, variableValues?: Record<string, unknown>) {
  const seen: Record<string, Record<string, unknown>[]> = {};
  const keep: GraphQLFieldResolver<unknown, unknown> = (_root, args, _ctx, info) => {
    (seen[info.fieldName] ??= []).push(args as Record<string, unknown>);
    return 'x';
  };
  const result = execute({
    schema,
    document: parse(source),
    rootValue: { plain: keep, page: keep, again: keep },
    fieldResolver: (root, args, ctx, info) =>
      (root as Record<string, GraphQLFieldResolver<unknown, unknown>>)[info.fieldName](root, args, ctx, info),
    variableValues,
  });
  return { seen, result };
}

describe('arguments of fields that take none', () => {
  beforeAll(() => shareEmptyArguments());

  it('are one shared, frozen, empty object, not two new ones per field', () => {
    const { seen, result } = argsSeen('{ plain again a: plain }');
    expect(result).toEqual({ data: { plain: 'x', again: 'x', a: 'x' } });
    const all = [...seen.plain, ...seen.again];
    expect(all).toHaveLength(3);
    for (const args of all) expect(args).toBe(NO_ARGUMENTS);
    expect(Object.isFrozen(NO_ARGUMENTS)).toBe(true);
    expect(Object.keys(NO_ARGUMENTS)).toEqual([]);
    expect(Object.getPrototypeOf(NO_ARGUMENTS)).toBeNull();
  });

  it('leave a field with arguments its own coerced values, defaults and variables included', () => {
    const { seen } = argsSeen('query ($after: String) { d: page  n: page(first: 3)  v: page(after: $after) }', {
      after: 'c1',
    });
    expect(seen.page.map((a) => ({ ...a }))).toEqual([{ first: 50 }, { first: 3 }, { first: 50, after: 'c1' }]);
    for (const args of seen.page) expect(args).not.toBe(NO_ARGUMENTS);
  });

  it('leave directives their arguments (@include, @skip)', () => {
    const { result } = argsSeen('query ($on: Boolean!) { plain @include(if: $on)  again @skip(if: $on) }', { on: true });
    expect(result).toEqual({ data: { plain: 'x' } });
  });

  it('are installed once, however often asked', () => {
    const installed = values.getArgumentValues;
    shareEmptyArguments();
    expect(values.getArgumentValues).toBe(installed);
  });
});
