import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change entries from a snapshot's xmin on, read through their partial index whatever the planner would
 * choose (src/cases/case-page.cache.ts). The hub prepares its statements once per connection with generic plans,
 * and one prepared while `audit_log` was a page or two chose a sequential scan — the cheapest plan for so small a
 * table — and kept it while the table grew by 50 read entries a request: a revalidation took a second until the
 * next ANALYZE replanned it (the bench: a hub at 15-90 dashboards/s for its first minute, the same code at 1,400 a
 * minute later). A function whose own settings forbid the scans that read the whole table plans the index range
 * at any size. PL/pgSQL, so its plan is cached per session like the hub's own statements.
 */
export class AuditChangesSince1796500000001 implements MigrationInterface {
  name = 'AuditChangesSince1796500000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION audit_changes_since(snap pg_snapshot, max_rows int)
      RETURNS TABLE (xact bigint, subject_type varchar, subject_id uuid)
      LANGUAGE plpgsql STABLE
      SET enable_seqscan = off SET enable_bitmapscan = off
      AS $$
      BEGIN
        RETURN QUERY
          SELECT a.xact, a.subject_type, a.subject_id FROM audit_log a
           WHERE a.xact >= pg_snapshot_xmin(snap)::text::bigint
             AND a.action NOT IN ('person.read', 'person.idNumber.reveal', 'person.diagnoses.read', 'person.auditTrail.read')
           ORDER BY a.xact LIMIT max_rows;
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION audit_changes_since(pg_snapshot, int)`);
  }
}
