import { forbidden, unauthenticated } from '../shared/errors';

/** Declared here, below every domain module, because authorization reads it. */
export enum AgencyKind {
  RESCUE_STATION = 'RESCUE_STATION',
  POLICE_STATION = 'POLICE_STATION',
  PSYCHIATRIC_HOSPITAL = 'PSYCHIATRIC_HOSPITAL',
  WELFARE_HOME = 'WELFARE_HOME',
  CIVIL_AFFAIRS_OFFICE = 'CIVIL_AFFAIRS_OFFICE',
}

export enum AccountRole {
  STAFF = 'STAFF',
  SUPERVISOR = 'SUPERVISOR',
}

/** Who is calling. The administrator administers but is not an agency. */
export type Actor =
  | { kind: 'anonymous' }
  | { kind: 'admin' }
  | {
      kind: 'account';
      accountId: string;
      role: AccountRole;
      agencyId: string;
      agencyKind: AgencyKind;
      /** First two digits: the agency's province (GB/T 2260). */
      agencyRegionCode: string;
    };

export type AccountActor = Extract<Actor, { kind: 'account' }>;

export function requireAuthenticated(actor: Actor): Exclude<Actor, { kind: 'anonymous' }> {
  if (actor.kind === 'anonymous') throw unauthenticated();
  return actor;
}

export function requireAdmin(actor: Actor): void {
  if (requireAuthenticated(actor).kind !== 'admin') throw forbidden('Only the hub administrator may do this.');
}

/** An agency account, optionally of one of the given kinds. */
export function requireAgency(actor: Actor, ...kinds: AgencyKind[]): AccountActor {
  const a = requireAuthenticated(actor);
  if (a.kind !== 'account') throw forbidden('This needs an agency account, not the administrator token.');
  if (kinds.length > 0 && !kinds.includes(a.agencyKind)) {
    throw forbidden(`Only ${kinds.join(' or ')} accounts may do this.`);
  }
  return a;
}

/** The audit log's view of an actor. */
export function actorIds(actor: Actor): { accountId: string | null; agencyId: string | null } {
  return actor.kind === 'account' ? { accountId: actor.accountId, agencyId: actor.agencyId } : { accountId: null, agencyId: null };
}
