import 'reflect-metadata';
import { createDataSource } from '../db/data-source';
import { ENTITIES } from './entities';

/** For the TypeORM CLI (npm run migration:generate / migrate). */
export default createDataSource({
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/hub_dev',
  entities: ENTITIES,
  applicationName: 'hub-migrations',
});
