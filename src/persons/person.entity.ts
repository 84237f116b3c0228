import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { Node } from '../shared/node';
import { toGlobalId } from '../shared/relay';
import { Gender, IdentityStatus, Vulnerability } from './person.enums';

/**
 * A human the hub helps. The resident ID number is never stored in plain
 * text: `idNumberCipher` holds it encrypted (AES-256-GCM) for the agencies
 * allowed to see it, and `idNumberHash` (HMAC-SHA256 under the same secret
 * key) is what the unique index and exact matching use — see
 * persons/id-number.crypto.ts.
 */
@ObjectType({ implements: Node, description: 'A person the hub helps.' })
@Entity({ name: 'person' })
@Index('person_name_trgm_idx', { synchronize: false }) // GIN (name gin_trgm_ops), created by the migration
export class Person implements Node {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Field(() => ID, { name: 'id' })
  get globalId(): string {
    return toGlobalId('Person', this.id);
  }

  @Field(() => String, { nullable: true, description: 'Null while unknown.' })
  @Column({ type: 'varchar', length: 50, nullable: true })
  name!: string | null;

  @Field(() => Gender)
  @Column({ type: 'enum', enum: Gender, enumName: 'gender' })
  gender!: Gender;

  @Field(() => Int, { nullable: true, description: 'Exact or estimated.' })
  @Column({ name: 'birth_year', type: 'smallint', nullable: true })
  birthYear!: number | null;

  @Column({ name: 'id_number_cipher', type: 'bytea', nullable: true })
  idNumberCipher!: Buffer | null;

  @Index('person_id_number_hash_key', { unique: true })
  @Column({ name: 'id_number_hash', type: 'bytea', nullable: true })
  idNumberHash!: Buffer | null;

  @Field(() => IdentityStatus)
  @Column({ name: 'identity_status', type: 'enum', enum: IdentityStatus, enumName: 'identity_status', default: IdentityStatus.UNKNOWN })
  identityStatus!: IdentityStatus;

  @Field(() => String, { nullable: true, description: 'Division code of the household registration (户籍), when known.' })
  @Column({ name: 'origin_region_code', type: 'char', length: 6, nullable: true })
  originRegionCode!: string | null;

  @Field(() => [Vulnerability])
  @Column({ type: 'enum', enum: Vulnerability, enumName: 'vulnerability', array: true, default: '{}' })
  vulnerabilities!: Vulnerability[];

  @Field(() => String, { nullable: true, description: 'Appearance, clothing, dialect, marks: what helps family search.' })
  @Column({ type: 'varchar', length: 2000, nullable: true })
  description!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
