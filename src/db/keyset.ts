import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { decodeKeysetCursor, encodeCursor } from '../shared/relay';
import { rowShape } from './rows';

/** A WHERE clause under construction, with numbered parameters ($1, $2, ...). */
export class SqlFilter {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];

  /** Adds a parameter and returns its placeholder. */
  param(value: unknown): string {
    return `$${this.params.push(value)}`;
  }

  and(condition: string): this {
    this.parts.push(condition);
    return this;
  }

  get sql(): string {
    return this.parts.length ? this.parts.join(' AND ') : 'TRUE';
  }
}

export interface KeysetPage<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
  /** The statement's snapshot (`pg_current_snapshot()`, as text), when asked for with `snapshot: true`. */
  snapshot?: string;
}

/**
 * Newest first on (timestamp, id), after an opaque cursor, with the total
 * count of the filter — in ONE statement with whole rows (an empty page still
 * brings its count). Pages stay stable while rows are added; the cursor
 * keeps PostgreSQL's own microsecond timestamp (a JS Date would round it and
 * skip rows). `filter` must use `alias` for the table.
 */
export async function keysetPage<T extends ObjectLiteral & { id: string }>(
  db: DataSource,
  opts: {
    entity: EntityTarget<T>;
    alias: string;
    timeColumn: string;
    filter: SqlFilter;
    first: number;
    after?: string | null;
    /** Rows of other tables read with each row of the page (LEFT JOINs on `alias`), handed to `onRow`. */
    with?: { select: string; joins: string; onRow(row: Record<string, unknown>, node: T): void };
    /**
     * A data-modifying CTE the page's own statement runs over `shown`, the relation of the rows it answers (no
     * more than `first`, with the entity's property names as columns): e.g. the audit entries of the persons the
     * page reads, written in the same round trip. Its parameters start at `$n`.
     */
    write?: (n: number, shown: string) => { sql: string; params: unknown[] };
    /** Also answer the snapshot the statement read with: what the page shows is what had committed by then. */
    snapshot?: boolean;
  },
): Promise<KeysetPage<T>> {
  const { alias: a, timeColumn, filter, first } = opts;
  const shape = rowShape(db, opts.entity);
  const table = db.getMetadata(opts.entity).tableName;
  const base = filter.sql;
  let page = base;
  if (opts.after) {
    const { at, id } = decodeKeysetCursor(opts.after);
    page += ` AND (${a}.${timeColumn}, ${a}.id) < (${filter.param(at)}::timestamptz, ${filter.param(id)}::uuid)`;
  }
  let sql = `SELECT t.total_count,${opts.snapshot ? ' pg_current_snapshot()::text AS page_snapshot,' : ''} pg.*
       FROM (SELECT count(*)::int AS total_count FROM "${table}" ${a} WHERE ${base}) t
       LEFT JOIN LATERAL (
         SELECT ${shape.select(a)}, ${a}.${timeColumn}::text AS cursor_at${opts.with ? `, ${opts.with.select}` : ''}
           FROM "${table}" ${a} ${opts.with?.joins ?? ''} WHERE ${page}
          ORDER BY ${a}.${timeColumn} DESC, ${a}.id DESC LIMIT ${filter.param(first + 1)}) pg ON TRUE`;
  if (opts.write) {
    const time = db.getMetadata(opts.entity).findColumnWithDatabaseName(timeColumn)!.propertyName;
    const shown = `(SELECT * FROM page WHERE id IS NOT NULL ORDER BY "${time}" DESC, id DESC LIMIT ${filter.param(first)})`;
    const w = opts.write(filter.params.length + 1, shown);
    filter.params.push(...w.params);
    // The page's order said again: a CTE's rows keep it only by how PostgreSQL happens to scan them.
    sql = `WITH page AS MATERIALIZED (${sql}), written AS (${w.sql}) SELECT * FROM page ORDER BY "${time}" DESC, id DESC`;
  }
  const rows: Record<string, unknown>[] = await db.query(sql, filter.params);
  const found = rows.filter((r) => r.id != null);
  const edges = found.slice(0, first).map((row) => {
    const node = shape.map(row)!;
    opts.with?.onRow(row, node);
    return { cursor: encodeCursor([row.cursor_at as string, node.id]), node };
  });
  return {
    edges,
    pageInfo: { hasNextPage: found.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount: Number(rows[0].total_count),
    ...(opts.snapshot ? { snapshot: rows[0].page_snapshot as string } : {}),
  };
}
