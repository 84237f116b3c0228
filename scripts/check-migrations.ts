import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createDataSource } from '../src/db/data-source';
import { ENTITIES } from '../src/server/entities';
import { createTestDatabase } from '../test/support/database';

/**
 * CI: migrations and entities must agree. Applies every migration to a
 * fresh database, then asks TypeORM what it would still generate (the same
 * as `migration:generate --check`); anything at all is a failure.
 */
async function main(): Promise<void> {
  const database = await createTestDatabase();
  const db = createDataSource({ url: database.url, entities: ENTITIES, applicationName: `check-${randomBytes(3).toString('hex')}` });
  try {
    await db.initialize();
    await db.runMigrations({ transaction: 'each' });
    const pending = await db.driver.createSchemaBuilder().log();
    if (pending.upQueries.length > 0) {
      console.error('Entities and migrations disagree; a new migration would contain:');
      for (const q of pending.upQueries) console.error(`  ${q.query}`);
      console.error('Run `npm run migration:generate -- migrations/<Name>` and commit it.');
      process.exitCode = 1;
    } else {
      console.log('Migrations match the entities.');
    }
  } finally {
    await db.destroy().catch(() => undefined);
    await database.stop();
  }
}

void main();
