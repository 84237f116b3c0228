import { AccountRole, AgencyKind, requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { badInput, forbidden, notFound } from '../shared/errors';
import { decodeCursor, encodeCursor, pageSize, uuidOf, type NodeType } from '../shared/relay';
import { AuditEntry, type AuditEntryConnection } from './audit-entry.type';
import { noteRead } from './audit.service';

const MAX_BIGINT = 2n ** 63n - 1n;

/**
 * Who read or changed what about one person, newest first, keyset on the
 * log's identity column. DOMAIN.md §6: access to sensitive records is asked
 * for, granted and logged — so the trail is for the supervisors of a rescue
 * station party to the person and for the administrator, and reading it is
 * itself logged (person.auditTrail.read).
 */
export async function auditTrail(
  ctx: RequestContext,
  personGlobalId: string,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<AuditEntryConnection> {
  const actor = requireAuthenticated(ctx.actor);
  const personId = uuidOf('Person', personGlobalId);
  const limit = pageSize(first, 50);
  let before: string | null = null;
  if (after) {
    const [seq] = decodeCursor(after);
    // A bigint: 19 digits may still be past its maximum, which PostgreSQL refuses (SQLSTATE 22003).
    if (typeof seq !== 'string' || !/^[0-9]{1,19}$/.test(seq) || BigInt(seq) > MAX_BIGINT) {
      throw badInput('after', 'Not a cursor returned by this hub.');
    }
    before = seq;
  }
  // Role first: a refusal that does not depend on the person tells nothing about them.
  if (actor.kind === 'account' && (actor.agencyKind !== AgencyKind.RESCUE_STATION || actor.role !== AccountRole.SUPERVISOR)) {
    throw forbidden('Only the supervisors of a rescue station party to the person, and the administrator, read the audit trail.');
  }
  const visible =
    actor.kind === 'admin'
      ? ((await ctx.db.query('SELECT 1 FROM person WHERE id = $1', [personId])) as unknown[]).length > 0
      : (await ctx.access.visiblePersons(ctx, [personId])).has(personId);
  if (!visible) throw notFound('Person');

  const rows: {
    seq: string;
    at: Date;
    account_id: string | null;
    agency_id: string | null;
    action: string;
    subject_type: NodeType;
    subject_id: string;
  }[] = await ctx.db.query(
    `SELECT id::text AS seq, at, account_id, agency_id, action, subject_type, subject_id
       FROM audit_log
      WHERE subject_id = $1 AND subject_type = 'Person' AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY id DESC
      LIMIT ${limit + 1}`,
    [personId, before],
  );
  noteRead(ctx, 'person.auditTrail.read', personId);
  const edges = rows.slice(0, limit).map((r) => ({
    cursor: encodeCursor([r.seq]),
    node: Object.assign(new AuditEntry(), {
      seq: r.seq,
      at: r.at,
      accountId: r.account_id,
      agencyId: r.agency_id,
      action: r.action,
      subjectType: r.subject_type,
      subjectUuid: r.subject_id,
    }),
  }));
  return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
}
