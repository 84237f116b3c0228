import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Account } from '../agencies/account.entity';
import { Agency } from '../agencies/agency.entity';
import { agencyLoaders, agencyNow, requiredAgency } from '../agencies/agency.loaders';
import type { Now } from '../db/known-loader';
import { noteRead } from '../audit/audit.service';
import { requireAuthenticated } from '../auth/actor';
import type { RequestContext } from '../auth/context';
import { loadVisibleCase } from '../cases/case.resolver';
import { prefetchForCasePages } from '../cases/case.queries';
import { RescueCase } from '../cases/rescue-case.entity';
import { custodyLoaders } from '../custody/custody.resolver';
import { CustodyRecord } from '../custody/custody-record.entity';
import { eventCursor } from '../events/outbox';
import { Person } from '../persons/person.entity';
import { requiredVisiblePerson } from '../persons/person.loaders';
import { isRedacted } from '../persons/person.resolver';
import { notFound } from '../shared/errors';
import { selectsPath } from '../shared/look-ahead';
import { uuidOf } from '../shared/relay';
import { logEscortedPerson, requestReferral, escortNames } from './referral.create';
import { BedAssignment, Diagnosis, Referral, ReferralEvent } from './referral.entity';
import {
  AssignBedInput,
  DispatchReferralInput,
  LogEscortedPersonInput,
  RecordDiagnosisInput,
  ReferralActionInput,
  ReferralFilter,
  RejectReferralInput,
  RequestReferralInput,
} from './referral.input';
import { loadVisibleReferral, referralLoaders } from './referral.loaders';
import { availableActions } from './referral.machine';
import { listReferrals, ReferralConnection } from './referral.queries';
import { bedDetails, diagnosisDetails, dispatchDetails, noteDetails, partiesOf, step } from './referral.step';

