import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { AccountRole } from '../auth/actor';
import { toGlobalId } from '../shared/relay';
import { Agency } from './agency.entity';
import { Node } from '../shared/node';

registerEnumType(AccountRole, {
  name: 'AccountRole',
  valuesConfig: { SUPERVISOR: { description: 'May approve what needs a supervisor, e.g. extending a rescue period.' } },
});

/** One person at one agency. The bearer token is kept only as its SHA-256 hash. */
@ObjectType({ implements: Node, description: 'One person at one agency, authenticated by a bearer token.' })
@Entity({ name: 'account' })
export class Account implements Node {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Field(() => ID, { name: 'id' })
  get globalId(): string {
    return toGlobalId('Account', this.id);
  }

  @Field()
  @Column({ name: 'display_name', type: 'varchar', length: 100 })
  displayName!: string;

  @Field(() => AccountRole)
  @Column({ type: 'enum', enum: AccountRole, enumName: 'account_role', default: AccountRole.STAFF })
  role!: AccountRole;

  @Index('account_agency_idx')
  @Column({ name: 'agency_id', type: 'uuid' })
  agencyId!: string;

  @ManyToOne(() => Agency, { nullable: false, onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'agency_id' })
  agency?: Agency;

  @Index('account_token_hash_key', { unique: true })
  @Column({ name: 'token_hash', type: 'bytea' })
  tokenHash!: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the administrator revoked the token; it no longer authenticates.' })
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
