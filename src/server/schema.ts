import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import { DateTimeScalar } from '../shared/scalars';
import { AccountResolver, AgencyResolver } from '../agencies/agency.resolver';
import { CaseResolver, PersonCasesResolver } from '../cases/case.resolver';
import { CustodyRecordResolver, PersonCustodyResolver } from '../custody/custody.resolver';
import { PersonResolver } from '../persons/person.resolver';
import {
  BedAssignmentResolver,
  CaseReferralsResolver,
  CustodyReferralResolver,
  DiagnosisResolver,
  PersonDiagnosesResolver,
  ReferralEventResolver,
  ReferralResolver,
} from '../referrals/referral.resolver';
import { AuditResolver } from '../audit/audit.resolver';
import { StationReportResolver } from '../reports/station-report.resolver';
import { refusingPubSub } from '../events/refusing-pubsub';
import { ReferralEventsSubscription } from '../referrals/referral-events.resolver';
import { OccupancyResolver } from '../reports/occupancy.resolver';
import { NodeResolver } from './node.resolver';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  AgencyResolver,
  AccountResolver,
  NodeResolver,
  PersonResolver,
  PersonCustodyResolver,
  CustodyRecordResolver,
  CaseResolver,
  PersonCasesResolver,
  ReferralResolver,
  ReferralEventResolver,
  CaseReferralsResolver,
  PersonDiagnosesResolver,
  CustodyReferralResolver,
  DiagnosisResolver,
  BedAssignmentResolver,
  StationReportResolver,
  AuditResolver,
  ReferralEventsSubscription,
  OccupancyResolver,
];

export const SCHEMA_FILE = path.join(__dirname, '..', '..', 'schema', 'schema.graphql');

const HEADER = `# DO NOT EDIT. Emitted from the code by \`npm run schema\`; CI fails when it is stale.
# The public contract it must keep is ../shared/contract/hub.graphql (npm run check:contract).
`;

export async function createSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    // Every subscription brings its own stream (src/events); type-graphql's PubSub must never carry one.
    pubSub: refusingPubSub,
    // Inputs are checked by hand in the services so that every rejection names its field
    // (BAD_USER_INPUT + extensions.field); class-validator's error would echo the input back.
    validate: false,
  });
}

export function printSortedSchema(schema: GraphQLSchema): string {
  return HEADER + '\n' + printSchema(lexicographicSortSchema(schema)) + '\n';
}

/** `npm run schema`: writes schema/schema.graphql; with --check, fails when it differs. */
if (require.main === module) {
  void (async () => {
    const { readFileSync } = await import('node:fs');
    const text = printSortedSchema(await createSchema());
    if (process.argv.includes('--check')) {
      const current = (() => {
        try {
          return readFileSync(SCHEMA_FILE, 'utf8');
        } catch {
          return '';
        }
      })();
      if (current !== text) {
        console.error('schema/schema.graphql is stale: run `npm run schema` and commit it.');
        process.exit(1);
      }
      console.log('schema/schema.graphql is up to date.');
    } else {
      writeFileSync(SCHEMA_FILE, text);
      console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
    }
  })();
}
