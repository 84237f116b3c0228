import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who holds a person now and their open case, read with a snapshot of its own. A hand-off takes the person's
 * lock, then decides with the custodian; doing both in one statement (one round trip, issue 7) needs the read to
 * come AFTER the lock is granted, and a plain subquery reads with the snapshot its statement took before it
 * waited: a custody move committed while the statement waited would go unseen. A VOLATILE function takes a new
 * snapshot for each query it runs (PostgreSQL docs, "Function Volatility Categories"), and called above the
 * locking subquery it runs once the lock is held. PL/pgSQL, because PostgreSQL may inline an SQL function into
 * the caller's query, and with it its snapshot.
 */
export class PersonHolding1796239262076 implements MigrationInterface {
  name = 'PersonHolding1796239262076';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION person_holding(of_person uuid, OUT holder_id uuid, OUT case_id uuid, OUT case_station_id uuid)
      LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        SELECT k.holder_id INTO holder_id FROM custody_record k WHERE k.person_id = of_person AND k.to_at IS NULL;
        SELECT c.id, c.station_id INTO case_id, case_station_id FROM rescue_case c WHERE c.person_id = of_person AND c.status = 'OPEN';
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION person_holding(uuid)`);
  }
}
