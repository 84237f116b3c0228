import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The append-only audit log (DOMAIN.md §6). A trigger created by the
 * migration refuses UPDATE, DELETE and TRUNCATE, so not even the hub's own
 * database role can rewrite it. Holds ids and action names only, never
 * personal data.
 */
@Entity({ name: 'audit_log' })
@Index('audit_log_subject_idx', ['subjectId', 'id'])
@Index('audit_log_change_xact_idx', { synchronize: false }) // partial: changes only, created by migration 1796500000000
export class AuditEntryRow {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  @Column({ name: 'account_id', type: 'uuid', nullable: true })
  accountId!: string | null;

  @Column({ name: 'agency_id', type: 'uuid', nullable: true })
  agencyId!: string | null;

  /** E.g. person.read, person.idNumber.reveal, referral.accept. */
  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ name: 'subject_type', type: 'varchar', length: 32 })
  subjectType!: string;

  @Column({ name: 'subject_id', type: 'uuid' })
  subjectId!: string;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId!: string | null;

  /**
   * The writing transaction's id (pg_current_xact_id(), as bigint), set by PostgreSQL: which changes committed
   * after a snapshot (src/cases/case-page.cache.ts). NULL for entries older than the column.
   */
  @Column({ type: 'bigint', nullable: true, default: () => 'audit_xact()', select: false })
  xact!: string | null;
}
