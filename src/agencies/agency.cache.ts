import type { DataSource } from 'typeorm';
import { rowShape } from '../db/rows';
import { Agency } from './agency.entity';

/**
 * Agencies never change once created (the API has no update or delete), so
 * every process keeps the ones it has seen: the agency names on a dashboard
 * cost no query after the first. A new agency is simply a cache miss.
 */
const cache = new WeakMap<DataSource, Map<string, Agency>>();

/** The agency if this process has seen it, else undefined: no promise for what is in memory (known-loader.ts). */
export function cachedAgency(db: DataSource, id: string): Agency | undefined {
  return cache.get(db)?.get(id);
}

/**
 * `via`: where a miss is read, e.g. the caller's transaction (inside one, a second pool connection taken while
 * holding its locks would let poolSize concurrent requests wait on each other).
 */
export async function agenciesById(
  db: DataSource,
  ids: readonly string[],
  via: Pick<DataSource, 'query'> = db,
): Promise<(Agency | null)[]> {
  let known = cache.get(db);
  if (!known) cache.set(db, (known = new Map()));
  const missing = [...new Set(ids.filter((id) => !known.has(id)))];
  if (missing.length > 0) {
    const shape = rowShape(db, Agency);
    const rows: Record<string, unknown>[] = await via.query(`SELECT ${shape.select('a')} FROM agency a WHERE a.id = ANY($1::uuid[])`, [
      missing,
    ]);
    for (const row of rows) {
      const agency = shape.map(row)!;
      known.set(agency.id, agency);
    }
  }
  return ids.map((id) => known.get(id) ?? null);
}
