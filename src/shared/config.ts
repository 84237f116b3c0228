import path from 'node:path';

/**
 * Every setting of the hub, read and validated once at start. A bad value
 * stops the hub with a message naming the variable; nothing else reads
 * process.env.
 */
export interface Config {
  port: number;
  host: string;
  /** Unset: the hub runs its own embedded PostgreSQL in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  adminToken?: string;
  migrate: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** 32-byte key (hex) for ID-number encryption and the lookup hash. */
  idNumberKey?: string;
  poolSize: number;
  rescuePeriodDays: number;
  /** Per referral kind, in milliseconds. */
  responseTimes: Record<ReferralKindName, number>;
  expirySweepMs: number;
  /** Browser origins allowed to open a WebSocket; requests without Origin (servers) are allowed. */
  allowedOrigins: string[];
  shutdownTimeoutMs: number;
  maxBodyBytes: number;
  /** Query limits (src/server/limits.ts): nesting depth, aliases, lexer tokens, estimated cost per operation. */
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  /** Token bucket per caller (src/server/rate-limit.ts): refill per minute and bucket size. */
  rateLimitPerMinute: number;
  rateLimitBurst: number;
  /** How often each process re-checks the accounts behind its open WebSockets for revocation. */
  wsAccountRecheckMs: number;
  /** How long a process may reuse a token's lookup (src/auth/token-cache.ts); 0: look up every request. */
  tokenCacheMs: number;
  /** Station pages kept by the page cache (src/cases/case-page.cache.ts), per process; 0: off. */
  pageCacheEntries: number;
  /** Hub processes sharing the port (src/server/workers.ts); 1: this process serves alone. */
  workers: number;
  /** Events one subscription may have waiting; a subscriber that falls further behind is disconnected (src/events). */
  subscriptionBuffer: number;
  /** Safety net: how often each process reads new events even without a NOTIFY wake-up. */
  eventPollMs: number;
  /** HUB_EVENT_IDLE_READ: how often a feed nobody in the process follows reads, at most (event-feed.ts wake). */
  eventIdleReadMs: number;
  /** How often occupancy subscriptions re-count without any event (overdue cases grow with the clock). */
  occupancyRefreshMs: number;
}

export type ReferralKindName =
  'ESCORT_TO_STATION' | 'PSYCHIATRIC_EVALUATION' | 'RETURN_TO_ORIGIN' | 'WELFARE_PLACEMENT' | 'RETURN_TO_STATION';

/** Hub defaults from DOMAIN.md §5 (not law): how long the receiving agency has to answer. */
export const DEFAULT_RESPONSE_TIMES: Record<ReferralKindName, string> = {
  PSYCHIATRIC_EVALUATION: '2h',
  ESCORT_TO_STATION: '1h',
  RETURN_TO_STATION: '24h',
  RETURN_TO_ORIGIN: '2d',
  WELFARE_PLACEMENT: '5d',
};

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "2h", "5d" or plain milliseconds. */
export function parseDuration(name: string, raw: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new ConfigError(name, `must be a duration such as 90s, 30m, 2h or 5d, got "${raw}"`);
  }
  return Number(m[1]) * UNITS[m[2] ?? 'ms'];
}

