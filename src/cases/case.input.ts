import { Field, ID, InputType } from 'type-graphql';
import { PersonInput } from '../persons/person.input';
import { CaseOutcome, CaseStatus, IntakeChannel } from './case.enums';

@InputType()
export class OpenCaseInput {
  @Field(() => ID, { nullable: true })
  personId?: string | null;

  @Field(() => PersonInput, { nullable: true })
  person?: PersonInput | null;

  @Field(() => IntakeChannel)
  intakeChannel!: IntakeChannel;

  @Field(() => String, { nullable: true })
  note?: string | null;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@InputType()
export class CollectorInput {
  @Field()
  name!: string;

  @Field()
  relationship!: string;

  @Field({ description: 'Resident identity number of the collector; checked, and masked when shown.' })
  idNumber!: string;
}

@InputType()
export class TravelVoucherInput {
  @Field({ description: 'Where the ticket takes the person.' })
  destination!: string;

  @Field(() => String, { nullable: true })
  ticketNumber?: string | null;
}

@InputType()
export class CloseCaseInput {
  @Field(() => ID)
  caseId!: string;

  @Field(() => CaseOutcome)
  outcome!: CaseOutcome;

  @Field(() => CollectorInput, { nullable: true, description: 'Required for RETURNED_FAMILY_PICKUP.' })
  collector?: CollectorInput | null;

  @Field(() => TravelVoucherInput, { nullable: true, description: 'Required for RETURNED_FUNDED.' })
  travelVoucher?: TravelVoucherInput | null;

  @Field(() => String, { nullable: true })
  note?: string | null;
}

@InputType()
export class ExtendRescuePeriodInput {
  @Field(() => ID)
  caseId!: string;

  @Field()
  until!: Date;

  @Field()
  reason!: string;
}

@InputType()
export class CaseFilter {
  @Field(() => ID, { nullable: true })
  stationId?: string | null;

  @Field(() => CaseStatus, { nullable: true })
  status?: CaseStatus | null;

  @Field(() => Boolean, { nullable: true })
  overdue?: boolean | null;
}
