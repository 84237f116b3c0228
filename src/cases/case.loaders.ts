import DataLoader from 'dataloader';
import { perRequest, type RequestContext } from '../auth/context';
import { rowsById, rowsGroupedBy } from '../db/rows';
import { RescueCase, RescuePeriodExtension } from './rescue-case.entity';

export const caseLoaders = perRequest(Symbol('cases'), (ctx: RequestContext) => ({
  case: new DataLoader<string, RescueCase | null>((ids) => rowsById(ctx.db, RescueCase, ids)),
  /** Newest first. */
  casesByPerson: new DataLoader<string, RescueCase[]>((personIds) =>
    rowsGroupedBy(ctx.db, RescueCase, 'person_id', personIds, 't.opened_at DESC, t.id DESC'),
  ),
  extensionsByCase: new DataLoader<string, RescuePeriodExtension[]>((caseIds) =>
    rowsGroupedBy(ctx.db, RescuePeriodExtension, 'case_id', caseIds, 't.at, t.id'),
  ),
}));
