import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { toGlobalId } from '../shared/relay';
import { AgencyKind } from '../auth/actor';
import { Node } from '../shared/node';

registerEnumType(AgencyKind, { name: 'AgencyKind', description: 'The kinds of agency that the hub links.' });

@ObjectType({
  implements: Node,
  description: 'An agency linked by the hub: a station, a police station, a hospital, a welfare home or an origin office.',
})
@Entity({ name: 'agency' })
@Index('agency_kind_region_idx', ['kind', 'regionCode'])
export class Agency implements Node {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Field(() => ID, { name: 'id', description: 'Opaque global id.' })
  get globalId(): string {
    return toGlobalId('Agency', this.id);
  }

  @Field(() => AgencyKind)
  @Column({ type: 'enum', enum: AgencyKind, enumName: 'agency_kind' })
  kind!: AgencyKind;

  @Field()
  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Field({ description: 'Six-digit administrative division code (GB/T 2260), e.g. 430406.' })
  @Column({ name: 'region_code', type: 'char', length: 6 })
  regionCode!: string;

  @Field({ description: 'Prefix of the case numbers a rescue station issues, e.g. HY in HY-2026-001724.' })
  @Column({ name: 'short_code', type: 'varchar', length: 8 })
  shortCode!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
