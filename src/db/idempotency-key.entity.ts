import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row per (agency, operation, key): written in the same transaction as
 * what the first call created, so a retry either finds it (and gets the
 * first result) or blocks on the unique key until the first call commits.
 */
@Entity({ name: 'idempotency_key' })
export class IdempotencyKey {
  @PrimaryColumn({ name: 'agency_id', type: 'uuid' })
  agencyId!: string;

  @PrimaryColumn({ type: 'varchar', length: 40 })
  operation!: string;

  @PrimaryColumn({ type: 'varchar', length: 100 })
  key!: string;

  /** SHA-256 of the canonical input: the same key with other input is CONFLICT. */
  @Column({ name: 'request_hash', type: 'bytea' })
  requestHash!: Buffer;

  @Column({ name: 'result_id', type: 'uuid' })
  resultId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
