import { Field, ID, InputType } from 'type-graphql';
import { AccountRole, AgencyKind } from '../auth/actor';

@InputType()
export class CreateAgencyInput {
  @Field(() => AgencyKind)
  kind!: AgencyKind;

  @Field()
  name!: string;

  @Field()
  regionCode!: string;

  @Field({
    nullable: true,
    description:
      'Case-number prefix for a rescue station: 2-8 capital letters or digits, starting with a letter (e.g. HY). Defaults to S + the region code.',
  })
  shortCode?: string;
}

@InputType()
export class IssueAccessTokenInput {
  @Field(() => ID)
  agencyId!: string;

  @Field()
  displayName!: string;

  @Field(() => AccountRole, { nullable: true, defaultValue: AccountRole.STAFF })
  role?: AccountRole | null;
}
