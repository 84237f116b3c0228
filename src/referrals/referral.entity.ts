import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Account } from '../agencies/account.entity';
import { Agency } from '../agencies/agency.entity';
import { RescueCase } from '../cases/rescue-case.entity';
import { Person } from '../persons/person.entity';
import { Node } from '../shared/node';
import { toGlobalId } from '../shared/relay';
import { ReferralEventType, ReferralKind, ReferralStatus, RejectionReason } from './referral.enums';

@ObjectType({ implements: Node, description: 'A request that one agency take over a person, and the hand-off that follows (转介 / 交接).' })
@Entity({ name: 'referral' })
// At most one open referral per person (DOMAIN.md §4), as a database fact.
@Index('referral_one_open_per_person', ['personId'], { unique: true, where: `"status" IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT')` })
@Index('referral_to_idx', ['toAgencyId', 'createdAt', 'id'])
@Index('referral_from_idx', ['fromAgencyId', 'createdAt', 'id'])
@Index('referral_requested_by_idx', ['requestedById', 'createdAt', 'id'])
@Index('referral_escort_idx', ['escortAgencyId'], { where: '"escort_agency_id" IS NOT NULL' })
@Index('referral_case_idx', ['caseId'])
@Index('referral_person_idx', ['personId', 'createdAt'])
@Index('referral_due_idx', ['respondBy'], { where: `"status" IN ('REQUESTED', 'ACCEPTED')` })
export class Referral implements Node {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Field(() => ID, { name: 'id' })
  get globalId(): string {
    return toGlobalId('Referral', this.id);
  }

  @Field(() => ReferralKind)
  @Column({ type: 'enum', enum: ReferralKind, enumName: 'referral_kind' })
  kind!: ReferralKind;

  @Field(() => ReferralStatus)
  @Column({ type: 'enum', enum: ReferralStatus, enumName: 'referral_status' })
  status!: ReferralStatus;

  @Column({ name: 'person_id', type: 'uuid' })
  personId!: string;

  @ManyToOne(() => Person, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'person_id' })
  person?: Person;

  @Column({ name: 'case_id', type: 'uuid', nullable: true })
  caseId!: string | null;

  @ManyToOne(() => RescueCase, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'case_id' })
  rescueCase?: RescueCase | null;

  @Column({ name: 'requested_by_id', type: 'uuid' })
  requestedById!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'requested_by_id' })
  requestedBy?: Agency;

  @Column({ name: 'from_agency_id', type: 'uuid' })
  fromAgencyId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'from_agency_id' })
  fromAgency?: Agency;

  @Column({ name: 'to_agency_id', type: 'uuid' })
  toAgencyId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'to_agency_id' })
  toAgency?: Agency;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  reason!: string | null;

  @Field(() => RejectionReason, { nullable: true })
  @Column({ name: 'rejection_reason', type: 'enum', enum: RejectionReason, enumName: 'rejection_reason', nullable: true })
  rejectionReason!: RejectionReason | null;

  @Field(() => String, { nullable: true, description: 'Where and how the person was found (police escorts).' })
  @Column({ name: 'found_at', type: 'varchar', length: 500, nullable: true })
  foundAt!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  circumstances!: string | null;

  @Field()
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the receiving agency must have answered.' })
  @Column({ name: 'respond_by', type: 'timestamptz', nullable: true })
  respondBy!: Date | null;

  @Field()
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;

  @Field(() => Int, { description: 'Increases with every change; pass it as expectedVersion to guard against races.' })
  @Column({ type: 'int', default: 1 })
  version!: number;

  @Column({ name: 'escort_agency_id', type: 'uuid', nullable: true })
  escortAgencyId!: string | null;

  @ManyToOne(() => Agency, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'escort_agency_id' })
  escortAgency?: Agency | null;

  @Field(() => [String])
  @Column({ name: 'escort_names', type: 'varchar', length: 50, array: true, default: '{}' })
  escortNames!: string[];
}

@ObjectType()
@Entity({ name: 'diagnosis' })
@Index('diagnosis_person_idx', ['personId', 'diagnosedAt'])
@Index('diagnosis_referral_idx', ['referralId'])
export class Diagnosis {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'referral_id', type: 'uuid' })
  referralId!: string;

  @ManyToOne(() => Referral, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'referral_id' })
  referral?: Referral;

  @Column({ name: 'person_id', type: 'uuid' })
  personId!: string;

  @ManyToOne(() => Person, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'person_id' })
  person?: Person;

  @Column({ name: 'hospital_id', type: 'uuid' })
  hospitalId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'hospital_id' })
  hospital?: Agency;

  @Field({ description: 'ICD-10 code, e.g. F20.9.' })
  @Column({ name: 'icd10_code', type: 'varchar', length: 10 })
  icd10Code!: string;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  summary!: string | null;

  @Field()
  @Column({ name: 'diagnosed_at', type: 'timestamptz', default: () => 'now()' })
  diagnosedAt!: Date;
}

@ObjectType()
@Entity({ name: 'bed_assignment' })
@Index('bed_assignment_referral_idx', ['referralId', 'assignedAt'])
export class BedAssignment {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'referral_id', type: 'uuid' })
  referralId!: string;

  @ManyToOne(() => Referral, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'referral_id' })
  referral?: Referral;

  @Column({ name: 'agency_id', type: 'uuid' })
  agencyId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'agency_id' })
  agency?: Agency;

  @Field()
  @Column({ type: 'varchar', length: 50 })
  ward!: string;

  @Field()
  @Column({ type: 'varchar', length: 50 })
  bed!: string;

  @Field()
  @Column({ name: 'assigned_at', type: 'timestamptz', default: () => 'now()' })
  assignedAt!: Date;
}

/**
 * Every change of a referral. `seq` is the cursor subscribers resume from;
 * writers commit in parallel, so a seq may commit after a greater one, and
 * the feed (events/event-feed.ts) delivers a seq only once no smaller one can
 * still commit; the rows are the single source of truth of
 * what happened and are kept (archive, never delete: README).
 */
@ObjectType()
@Entity({ name: 'referral_event' })
@Index('referral_event_referral_idx', ['referralId', 'seq'])
export class ReferralEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  seq!: number;

  @Column({ name: 'referral_id', type: 'uuid' })
  referralId!: string;

  @ManyToOne(() => Referral, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'referral_id' })
  referral?: Referral;

  @Field(() => ReferralEventType)
  @Column({ type: 'enum', enum: ReferralEventType, enumName: 'referral_event_type' })
  type!: ReferralEventType;

  /** The referral's status after this event. */
  @Column({ type: 'enum', enum: ReferralStatus, enumName: 'referral_status' })
  status!: ReferralStatus;

  @Field()
  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt!: Date;

  @Column({ name: 'actor_account_id', type: 'uuid', nullable: true })
  actorAccountId!: string | null;

  @ManyToOne(() => Account, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'actor_account_id' })
  actorAccount?: Account | null;

  @Column({ name: 'actor_agency_id', type: 'uuid', nullable: true })
  actorAgencyId!: string | null;

  @Field(() => String, { nullable: true, description: 'What the acting agency wrote with this step (the note of the action).' })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  note!: string | null;
}
