import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * Raw rows → entity instances without TypeORM's hydrator (14.8% of the
 * dashboard's CPU in `npm run bench`): a SELECT list aliased to property
 * names, and a mapper that only sets prototype and properties. The `pg`
 * driver already converts timestamps, integers and bytea; enum arrays are
 * cast to text[] so they arrive as arrays.
 */
export interface RowShape<T> {
  /** `alias."col" AS "prefix+property", ...` for every column of the entity. */
  select(alias: string, prefix?: string): string;
  /** The entity from a row selected with `select(alias, prefix)`; null when its primary key is null (no match in a LEFT JOIN). */
  map(row: Record<string, unknown>, prefix?: string): T | null;
}

const shapes = new WeakMap<DataSource, Map<unknown, RowShape<unknown>>>();

export function rowShape<T extends ObjectLiteral>(db: DataSource, entity: EntityTarget<T>): RowShape<T> {
  let perDb = shapes.get(db);
  if (!perDb) shapes.set(db, (perDb = new Map()));
  const known = perDb.get(entity);
  if (known) return known as RowShape<T>;
  const meta = db.getMetadata(entity);
  const columns = meta.columns.map((c) => ({
    property: c.propertyName,
    column: c.databaseName,
    cast: c.isArray && c.type === 'enum' ? '::text[]' : '',
  }));
  const proto = (meta.target as { prototype: object }).prototype;
  const key = meta.primaryColumns[0].propertyName;
  // The row's keys for each prefix, built once: building `${prefix}${property}` per column per row was 3.5% of
  // the dashboard's CPU (bench, issue 7).
  const keysByPrefix = new Map<string, { id: string; keys: string[] }>();
  const keysFor = (prefix: string) => {
    let k = keysByPrefix.get(prefix);
    if (!k) keysByPrefix.set(prefix, (k = { id: `${prefix}${key}`, keys: columns.map((c) => `${prefix}${c.property}`) }));
    return k;
  };
  const shape: RowShape<T> = {
    select: (alias, prefix = '') => columns.map((c) => `${alias}."${c.column}"${c.cast} AS "${prefix}${c.property}"`).join(', '),
    map(row, prefix = '') {
      const { id, keys } = keysFor(prefix);
      if (row[id] === null || row[id] === undefined) return null;
      const entity = Object.create(proto) as Record<string, unknown>;
      for (let i = 0; i < columns.length; i++) entity[columns[i].property] = row[keys[i]];
      return entity as T;
    },
  };
  perDb.set(entity, shape as RowShape<unknown>);
  return shape;
}

/** Entities by id, in key order, null for misses (DataLoader's contract), in one statement. */
export async function rowsById<T extends ObjectLiteral & { id: string }>(
  db: DataSource,
  entity: EntityTarget<T>,
  ids: readonly string[],
): Promise<(T | null)[]> {
  const shape = rowShape(db, entity);
  const table = db.getMetadata(entity).tableName;
  const rows: Record<string, unknown>[] = await db.query(`SELECT ${shape.select('t')} FROM "${table}" t WHERE t.id = ANY($1::uuid[])`, [
    ids,
  ]);
  const byKey = new Map<string, T>();
  for (const row of rows) {
    const e = shape.map(row)!;
    byKey.set(e.id, e);
  }
  return ids.map((id) => byKey.get(id) ?? null);
}

/** Entities grouped by a uuid column, one list per key in key order, each list in `orderBy` order, in one statement. */
export async function rowsGroupedBy<T extends ObjectLiteral>(
  db: DataSource,
  entity: EntityTarget<T>,
  column: string,
  keys: readonly string[],
  orderBy: string,
): Promise<T[][]> {
  const shape = rowShape(db, entity);
  const table = db.getMetadata(entity).tableName;
  const rows: Record<string, unknown>[] = await db.query(
    `SELECT t."${column}" AS "__key", ${shape.select('t')} FROM "${table}" t WHERE t."${column}" = ANY($1::uuid[]) ORDER BY ${orderBy}`,
    [keys],
  );
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = row.__key as string;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(shape.map(row)!);
  }
  return keys.map((k) => groups.get(k) ?? []);
}