function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL; expected postgres://user:password@host:port/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must start with postgres:// or postgresql://, got ${url.protocol}//`);
  }
  // A Unix-socket directory as ?host=/run/postgresql (libpq's and pg's form) is a host too: on the database's own
  // machine it costs less per statement than TCP over loopback.
  const socketDir = url.searchParams.get('host')?.startsWith('/');
  if ((!url.hostname && !socketDir) || url.pathname.length <= 1) {
    throw new ConfigError(
      'DATABASE_URL',
      'must name a host and a database, e.g. postgres://hub@db:5432/hub (or a socket folder: postgres:///hub?host=/run/postgresql&user=hub)',
    );
  }
  return raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env = process.env): Config {
  const logLevel = (env.LOG_LEVEL || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const adminToken = env.HUB_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 24) {
    throw new ConfigError('HUB_ADMIN_TOKEN', 'must be at least 24 characters (use a random secret)');
  }
  const idNumberKey = env.HUB_ID_NUMBER_KEY || undefined;
  if (idNumberKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(idNumberKey)) {
    throw new ConfigError('HUB_ID_NUMBER_KEY', 'must be 64 hex characters (32 random bytes: `openssl rand -hex 32`)');
  }
  const responseTimes = {} as Record<ReferralKindName, number>;
  for (const kind of Object.keys(DEFAULT_RESPONSE_TIMES) as ReferralKindName[]) {
    const name = `HUB_RESPONSE_TIME_${kind}`;
    responseTimes[kind] = parseDuration(name, env[name] || DEFAULT_RESPONSE_TIMES[kind]);
  }
  const host = env.HOST || '127.0.0.1';
  const rateLimitPerMinute = int(env, 'HUB_RATE_LIMIT_PER_MINUTE', 600, 1, 10_000_000);
  return {
    port: int(env, 'PORT', 4000, 0, 65535),
    host,
    databaseUrl: databaseUrl(env),
    dataDir: path.resolve(env.HUB_DATA_DIR || '.hub-data'),
    adminToken,
    migrate: bool(env, 'HUB_MIGRATE', true),
    logLevel,
    idNumberKey,
    poolSize: int(env, 'HUB_DB_POOL_SIZE', 10, 1, 200),
    rescuePeriodDays: int(env, 'HUB_RESCUE_PERIOD_DAYS', 10, 1, 365),
    responseTimes,
    expirySweepMs: env.HUB_EXPIRY_SWEEP ? parseDuration('HUB_EXPIRY_SWEEP', env.HUB_EXPIRY_SWEEP) : 60_000,
    allowedOrigins: (env.HUB_ALLOWED_ORIGINS || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    shutdownTimeoutMs: int(env, 'HUB_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    maxBodyBytes: int(env, 'HUB_MAX_BODY_BYTES', 1_000_000, 1_000, 50_000_000),
    maxDepth: int(env, 'HUB_MAX_DEPTH', 12, 2, 100),
    maxAliases: int(env, 'HUB_MAX_ALIASES', 30, 0, 1_000),
    maxTokens: int(env, 'HUB_MAX_TOKENS', 5_000, 100, 1_000_000),
    maxCost: int(env, 'HUB_MAX_COST', 50_000, 10, 100_000_000),
    rateLimitPerMinute,
    // Default: up to 100 requests at once (never more than a minute's worth), then the steady rate.
    rateLimitBurst: int(env, 'HUB_RATE_LIMIT_BURST', Math.min(100, rateLimitPerMinute), 1, 10_000_000),
    wsAccountRecheckMs: env.HUB_WS_ACCOUNT_RECHECK ? parseDuration('HUB_WS_ACCOUNT_RECHECK', env.HUB_WS_ACCOUNT_RECHECK) : 5_000,
    tokenCacheMs: !env.HUB_TOKEN_CACHE
      ? 30_000
      : ['0', 'off'].includes(env.HUB_TOKEN_CACHE.trim())
        ? 0
        : parseDuration('HUB_TOKEN_CACHE', env.HUB_TOKEN_CACHE),
    workers: int(env, 'HUB_WORKERS', 1, 1, 64),
    pageCacheEntries: int(env, 'HUB_PAGE_CACHE_ENTRIES', 128, 0, 100_000),
    subscriptionBuffer: int(env, 'HUB_SUBSCRIPTION_BUFFER', 1_000, 1, 1_000_000),
    eventPollMs: env.HUB_EVENT_POLL ? parseDuration('HUB_EVENT_POLL', env.HUB_EVENT_POLL) : 5_000,
    eventIdleReadMs: env.HUB_EVENT_IDLE_READ ? parseDuration('HUB_EVENT_IDLE_READ', env.HUB_EVENT_IDLE_READ) : 100,
    occupancyRefreshMs: env.HUB_OCCUPANCY_REFRESH ? parseDuration('HUB_OCCUPANCY_REFRESH', env.HUB_OCCUPANCY_REFRESH) : 60_000,
  };
}
