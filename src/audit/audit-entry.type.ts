import { Field, ID, ObjectType } from 'type-graphql';
import { PageInfo } from '../shared/page-info';
import { toGlobalId, type NodeType } from '../shared/relay';

/**
 * One row of the audit log as the API shows it. Kept apart from the table's
 * entity (AuditEntryRow) so that the log's columns never become API by
 * accident: the request id, for one, stays internal.
 */
@ObjectType({ description: 'One read of personal data or one change, as kept in the append-only audit log.' })
export class AuditEntry {
  /** bigint identity, as text: the keyset of the trail's cursor. */
  seq!: string;

  @Field({ description: 'When it was read or changed.' })
  at!: Date;

  accountId!: string | null;

  agencyId!: string | null;

  @Field({ description: 'E.g. person.read, person.idNumber.reveal, referral.accept.' })
  action!: string;

  subjectType!: NodeType;

  subjectUuid!: string;

  @Field(() => ID, { description: 'Global id of what was read or changed (for a trail: the person).' })
  get subjectId(): string {
    return toGlobalId(this.subjectType, this.subjectUuid);
  }
}

@ObjectType()
export class AuditEntryEdge {
  @Field()
  cursor!: string;

  @Field(() => AuditEntry)
  node!: AuditEntry;
}

@ObjectType({ description: 'Newest first.' })
export class AuditEntryConnection {
  @Field(() => [AuditEntryEdge])
  edges!: AuditEntryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
