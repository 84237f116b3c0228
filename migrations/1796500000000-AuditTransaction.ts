import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each audit entry remembers the transaction that wrote it (`xact`, the top-level transaction id, the same for
 * every entry of one hand-off; an xid8 kept as bigint, a type TypeORM knows, and 2^63 transactions away from
 * overflowing), and the entries of changes are indexed by it. Every change writes its audit entry
 * in its own transaction (DOMAIN.md §6), so "which changes committed after this snapshot?" is a short index range:
 * the entries whose transaction is at or above the snapshot's xmin and not visible in it. The station page cache
 * (src/cases/case-page.cache.ts) asks exactly that before it answers a dashboard again.
 *
 * Reads (person.read and the other `noteRead` actions) change nothing and are most of the table: the index leaves
 * them out, so a dashboard's 50 read entries cost no index insert. The list is the one `noteRead` knows
 * (src/audit/audit.service.ts), said again word for word where the index is read (audit_changes_since, migration
 * 1796500000001), so that the planner can prove the partial index applies.
 *
 * The column is added without a default first and the default set after: no rewrite of an existing log (its old
 * entries keep NULL and are outside the index, long committed before any cache could have been filled).
 */
export class AuditTransaction1796500000000 implements MigrationInterface {
  name = 'AuditTransaction1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // A function, so that the default reads the same to TypeORM's schema comparison (which drops `::` casts).
    await queryRunner.query(
      `CREATE FUNCTION audit_xact() RETURNS bigint LANGUAGE sql VOLATILE AS $$ SELECT pg_current_xact_id()::text::bigint $$`,
    );
    await queryRunner.query(`ALTER TABLE audit_log ADD COLUMN xact bigint`);
    await queryRunner.query(`ALTER TABLE audit_log ALTER COLUMN xact SET DEFAULT audit_xact()`);
    await queryRunner.query(
      `CREATE INDEX audit_log_change_xact_idx ON audit_log (xact)
        WHERE action NOT IN ('person.read', 'person.idNumber.reveal', 'person.diagnoses.read', 'person.auditTrail.read')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX audit_log_change_xact_idx`);
    await queryRunner.query(`ALTER TABLE audit_log DROP COLUMN xact`);
    await queryRunner.query(`DROP FUNCTION audit_xact()`);
  }
}
