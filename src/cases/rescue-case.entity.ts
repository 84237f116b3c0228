import { Field, ID, ObjectType } from 'type-graphql';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { Agency } from '../agencies/agency.entity';
import { AgeGroup } from '../persons/person.enums';
import { Person } from '../persons/person.entity';
import { Node } from '../shared/node';
import { toGlobalId } from '../shared/relay';
import { CaseOutcome, CaseStatus, IntakeChannel } from './case.enums';

/** One stay of one person with one station (一次救助, one 人次). */
@ObjectType({ implements: Node, description: 'One stay of one person with one rescue station (一次救助).' })
@Entity({ name: 'rescue_case' })
@Index('rescue_case_number_key', ['stationId', 'caseNumber'], { unique: true })
// At most one open case per person (DOMAIN.md §3), as a database fact.
@Index('rescue_case_one_open_per_person', ['personId'], { unique: true, where: `"status" = 'OPEN'` })
@Index('rescue_case_person_idx', ['personId', 'openedAt'])
@Index('rescue_case_station_status_opened_idx', ['stationId', 'status', 'openedAt', 'id'])
@Index('rescue_case_station_opened_idx', ['stationId', 'openedAt'])
export class RescueCase implements Node {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Field(() => ID, { name: 'id' })
  get globalId(): string {
    return toGlobalId('RescueCase', this.id);
  }

  @Field({ description: 'Human-readable, unique per station, e.g. HY-2026-001724.' })
  @Column({ name: 'case_number', type: 'varchar', length: 32 })
  caseNumber!: string;

  @Column({ name: 'person_id', type: 'uuid' })
  personId!: string;

  @ManyToOne(() => Person, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'person_id' })
  person?: Person;

  @Column({ name: 'station_id', type: 'uuid' })
  stationId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'station_id' })
  station?: Agency;

  @Field(() => IntakeChannel)
  @Column({ name: 'intake_channel', type: 'enum', enum: IntakeChannel, enumName: 'intake_channel' })
  intakeChannel!: IntakeChannel;

  @Column({ name: 'brought_by_id', type: 'uuid', nullable: true })
  broughtById!: string | null;

  @ManyToOne(() => Agency, { nullable: true, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'brought_by_id' })
  broughtBy?: Agency | null;

  @Field(() => String, { nullable: true, description: 'What the station noted at intake.' })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  note!: string | null;

  @Field()
  @Column({ name: 'opened_at', type: 'timestamptz' })
  openedAt!: Date;

  @Field()
  @Column({ name: 'rescue_period_ends_at', type: 'timestamptz' })
  rescuePeriodEndsAt!: Date;

  @Field(() => AgeGroup, { description: 'Age group when the case was opened (what the station report counts).' })
  @Column({ name: 'age_group', type: 'enum', enum: AgeGroup, enumName: 'age_group' })
  ageGroupAtOpening!: AgeGroup;

  @Field(() => CaseStatus)
  @Column({ type: 'enum', enum: CaseStatus, enumName: 'case_status', default: CaseStatus.OPEN })
  status!: CaseStatus;

  @Field(() => CaseOutcome, { nullable: true })
  @Column({ type: 'enum', enum: CaseOutcome, enumName: 'case_outcome', nullable: true })
  outcome!: CaseOutcome | null;

  @Field(() => Date, { nullable: true })
  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt!: Date | null;

  /** Collector (接领人), travel voucher and closing note; the collector's ID number encrypted like a person's. */
  @Column({ name: 'closing', type: 'jsonb', nullable: true })
  closing!: Record<string, string | null> | null;

  @Column({ type: 'int', default: 1 })
  version!: number;

  @Field({ description: 'Open past its rescue period (救助期限).' })
  get overdue(): boolean {
    return this.status === CaseStatus.OPEN && this.rescuePeriodEndsAt.getTime() < Date.now();
  }
}

/** Case numbers per station and year, issued under a row lock so parallel opens never share one. */
@Entity({ name: 'case_number_counter' })
export class CaseNumberCounter {
  @PrimaryColumn({ name: 'station_id', type: 'uuid' })
  stationId!: string;

  @PrimaryColumn({ type: 'smallint' })
  year!: number;

  @Column({ type: 'int' })
  last!: number;
}

/** Every extension of a rescue period, with who approved it and why (kept, never overwritten). */
@ObjectType({ description: 'An extension of a rescue period by a station supervisor.' })
@Entity({ name: 'rescue_period_extension' })
@Index('rescue_period_extension_case_idx', ['caseId', 'at'])
export class RescuePeriodExtension {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'case_id', type: 'uuid' })
  caseId!: string;

  @ManyToOne(() => RescueCase, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'case_id' })
  rescueCase?: RescueCase;

  @Field()
  @Column({ name: 'previous_end', type: 'timestamptz' })
  previousEnd!: Date;

  @Field()
  @Column({ name: 'new_end', type: 'timestamptz' })
  newEnd!: Date;

  @Field()
  @Column({ type: 'varchar', length: 2000 })
  reason!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @Field()
  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;
}
