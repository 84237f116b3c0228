import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../auth/context';
import { actorIds } from '../auth/actor';

export type AuditSubjectType = 'Agency' | 'Account' | 'Person' | 'RescueCase' | 'Referral';

export interface AuditItem {
  action: string;
  subjectType: AuditSubjectType;
  subjectId: string;
}

/**
 * Appends entries in ONE statement however many there are (a page of 50
 * persons is one INSERT, not fifty). Pass the transaction's manager so that a
 * change and its audit entry commit together.
 */
export async function appendAudit(
  db: EntityManager | RequestContext['db'],
  ctx: Pick<RequestContext, 'actor' | 'requestId'>,
  items: AuditItem[],
): Promise<void> {
  if (items.length === 0) return;
  const { accountId, agencyId } = actorIds(ctx.actor);
  await db.query(
    `INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
     SELECT $1, $2, t.action, t.subject_type, t.subject_id, $3
       FROM unnest($4::varchar[], $5::varchar[], $6::uuid[]) AS t(action, subject_type, subject_id)`,
    [accountId, agencyId, ctx.requestId, items.map((i) => i.action), items.map((i) => i.subjectType), items.map((i) => i.subjectId)],
  );
}

/**
 * One entry as a data-modifying CTE of the caller's own statement (parameters from `$n`): a step writes its
 * change, its audit entry and its event in one round trip (referral.step.ts). Same row as appendAudit's.
 */
export function auditEntryCte(
  n: number,
  ctx: Pick<RequestContext, 'actor' | 'requestId'>,
  item: AuditItem,
): { sql: string; params: unknown[] } {
  const entry = auditEntriesOf(n, ctx, item, { subject: `$${n + 5}::uuid` });
  return { sql: entry.sql, params: [...entry.params, item.subjectId] };
}

/**
 * An entry for each row of `from` (a relation of the caller's statement), its subject the SQL `subject`: for a
 * change whose subject is known only inside the statement, e.g. the person of the referral a guarded step has
 * just changed (referral.guard.ts). Parameters from `$n`, five of them.
 */
export function auditEntriesOf(
  n: number,
  ctx: Pick<RequestContext, 'actor' | 'requestId'>,
  item: Omit<AuditItem, 'subjectId'>,
  of: { subject: string; from?: string },
): { sql: string; params: unknown[] } {
  const { accountId, agencyId } = actorIds(ctx.actor);
  return {
    sql: `INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
          SELECT $${n}::uuid, $${n + 1}::uuid, $${n + 2}::varchar, $${n + 3}::varchar, ${of.subject}, $${n + 4}::varchar${of.from ? ` FROM ${of.from}` : ''}`,
    params: [accountId, agencyId, item.action, item.subjectType, ctx.requestId],
  };
}

const READS = Symbol('audit.reads');

/**
 * Records that this request read a person's record (or revealed a full ID
 * number); flushed once at the end of the request by `flushReads`, so a page
 * of 50 persons costs one INSERT, not fifty.
 */
export function noteRead(
  ctx: RequestContext,
  action: 'person.read' | 'person.idNumber.reveal' | 'person.diagnoses.read' | 'person.auditTrail.read',
  personId: string,
): void {
  const key = `${action}|${personId}`;
  if ((ctx.memo.get(WRITTEN) as Set<string> | undefined)?.has(key)) return;
  let reads = ctx.memo.get(READS) as Set<string> | undefined;
  if (!reads) ctx.memo.set(READS, (reads = new Set()));
  reads.add(key);
}

/** Reads this request has already audited in the statement that made them (access.policy.ts): never twice. */
const WRITTEN = Symbol('audit.written');

/** Records that the read's audit entry was written by the reading statement itself (committed with it). */
export function markReadAudited(ctx: RequestContext, action: 'person.read', personId: string): void {
  let written = ctx.memo.get(WRITTEN) as Set<string> | undefined;
  if (!written) ctx.memo.set(WRITTEN, (written = new Set()));
  written.add(`${action}|${personId}`);
}

/**
 * Notes in `to` every read noted so far in `from`: a subscription payload
 * executed once for several subscribers is still each one's read, audited
 * under each one's account and request.
 */
export function copyReads(from: RequestContext, to: RequestContext): void {
  const reads = from.memo.get(READS) as Set<string> | undefined;
  if (!reads || reads.size === 0) return;
  let mine = to.memo.get(READS) as Set<string> | undefined;
  if (!mine) to.memo.set(READS, (mine = new Set()));
  for (const r of reads) mine.add(r);
}

/**
 * Every read this request has audited or is to audit, as [action, personId]: what an answer given again without
 * running its resolvers must write again (src/cases/case-page.cache.ts). Before `flushReads`, which empties it.
 */
export function readsOf(ctx: RequestContext): [string, string][] {
  const all = new Set<string>([
    ...((ctx.memo.get(WRITTEN) as Set<string> | undefined) ?? []),
    ...((ctx.memo.get(READS) as Set<string> | undefined) ?? []),
  ]);
  return [...all].map((r) => r.split('|') as [string, string]);
}

export async function flushReads(ctx: RequestContext): Promise<void> {
  const reads = ctx.memo.get(READS) as Set<string> | undefined;
  if (!reads || reads.size === 0) return;
  ctx.memo.delete(READS);
  await appendAudit(
    ctx.db,
    ctx,
    [...reads].map((r) => {
      const [action, subjectId] = r.split('|');
      return { action, subjectType: 'Person' as const, subjectId };
    }),
  );
}
