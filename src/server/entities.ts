import { Account } from '../agencies/account.entity';
import { Agency } from '../agencies/agency.entity';
import { AuditEntryRow } from '../audit/audit-entry.entity';

/** Every TypeORM entity; the migrations must match exactly these (npm run check:migrations). */
export const ENTITIES = [Agency, Account, AuditEntryRow];
