import { Field, ID, InputType, Int } from 'type-graphql';
import { Gender, Vulnerability } from './person.enums';

@InputType()
export class PersonInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Gender)
  gender!: Gender;

  @Field(() => Int, { nullable: true })
  birthYear?: number | null;

  @Field(() => String, { nullable: true })
  idNumber?: string | null;

  @Field(() => String, { nullable: true })
  originRegionCode?: string | null;

  @Field(() => [Vulnerability], { nullable: true })
  vulnerabilities?: Vulnerability[] | null;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class PersonSearchInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  idNumber?: string | null;

  @Field(() => Gender, { nullable: true })
  gender?: Gender | null;

  @Field(() => Int, { nullable: true })
  birthYear?: number | null;

  @Field(() => String, { nullable: true })
  originRegionCode?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { nullable: true, defaultValue: 10 })
  limit?: number | null;
}

@InputType()
export class VerifyIdentityInput {
  @Field(() => ID)
  personId!: string;

  @Field()
  name!: string;

  @Field()
  idNumber!: string;
}
