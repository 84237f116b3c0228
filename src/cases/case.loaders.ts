import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { byId } from '../agencies/agency.loaders';
import { perRequest, type RequestContext } from '../auth/context';
import { RescueCase, RescuePeriodExtension } from './rescue-case.entity';

function groupBy<T>(keys: readonly string[], rows: T[], key: (r: T) => string): T[][] {
  const map = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    map.set(k, [...(map.get(k) ?? []), r]);
  }
  return keys.map((k) => map.get(k) ?? []);
}

export const caseLoaders = perRequest(Symbol('cases'), (ctx: RequestContext) => ({
  case: new DataLoader<string, RescueCase | null>(async (ids) =>
    byId(ids, await ctx.db.getRepository(RescueCase).findBy({ id: In([...ids]) })),
  ),
  /** Newest first. */
  casesByPerson: new DataLoader<string, RescueCase[]>(async (personIds) =>
    groupBy(
      personIds,
      await ctx.db.getRepository(RescueCase).find({ where: { personId: In([...personIds]) }, order: { openedAt: 'DESC', id: 'DESC' } }),
      (c) => c.personId,
    ),
  ),
  extensionsByCase: new DataLoader<string, RescuePeriodExtension[]>(async (caseIds) =>
    groupBy(
      caseIds,
      await ctx.db.getRepository(RescuePeriodExtension).find({ where: { caseId: In([...caseIds]) }, order: { at: 'ASC', id: 'ASC' } }),
      (e) => e.caseId,
    ),
  ),
}));

export { groupBy };
