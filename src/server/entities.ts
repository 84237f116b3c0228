import { Account } from '../agencies/account.entity';
import { Agency } from '../agencies/agency.entity';
import { AuditEntryRow } from '../audit/audit-entry.entity';
import { CaseNumberCounter, RescueCase, RescuePeriodExtension } from '../cases/rescue-case.entity';
import { CustodyRecord } from '../custody/custody-record.entity';
import { IdempotencyKey } from '../db/idempotency-key.entity';
import { Person } from '../persons/person.entity';
import { BedAssignment, Diagnosis, Referral, ReferralEvent } from '../referrals/referral.entity';

/** Every TypeORM entity; the migrations must match exactly these (npm run migration:check). */
export const ENTITIES = [
  Agency,
  Account,
  AuditEntryRow,
  IdempotencyKey,
  Person,
  CustodyRecord,
  RescueCase,
  CaseNumberCounter,
  RescuePeriodExtension,
  Referral,
  Diagnosis,
  BedAssignment,
  ReferralEvent,
];
