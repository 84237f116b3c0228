import { MigrationInterface, QueryRunner } from 'typeorm';

export class PersonsCasesReferrals1795441154937 implements MigrationInterface {
  name = 'PersonsCasesReferrals1795441154937';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Trigram similarity for findPersons (a name written slightly differently is still found).
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await queryRunner.query(`CREATE TYPE "public"."gender" AS ENUM('MALE', 'FEMALE', 'UNKNOWN')`);
    await queryRunner.query(`CREATE TYPE "public"."identity_status" AS ENUM('UNKNOWN', 'SELF_REPORTED', 'VERIFIED')`);
    await queryRunner.query(
      `CREATE TYPE "public"."vulnerability" AS ENUM('PHYSICAL_DISABILITY', 'MENTAL_ILLNESS', 'DEMENTIA_OR_INTELLECTUAL_DISABILITY', 'SENSORY_OR_SPEECH_DISABILITY', 'SERIOUS_ILLNESS_OR_INJURY')`,
    );
    await queryRunner.query(
      `CREATE TABLE "person" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(50), "gender" "public"."gender" NOT NULL, "birth_year" smallint, "id_number_cipher" bytea, "id_number_hash" bytea, "identity_status" "public"."identity_status" NOT NULL DEFAULT 'UNKNOWN', "origin_region_code" character(6), "vulnerabilities" "public"."vulnerability" array NOT NULL DEFAULT '{}', "description" character varying(2000), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5fdaf670315c4b7e70cce85daa3" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "person_name_trgm_idx" ON "person" USING gin ("name" gin_trgm_ops)`);
    await queryRunner.query(`CREATE UNIQUE INDEX "person_id_number_hash_key" ON "person"  ("id_number_hash") `);
    await queryRunner.query(
      `CREATE TYPE "public"."intake_channel" AS ENUM('POLICE_ESCORT', 'SELF_PRESENTED', 'STREET_OUTREACH', 'PUBLIC_REPORT', 'AGENCY_TRANSFER')`,
    );
    await queryRunner.query(`CREATE TYPE "public"."age_group" AS ENUM('MINOR', 'ADULT', 'ELDERLY', 'UNKNOWN')`);
    await queryRunner.query(`CREATE TYPE "public"."case_status" AS ENUM('OPEN', 'CLOSED')`);
    await queryRunner.query(
      `CREATE TYPE "public"."case_outcome" AS ENUM('RETURNED_ESCORTED', 'RETURNED_FUNDED', 'RETURNED_FAMILY_PICKUP', 'LEFT_VOLUNTARILY', 'PLACED_IN_WELFARE_HOME', 'DECEASED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "rescue_case" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "case_number" character varying(32) NOT NULL, "person_id" uuid NOT NULL, "station_id" uuid NOT NULL, "intake_channel" "public"."intake_channel" NOT NULL, "brought_by_id" uuid, "note" character varying(2000), "opened_at" TIMESTAMP WITH TIME ZONE NOT NULL, "rescue_period_ends_at" TIMESTAMP WITH TIME ZONE NOT NULL, "age_group" "public"."age_group" NOT NULL, "status" "public"."case_status" NOT NULL DEFAULT 'OPEN', "outcome" "public"."case_outcome", "closed_at" TIMESTAMP WITH TIME ZONE, "closing" jsonb, "version" integer NOT NULL DEFAULT '1', CONSTRAINT "PK_3c0e9a36021bcca7317eeb7714c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "rescue_case_station_opened_idx" ON "rescue_case"  ("station_id", "opened_at") `);
    await queryRunner.query(
      `CREATE INDEX "rescue_case_station_status_opened_idx" ON "rescue_case"  ("station_id", "status", "opened_at", "id") `,
    );
    await queryRunner.query(`CREATE INDEX "rescue_case_person_idx" ON "rescue_case"  ("person_id", "opened_at") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "rescue_case_one_open_per_person" ON "rescue_case"  ("person_id") WHERE "status" = 'OPEN'`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "rescue_case_number_key" ON "rescue_case"  ("station_id", "case_number") `);
    await queryRunner.query(
      `CREATE TABLE "case_number_counter" ("station_id" uuid NOT NULL, "year" smallint NOT NULL, "last" integer NOT NULL, CONSTRAINT "PK_bf652fed88f2d958e8e70beeade" PRIMARY KEY ("station_id", "year"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "rescue_period_extension" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "case_id" uuid NOT NULL, "previous_end" TIMESTAMP WITH TIME ZONE NOT NULL, "new_end" TIMESTAMP WITH TIME ZONE NOT NULL, "reason" character varying(2000) NOT NULL, "account_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b6de3fe7b19caa25d97f0683deb" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "rescue_period_extension_case_idx" ON "rescue_period_extension"  ("case_id", "at") `);
    await queryRunner.query(
      `CREATE TABLE "custody_record" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "person_id" uuid NOT NULL, "holder_id" uuid NOT NULL, "from_at" TIMESTAMP WITH TIME ZONE NOT NULL, "to_at" TIMESTAMP WITH TIME ZONE, "referral_id" uuid, "case_id" uuid, CONSTRAINT "PK_dc4952f6223260defe752be5799" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "custody_open_holder_idx" ON "custody_record"  ("holder_id") WHERE "to_at" IS NULL`);
    await queryRunner.query(`CREATE INDEX "custody_person_idx" ON "custody_record"  ("person_id", "from_at") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "custody_one_open_per_person" ON "custody_record"  ("person_id") WHERE "to_at" IS NULL`);
    await queryRunner.query(
      `CREATE TABLE "idempotency_key" ("agency_id" uuid NOT NULL, "operation" character varying(40) NOT NULL, "key" character varying(100) NOT NULL, "request_hash" bytea NOT NULL, "result_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1c2a8254130751e9c540e13ef47" PRIMARY KEY ("agency_id", "operation", "key"))`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."referral_kind" AS ENUM('ESCORT_TO_STATION', 'PSYCHIATRIC_EVALUATION', 'RETURN_TO_ORIGIN', 'WELFARE_PLACEMENT', 'RETURN_TO_STATION')`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."referral_status" AS ENUM('REQUESTED', 'ACCEPTED', 'IN_TRANSIT', 'RECEIVED', 'REJECTED', 'CANCELLED', 'EXPIRED')`,
    );
    await queryRunner.query(
      `CREATE TYPE "public"."rejection_reason" AS ENUM('NO_CAPACITY', 'NOT_IN_JURISDICTION', 'NEEDS_PSYCHIATRIC_EVALUATION', 'NEEDS_MEDICAL_TREATMENT', 'IDENTITY_NOT_ESTABLISHED', 'OTHER')`,
    );
    await queryRunner.query(
      `CREATE TABLE "referral" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" "public"."referral_kind" NOT NULL, "status" "public"."referral_status" NOT NULL, "person_id" uuid NOT NULL, "case_id" uuid, "requested_by_id" uuid NOT NULL, "from_agency_id" uuid NOT NULL, "to_agency_id" uuid NOT NULL, "reason" character varying(2000), "rejection_reason" "public"."rejection_reason", "found_at" character varying(500), "circumstances" character varying(2000), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "respond_by" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "version" integer NOT NULL DEFAULT '1', "escort_agency_id" uuid, "escort_names" character varying(50) array NOT NULL DEFAULT '{}', CONSTRAINT "PK_a2d3e935a6591168066defec5ad" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "referral_due_idx" ON "referral"  ("respond_by") WHERE "status" IN ('REQUESTED', 'ACCEPTED')`);
    await queryRunner.query(`CREATE INDEX "referral_person_idx" ON "referral"  ("person_id", "created_at") `);
    await queryRunner.query(`CREATE INDEX "referral_case_idx" ON "referral"  ("case_id") `);
    await queryRunner.query(`CREATE INDEX "referral_escort_idx" ON "referral"  ("escort_agency_id") WHERE "escort_agency_id" IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "referral_requested_by_idx" ON "referral"  ("requested_by_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "referral_from_idx" ON "referral"  ("from_agency_id", "created_at", "id") `);
    await queryRunner.query(`CREATE INDEX "referral_to_idx" ON "referral"  ("to_agency_id", "created_at", "id") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "referral_one_open_per_person" ON "referral"  ("person_id") WHERE "status" IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT')`,
    );
    await queryRunner.query(
      `CREATE TABLE "diagnosis" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "referral_id" uuid NOT NULL, "person_id" uuid NOT NULL, "hospital_id" uuid NOT NULL, "icd10_code" character varying(10) NOT NULL, "summary" character varying(2000), "diagnosed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_d5dbb1cc4e30790df368da56961" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "diagnosis_referral_idx" ON "diagnosis"  ("referral_id") `);
    await queryRunner.query(`CREATE INDEX "diagnosis_person_idx" ON "diagnosis"  ("person_id", "diagnosed_at") `);
    await queryRunner.query(
      `CREATE TABLE "bed_assignment" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "referral_id" uuid NOT NULL, "agency_id" uuid NOT NULL, "ward" character varying(50) NOT NULL, "bed" character varying(50) NOT NULL, "assigned_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_f9f0de1553bc700187cee0e50d8" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "bed_assignment_referral_idx" ON "bed_assignment"  ("referral_id", "assigned_at") `);
    await queryRunner.query(
      `CREATE TYPE "public"."referral_event_type" AS ENUM('REQUESTED', 'ACCEPTED', 'REJECTED', 'CANCELLED', 'DISPATCHED', 'RECEIVED', 'EXPIRED', 'DIAGNOSIS_RECORDED', 'BED_ASSIGNED')`,
    );
    await queryRunner.query(
      `CREATE TABLE "referral_event" ("seq" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "referral_id" uuid NOT NULL, "type" "public"."referral_event_type" NOT NULL, "status" "public"."referral_status" NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor_account_id" uuid, "actor_agency_id" uuid, CONSTRAINT "PK_13d14bbcec6dd5c87df0cc14298" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(`CREATE INDEX "referral_event_referral_idx" ON "referral_event"  ("referral_id", "seq") `);
    await queryRunner.query(
      `ALTER TABLE "rescue_case" ADD CONSTRAINT "FK_13c72f819b8721c6b73eb0c3216" FOREIGN KEY ("person_id") REFERENCES "person"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "rescue_case" ADD CONSTRAINT "FK_2a395f3b16b682089e113cba1a5" FOREIGN KEY ("station_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "rescue_case" ADD CONSTRAINT "FK_dbaa236822a435170292b282e6f" FOREIGN KEY ("brought_by_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "rescue_period_extension" ADD CONSTRAINT "FK_0b53e0397bc3465a083481e4dc4" FOREIGN KEY ("case_id") REFERENCES "rescue_case"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "custody_record" ADD CONSTRAINT "FK_31b6e17078ba4d8171d934f29d1" FOREIGN KEY ("person_id") REFERENCES "person"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "custody_record" ADD CONSTRAINT "FK_cde5f9ae2bb509aad582b3188bb" FOREIGN KEY ("holder_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_0433a79e59b5e4bad477f6f4969" FOREIGN KEY ("person_id") REFERENCES "person"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_a3c42a65967c8a70e3ae1e1b6b6" FOREIGN KEY ("case_id") REFERENCES "rescue_case"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_b76775ce0dfd03c7639e10d7728" FOREIGN KEY ("requested_by_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_a3729e3d5d3b4ad5704a81b87a2" FOREIGN KEY ("from_agency_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_a940540541cce9753a08ef0931d" FOREIGN KEY ("to_agency_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral" ADD CONSTRAINT "FK_bcc2e5e82996fd1617bd7a479cf" FOREIGN KEY ("escort_agency_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "diagnosis" ADD CONSTRAINT "FK_11fbe7363b075ebf7492412e633" FOREIGN KEY ("referral_id") REFERENCES "referral"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "diagnosis" ADD CONSTRAINT "FK_773eebc165487b3a7538e380f72" FOREIGN KEY ("person_id") REFERENCES "person"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "diagnosis" ADD CONSTRAINT "FK_345a67ca6dae5ec31a4662349f7" FOREIGN KEY ("hospital_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "bed_assignment" ADD CONSTRAINT "FK_73fac4e38230953ff691af735ef" FOREIGN KEY ("referral_id") REFERENCES "referral"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "bed_assignment" ADD CONSTRAINT "FK_b44069dfea24792a67cbe3b052d" FOREIGN KEY ("agency_id") REFERENCES "agency"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral_event" ADD CONSTRAINT "FK_3f9efeb2b61e25fcd06638bbe60" FOREIGN KEY ("referral_id") REFERENCES "referral"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "referral_event" ADD CONSTRAINT "FK_ea492819c8adcb36b0f2da1c6ca" FOREIGN KEY ("actor_account_id") REFERENCES "account"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "public"."person_name_trgm_idx"`);
    await queryRunner.query(`ALTER TABLE "referral_event" DROP CONSTRAINT "FK_ea492819c8adcb36b0f2da1c6ca"`);
    await queryRunner.query(`ALTER TABLE "referral_event" DROP CONSTRAINT "FK_3f9efeb2b61e25fcd06638bbe60"`);
    await queryRunner.query(`ALTER TABLE "bed_assignment" DROP CONSTRAINT "FK_b44069dfea24792a67cbe3b052d"`);
    await queryRunner.query(`ALTER TABLE "bed_assignment" DROP CONSTRAINT "FK_73fac4e38230953ff691af735ef"`);
    await queryRunner.query(`ALTER TABLE "diagnosis" DROP CONSTRAINT "FK_345a67ca6dae5ec31a4662349f7"`);
    await queryRunner.query(`ALTER TABLE "diagnosis" DROP CONSTRAINT "FK_773eebc165487b3a7538e380f72"`);
    await queryRunner.query(`ALTER TABLE "diagnosis" DROP CONSTRAINT "FK_11fbe7363b075ebf7492412e633"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_bcc2e5e82996fd1617bd7a479cf"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_a940540541cce9753a08ef0931d"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_a3729e3d5d3b4ad5704a81b87a2"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_b76775ce0dfd03c7639e10d7728"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_a3c42a65967c8a70e3ae1e1b6b6"`);
    await queryRunner.query(`ALTER TABLE "referral" DROP CONSTRAINT "FK_0433a79e59b5e4bad477f6f4969"`);
    await queryRunner.query(`ALTER TABLE "custody_record" DROP CONSTRAINT "FK_cde5f9ae2bb509aad582b3188bb"`);
    await queryRunner.query(`ALTER TABLE "custody_record" DROP CONSTRAINT "FK_31b6e17078ba4d8171d934f29d1"`);
    await queryRunner.query(`ALTER TABLE "rescue_period_extension" DROP CONSTRAINT "FK_0b53e0397bc3465a083481e4dc4"`);
    await queryRunner.query(`ALTER TABLE "rescue_case" DROP CONSTRAINT "FK_dbaa236822a435170292b282e6f"`);
    await queryRunner.query(`ALTER TABLE "rescue_case" DROP CONSTRAINT "FK_2a395f3b16b682089e113cba1a5"`);
    await queryRunner.query(`ALTER TABLE "rescue_case" DROP CONSTRAINT "FK_13c72f819b8721c6b73eb0c3216"`);
    await queryRunner.query(`DROP INDEX "public"."referral_event_referral_idx"`);
    await queryRunner.query(`DROP TABLE "referral_event"`);
    await queryRunner.query(`DROP TYPE "public"."referral_event_type"`);
    await queryRunner.query(`DROP INDEX "public"."bed_assignment_referral_idx"`);
    await queryRunner.query(`DROP TABLE "bed_assignment"`);
    await queryRunner.query(`DROP INDEX "public"."diagnosis_person_idx"`);
    await queryRunner.query(`DROP INDEX "public"."diagnosis_referral_idx"`);
    await queryRunner.query(`DROP TABLE "diagnosis"`);
    await queryRunner.query(`DROP INDEX "public"."referral_one_open_per_person"`);
    await queryRunner.query(`DROP INDEX "public"."referral_to_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_from_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_requested_by_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_escort_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_case_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_person_idx"`);
    await queryRunner.query(`DROP INDEX "public"."referral_due_idx"`);
    await queryRunner.query(`DROP TABLE "referral"`);
    await queryRunner.query(`DROP TYPE "public"."rejection_reason"`);
    await queryRunner.query(`DROP TYPE "public"."referral_status"`);
    await queryRunner.query(`DROP TYPE "public"."referral_kind"`);
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
    await queryRunner.query(`DROP INDEX "public"."custody_one_open_per_person"`);
    await queryRunner.query(`DROP INDEX "public"."custody_person_idx"`);
    await queryRunner.query(`DROP INDEX "public"."custody_open_holder_idx"`);
    await queryRunner.query(`DROP TABLE "custody_record"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_period_extension_case_idx"`);
    await queryRunner.query(`DROP TABLE "rescue_period_extension"`);
    await queryRunner.query(`DROP TABLE "case_number_counter"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_case_number_key"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_case_one_open_per_person"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_case_person_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_case_station_status_opened_idx"`);
    await queryRunner.query(`DROP INDEX "public"."rescue_case_station_opened_idx"`);
    await queryRunner.query(`DROP TABLE "rescue_case"`);
    await queryRunner.query(`DROP TYPE "public"."case_outcome"`);
    await queryRunner.query(`DROP TYPE "public"."case_status"`);
    await queryRunner.query(`DROP TYPE "public"."age_group"`);
    await queryRunner.query(`DROP TYPE "public"."intake_channel"`);
    await queryRunner.query(`DROP INDEX "public"."person_id_number_hash_key"`);
    await queryRunner.query(`DROP TABLE "person"`);
    await queryRunner.query(`DROP TYPE "public"."vulnerability"`);
    await queryRunner.query(`DROP TYPE "public"."identity_status"`);
    await queryRunner.query(`DROP TYPE "public"."gender"`);
  }
}
