// Must stay the first import (see the module).
import './production-mode';
import 'reflect-metadata';
import cluster from 'node:cluster';
import path from 'node:path';
import { startEmbedded, EmbeddedStartError, type EmbeddedDatabase } from '../db/embedded';
import { ConfigError, loadConfig, type Config } from '../shared/config';
import { createLogger } from '../shared/logger';
import { applyMigrations, startHub, PortInUseError, type Hub } from './app';
import { keptAdminToken, keptIdNumberKey } from './secrets';
import { startWorkers, type ServingMessage, type Workers } from './workers';

/**
 * `npm start`. Without DATABASE_URL the hub runs its own PostgreSQL in
 * HUB_DATA_DIR; with it, it uses that database. Either way migrations are
 * applied at start unless HUB_MIGRATE=false. HUB_WORKERS > 1: this process
 * does all that once, then supervises that many hub processes (workers.ts).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | undefined;
  let hub: Hub | undefined;
  let workers: Workers | undefined;
  let shuttingDown = false;
  // A worker of a HUB_WORKERS > 1 hub: its primary started the database and gave it the settings (workers.ts).
  const isWorker = cluster.isWorker;

  const shutdown = async (signal: string, code = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 15_000);
    try {
      await hub?.stop();
      await workers?.stop(config.shutdownTimeoutMs + 5_000);
      await embedded?.stop();
      logger.info('stopped cleanly');
    } catch (err) {
      logger.error({ err }, 'error while stopping');
      code = 1;
    } finally {
      clearTimeout(timer);
      process.exit(code);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // The primary is gone (killed, crashed): a worker must not serve on alone, unsupervised.
  if (isWorker) process.on('disconnect', () => void shutdown('primary gone'));

  try {
    let databaseUrl = config.databaseUrl;
    let adminToken = config.adminToken;
    let idNumberKey = config.idNumberKey;
    if (!databaseUrl) {
      embedded = await startEmbedded({ dataDir: path.join(config.dataDir), log: (msg) => logger.info(msg) });
      databaseUrl = embedded.url;
      console.log(`Data: embedded PostgreSQL in ${config.dataDir} (port ${embedded.port})`);
      if (!adminToken) {
        const t = keptAdminToken(config.dataDir);
        adminToken = t.value;
        console.log(
          t.created
            ? `Administrator token (generated once, kept in ${path.join(config.dataDir, 'admin-token')}):\n  ${t.value}`
            : `Administrator token: in ${path.join(config.dataDir, 'admin-token')}`,
        );
      }
      idNumberKey ??= keptIdNumberKey(config.dataDir).value;
    } else {
      if (!idNumberKey) {
        throw new ConfigError(
          'HUB_ID_NUMBER_KEY',
          'is required with DATABASE_URL (64 hex characters: `openssl rand -hex 32`); keep it outside the database',
        );
      }
      if (!adminToken && !isWorker)
        console.log('No HUB_ADMIN_TOKEN: this hub has no administrator (agencies and tokens cannot be created).');
    }
    if (config.workers > 1 && !isWorker) {
      if (config.migrate) await applyMigrations(databaseUrl, logger);
      workers = await startWorkers({
        count: config.workers,
        logger,
        env: {
          DATABASE_URL: databaseUrl,
          HUB_MIGRATE: 'false',
          HUB_ID_NUMBER_KEY: idNumberKey,
          ...(adminToken ? { HUB_ADMIN_TOKEN: adminToken } : {}),
          // Each process keeps its own buckets and the primary hands connections out in turn: each gets its share,
          // so that a caller's total stays what the settings say.
          HUB_RATE_LIMIT_PER_MINUTE: String(Math.ceil(config.rateLimitPerMinute / config.workers)),
          HUB_RATE_LIMIT_BURST: String(Math.ceil(config.rateLimitBurst / config.workers)),
        },
      });
      console.log(`Rescue-referral hub serving ${workers.url} (HTTP and graphql-ws; ${config.workers} worker processes)`);
      return;
    }
    hub = await startHub({ config, logger, databaseUrl, adminToken, idNumberKey: Buffer.from(idNumberKey, 'hex') });
    if (isWorker) process.send!({ kind: 'hub-serving', url: hub.url } satisfies ServingMessage);
    else console.log(`Rescue-referral hub serving ${hub.url} (HTTP and graphql-ws)`);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof EmbeddedStartError || err instanceof PortInUseError) {
      console.error(err instanceof ConfigError ? `Configuration error: ${err.message}` : err.message);
    } else {
      logger.fatal({ err }, 'could not start');
    }
    await shutdown('startup failure', 1);
  }
}

void main();