@Resolver(() => Referral)
export class ReferralResolver {
  @Query(() => Referral, { nullable: true })
  async referral(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Referral> {
    requireAuthenticated(ctx.actor);
    const r = await loadVisibleReferral(ctx, uuidOf('Referral', id));
    if (!r) throw notFound('Referral');
    return r;
  }

  @Query(() => ReferralConnection)
  referrals(
    @Ctx() ctx: RequestContext,
    @Arg('filter', () => ReferralFilter, { nullable: true }) filter: ReferralFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<ReferralConnection> {
    return listReferrals(ctx, filter, first, after);
  }

  @Mutation(() => Referral, {
    description:
      'police: the person is on the way to (or at) the station with officers; creates an ESCORT_TO_STATION referral already IN_TRANSIT',
  })
  logEscortedPerson(
    @Ctx() ctx: RequestContext,
    @Arg('input', () => LogEscortedPersonInput) input: LogEscortedPersonInput,
  ): Promise<Referral> {
    return logEscortedPerson(ctx, input);
  }

  @Mutation(() => Referral, { description: 'any agency involved with the person: ask another agency to take the person over' })
  requestReferral(@Ctx() ctx: RequestContext, @Arg('input', () => RequestReferralInput) input: RequestReferralInput): Promise<Referral> {
    return requestReferral(ctx, input);
  }

  @Mutation(() => Referral, { description: 'receiving agency' })
  acceptReferral(@Ctx() ctx: RequestContext, @Arg('input', () => ReferralActionInput) input: ReferralActionInput): Promise<Referral> {
    return step(ctx, 'accept', input.referralId, input.expectedVersion, noteDetails(input.note));
  }

  @Mutation(() => Referral, { description: 'receiving agency' })
  rejectReferral(@Ctx() ctx: RequestContext, @Arg('input', () => RejectReferralInput) input: RejectReferralInput): Promise<Referral> {
    return step(ctx, 'reject', input.referralId, input.expectedVersion, { rejectionReason: input.reason, ...noteDetails(input.note) });
  }

  @Mutation(() => Referral, { description: 'requesting agency, before arrival' })
  cancelReferral(@Ctx() ctx: RequestContext, @Arg('input', () => ReferralActionInput) input: ReferralActionInput): Promise<Referral> {
    return step(ctx, 'cancel', input.referralId, input.expectedVersion, noteDetails(input.note));
  }

  @Mutation(() => Referral, { description: 'current custodian: the person leaves with the named escorts' })
  dispatchReferral(@Ctx() ctx: RequestContext, @Arg('input', () => DispatchReferralInput) input: DispatchReferralInput): Promise<Referral> {
    return step(
      ctx,
      'dispatch',
      input.referralId,
      input.expectedVersion,
      dispatchDetails(input.escortAgencyId, input.escortNames, escortNames),
    );
  }

  @Mutation(() => Referral, { description: 'receiving agency: the person arrived; custody passes' })
  confirmReceipt(@Ctx() ctx: RequestContext, @Arg('input', () => ReferralActionInput) input: ReferralActionInput): Promise<Referral> {
    return step(ctx, 'confirmReceipt', input.referralId, input.expectedVersion, noteDetails(input.note));
  }

  @Mutation(() => Referral, { description: 'psychiatric hospital holding the person' })
  recordDiagnosis(@Ctx() ctx: RequestContext, @Arg('input', () => RecordDiagnosisInput) input: RecordDiagnosisInput): Promise<Referral> {
    return step(ctx, 'recordDiagnosis', input.referralId, null, diagnosisDetails(input.icd10Code, input.summary));
  }

  @Mutation(() => Referral, { description: 'hospital or welfare home holding the person' })
  assignBed(@Ctx() ctx: RequestContext, @Arg('input', () => AssignBedInput) input: AssignBedInput): Promise<Referral> {
    return step(ctx, 'assignBed', input.referralId, null, bedDetails(input.ward, input.bed));
  }

  @FieldResolver(() => Person)
  person(@Root() r: Referral, @Ctx() ctx: RequestContext): Now<Person> {
    return requiredVisiblePerson(ctx, r.personId);
  }

  @FieldResolver(() => RescueCase, { nullable: true, description: 'The station case this referral belongs to, once there is one.' })
  case(@Root() r: Referral, @Ctx() ctx: RequestContext): Promise<RescueCase | null> | null {
    return r.caseId ? loadVisibleCase(ctx, r.caseId) : null;
  }

  @FieldResolver(() => Agency, { description: 'The agency that issued the request.' })
  requestedBy(@Root() r: Referral, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, r.requestedById);
  }

  @FieldResolver(() => Agency, { description: 'The agency that held the person when the referral was made.' })
  fromAgency(@Root() r: Referral, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, r.fromAgencyId);
  }

  @FieldResolver(() => Agency)
  toAgency(@Root() r: Referral, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, r.toAgencyId);
  }

  @FieldResolver(() => Agency, { nullable: true, description: 'The agency responsible for the person while IN_TRANSIT.' })
  escortAgency(@Root() r: Referral, @Ctx() ctx: RequestContext): Now<Agency | null> {
    return r.escortAgencyId ? agencyNow(ctx, r.escortAgencyId) : null;
  }

  @FieldResolver(() => Diagnosis, {
    nullable: true,
    description: 'The latest diagnosis; only the station and the hospital see it (精神卫生法 第四条).',
  })
  async diagnosis(@Root() r: Referral, @Ctx() ctx: RequestContext): Promise<Diagnosis | null> {
    if (!(await ctx.access.maySeeDiagnoses(ctx, r.personId))) return null;
    const d = (await referralLoaders(ctx).diagnosesByReferral.load(r.id))[0] ?? null;
    if (d) noteRead(ctx, 'person.diagnoses.read', r.personId);
    return d;
  }

  @FieldResolver(() => BedAssignment, { nullable: true, description: 'The latest bed assignment.' })
  async bed(@Root() r: Referral, @Ctx() ctx: RequestContext): Promise<BedAssignment | null> {
    return (await referralLoaders(ctx).bedsByReferral.load(r.id))[0] ?? null;
  }

  @FieldResolver(() => [ReferralEvent], { description: 'Every change, oldest first.' })
  history(@Root() r: Referral, @Ctx() ctx: RequestContext): Promise<ReferralEvent[]> {
    return referralLoaders(ctx).eventsByReferral.load(r.id);
  }

  @FieldResolver(() => [String], { description: "What the caller's agency may do now, from the transition table (for clients' buttons)." })
  async availableActions(@Root() r: Referral, @Ctx() ctx: RequestContext): Promise<string[]> {
    if (ctx.actor.kind !== 'account') return [];
    const open = await custodyLoaders(ctx).openByPerson.load(r.personId);
    return availableActions(r, partiesOf(r, ctx.actor.agencyId, open?.holderId ?? null));
  }
}

