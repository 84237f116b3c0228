import { Field, ID, InputType, Int } from 'type-graphql';
import { PersonInput } from '../persons/person.input';
import { ReferralKind, ReferralStatus, RejectionReason } from './referral.enums';
import { registerEnumType } from 'type-graphql';

export enum ReferralDirection {
  INCOMING = 'INCOMING',
  OUTGOING = 'OUTGOING',
  ANY = 'ANY',
}
registerEnumType(ReferralDirection, { name: 'ReferralDirection' });

@InputType()
export class ReferralFilter {
  @Field(() => ReferralDirection, { nullable: true, defaultValue: ReferralDirection.ANY })
  direction?: ReferralDirection | null;

  @Field(() => [ReferralStatus], { nullable: true })
  status?: ReferralStatus[] | null;

  @Field(() => [ReferralKind], { nullable: true })
  kind?: ReferralKind[] | null;
}

@InputType()
export class LogEscortedPersonInput {
  @Field(() => ID, { nullable: true, description: 'An existing person, when the officer knows the record; otherwise `person`.' })
  personId?: string | null;

  @Field(() => PersonInput, { nullable: true })
  person?: PersonInput | null;

  @Field(() => ID)
  stationId!: string;

  @Field({ description: 'Where and how the person was found.' })
  foundAt!: string;

  @Field(() => String, { nullable: true })
  circumstances?: string | null;

  @Field(() => [String])
  escortNames!: string[];

  @Field(() => String, {
    nullable: true,
    description: 'Repeating a call with the same key returns the first result and creates nothing new.',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class RequestReferralInput {
  @Field(() => ID)
  personId!: string;

  @Field(() => ReferralKind)
  kind!: ReferralKind;

  @Field(() => ID)
  toAgencyId!: string;

  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@InputType()
export class ReferralActionInput {
  @Field(() => ID)
  referralId!: string;

  @Field(() => Int, { nullable: true })
  expectedVersion?: number | null;

  @Field(() => String, { nullable: true })
  note?: string | null;
}

@InputType()
export class RejectReferralInput {
  @Field(() => ID)
  referralId!: string;

  @Field(() => Int, { nullable: true })
  expectedVersion?: number | null;

  @Field(() => RejectionReason)
  reason!: RejectionReason;

  @Field(() => String, { nullable: true })
  note?: string | null;
}

@InputType()
export class DispatchReferralInput {
  @Field(() => ID)
  referralId!: string;

  @Field(() => Int, { nullable: true })
  expectedVersion?: number | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Defaults to the dispatching agency; e.g. the police escorting a person the station referred.',
  })
  escortAgencyId?: string | null;

  @Field(() => [String])
  escortNames!: string[];
}

@InputType()
export class RecordDiagnosisInput {
  @Field(() => ID)
  referralId!: string;

  @Field()
  icd10Code!: string;

  @Field(() => String, { nullable: true })
  summary?: string | null;
}

@InputType()
export class AssignBedInput {
  @Field(() => ID)
  referralId!: string;

  @Field()
  ward!: string;

  @Field()
  bed!: string;
}
