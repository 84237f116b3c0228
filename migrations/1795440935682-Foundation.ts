import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1795440935682 implements MigrationInterface {
  name = 'Foundation1795440935682';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TYPE "public"."agency_kind" AS ENUM('RESCUE_STATION', 'POLICE_STATION', 'PSYCHIATRIC_HOSPITAL', 'WELFARE_HOME', 'CIVIL_AFFAIRS_OFFICE')`,
    );
    await queryRunner.query(
      `CREATE TABLE "agency" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" "public"."agency_kind" NOT NULL, "name" character varying(100) NOT NULL, "region_code" character(6) NOT NULL, "short_code" character varying(8) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ab1244724d1c216e9720635a2e5" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "agency_kind_region_idx" ON "agency"  ("kind", "region_code") `);
    await queryRunner.query(`CREATE TYPE "public"."account_role" AS ENUM('STAFF', 'SUPERVISOR')`);
    await queryRunner.query(
      `CREATE TABLE "account" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "display_name" character varying(100) NOT NULL, "role" "public"."account_role" NOT NULL DEFAULT 'STAFF', "agency_id" uuid NOT NULL, "token_hash" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_54115ee388cdb6d86bb4bf5b2ea" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "account_agency_idx" ON "account"  ("agency_id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "account_token_hash_key" ON "account"  ("token_hash") `);
    await queryRunner.query(
      `CREATE TABLE "audit_log" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "account_id" uuid, "agency_id" uuid, "action" character varying(64) NOT NULL, "subject_type" character varying(32) NOT NULL, "subject_id" uuid NOT NULL, "request_id" character varying(64), CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "audit_log_subject_idx" ON "audit_log"  ("subject_id", "id") `);
    // Append-only (DOMAIN.md §6): not even the hub's own role may rewrite history.
    await queryRunner.query(`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON "audit_log" FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`,
    );
    await queryRunner.query(
      `ALTER TABLE "account" ADD CONSTRAINT "FK_4f747095b9b189295db324b20e1" FOREIGN KEY ("agency_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" DROP CONSTRAINT "FK_4f747095b9b189295db324b20e1"`);
    await queryRunner.query(`DROP TRIGGER audit_log_no_truncate ON "audit_log"`);
    await queryRunner.query(`DROP TRIGGER audit_log_no_update_delete ON "audit_log"`);
    await queryRunner.query(`DROP FUNCTION audit_log_append_only()`);
    await queryRunner.query(`DROP INDEX "public"."audit_log_subject_idx"`);
    await queryRunner.query(`DROP TABLE "audit_log"`);
    await queryRunner.query(`DROP INDEX "public"."account_token_hash_key"`);
    await queryRunner.query(`DROP INDEX "public"."account_agency_idx"`);
    await queryRunner.query(`DROP TABLE "account"`);
    await queryRunner.query(`DROP TYPE "public"."account_role"`);
    await queryRunner.query(`DROP INDEX "public"."agency_kind_region_idx"`);
    await queryRunner.query(`DROP TABLE "agency"`);
    await queryRunner.query(`DROP TYPE "public"."agency_kind"`);
  }
}