@Resolver(() => ReferralEvent)
export class ReferralEventResolver {
  @FieldResolver(() => String, { description: 'Opaque, strictly increasing across the hub; resume a subscription after it.' })
  cursor(@Root() e: ReferralEvent): string {
    return eventCursor(e.seq);
  }

  @FieldResolver(() => Referral)
  async referral(@Root() e: ReferralEvent, @Ctx() ctx: RequestContext): Promise<Referral> {
    const r = await loadVisibleReferral(ctx, e.referralId);
    if (!r) throw notFound('Referral');
    return r;
  }

  @FieldResolver(() => Account, { nullable: true, description: 'Null for events the hub itself raised (e.g. EXPIRED).' })
  actor(@Root() e: ReferralEvent, @Ctx() ctx: RequestContext): Promise<Account | null> | null {
    return e.actorAccountId ? agencyLoaders(ctx).account.load(e.actorAccountId) : null;
  }
}

// A page of cases that shows its referrals reads them for the whole page before it answers (case.queries.ts).
prefetchForCasePages((ctx, cases, info) =>
  selectsPath(info, ['edges', 'node', 'referrals']) ? referralLoaders(ctx).byCase.loadMany(cases.map((c) => c.id)) : null,
);

@Resolver(() => RescueCase)
export class CaseReferralsResolver {
  @FieldResolver(() => [Referral], { description: 'Newest first.' })
  referrals(@Root() c: RescueCase, @Ctx() ctx: RequestContext): Now<Referral[]> {
    return referralLoaders(ctx).byCase.get(c.id);
  }
}

@Resolver(() => Person)
export class PersonDiagnosesResolver {
  @FieldResolver(() => [Diagnosis], { description: 'Newest first; only the station and the hospital see them (精神卫生法 第四条).' })
  async diagnoses(@Root() p: Person, @Ctx() ctx: RequestContext): Promise<Diagnosis[]> {
    if (isRedacted(p) || !(await ctx.access.maySeeDiagnoses(ctx, p.id))) return [];
    const list = await referralLoaders(ctx).diagnosesByPerson.load(p.id);
    if (list.length) noteRead(ctx, 'person.diagnoses.read', p.id);
    return list;
  }
}

@Resolver(() => CustodyRecord)
export class CustodyReferralResolver {
  @FieldResolver(() => Referral, { nullable: true, description: 'The hand-off that began this span, if any.' })
  referral(@Root() k: CustodyRecord, @Ctx() ctx: RequestContext): Promise<Referral | null> | null {
    return k.referralId ? loadVisibleReferral(ctx, k.referralId) : null;
  }
}

@Resolver(() => Diagnosis)
export class DiagnosisResolver {
  @FieldResolver(() => Agency)
  hospital(@Root() d: Diagnosis, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, d.hospitalId);
  }
}

@Resolver(() => BedAssignment)
export class BedAssignmentResolver {
  @FieldResolver(() => Agency)
  agency(@Root() b: BedAssignment, @Ctx() ctx: RequestContext): Now<Agency> {
    return requiredAgency(ctx, b.agencyId);
  }
}
