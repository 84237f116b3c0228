import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/** RFC 3339 / ISO-8601 with an explicit offset: a bare local time is ambiguous across agencies. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * JavaScript's parser rolls 2026-02-30 over to March 2 and reads 24:00 as the
 * next day; RFC 3339 allows neither, and an agency that sent one meant something else.
 */
function hasRealFields(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value)!;
  const [y, mo, d, h, mi, s] = m.slice(1).map((part) => Number(part ?? 0));
  const offset = /[+-](\d{2}):(\d{2})$/.exec(value);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  const offsetOk = !offset || (Number(offset[1]) <= 23 && Number(offset[2]) <= 59);
  return d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && s <= 59 && offsetOk;
}

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !ISO.test(value)) {
    throw new GraphQLError('DateTime must be ISO-8601 with an offset, e.g. 2026-11-24T18:30:00+08:00.', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !hasRealFields(value)) {
    throw new GraphQLError('DateTime is not a real date.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return d;
}

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'ISO-8601 date-time with offset, e.g. 2026-11-24T18:30:00+08:00.',
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return new Date(value).toISOString();
    throw new GraphQLError('DateTime cannot represent a non-date value.');
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('DateTime must be a string.', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return parse(ast.value);
  },
});
