import { Field, ObjectType } from 'type-graphql';
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Agency } from '../agencies/agency.entity';
import { Person } from '../persons/person.entity';

/**
 * The custody ledger: one row per span of responsibility, append-only except
 * for closing a span (`to`). The partial unique index makes "exactly one open
 * record per person" a database fact, not a hope. `referralId` is a plain
 * column: custody sits below referrals and never imports them.
 */
@ObjectType({ description: 'One span of time during which one agency was responsible for the person.' })
@Entity({ name: 'custody_record' })
@Index('custody_one_open_per_person', ['personId'], { unique: true, where: '"to_at" IS NULL' })
@Index('custody_person_idx', ['personId', 'fromAt'])
@Index('custody_open_holder_idx', ['holderId'], { where: '"to_at" IS NULL' })
export class CustodyRecord {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'person_id', type: 'uuid' })
  personId!: string;

  @ManyToOne(() => Person, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'person_id' })
  person?: Person;

  @Column({ name: 'holder_id', type: 'uuid' })
  holderId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'holder_id' })
  holder?: Agency;

  @Field(() => Date, { name: 'from' })
  @Column({ name: 'from_at', type: 'timestamptz' })
  fromAt!: Date;

  @Field(() => Date, { name: 'to', nullable: true, description: 'Null while it lasts.' })
  @Column({ name: 'to_at', type: 'timestamptz', nullable: true })
  toAt!: Date | null;

  @Column({ name: 'referral_id', type: 'uuid', nullable: true })
  referralId!: string | null;

  @Column({ name: 'case_id', type: 'uuid', nullable: true })
  caseId!: string | null;
}
