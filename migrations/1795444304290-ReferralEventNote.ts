import { MigrationInterface, QueryRunner } from 'typeorm';

export class ReferralEventNote1795444304290 implements MigrationInterface {
  name = 'ReferralEventNote1795444304290';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "referral_event" ADD "note" character varying(2000)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "referral_event" DROP COLUMN "note"`);
  }
}
