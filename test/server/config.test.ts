import { ConfigError, loadConfig, parseDuration } from '../../src/shared/config';

function problemWith(env: Record<string, string>): string | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.variable;
    throw err;
  }
}

describe('configuration', () => {
  it('has working defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 4000, migrate: true, rescuePeriodDays: 10, logLevel: 'info' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toMatch(/\.hub-data$/);
    expect(c.responseTimes).toEqual({
      PSYCHIATRIC_EVALUATION: 2 * 3_600_000,
      ESCORT_TO_STATION: 3_600_000,
      RETURN_TO_STATION: 24 * 3_600_000,
      RETURN_TO_ORIGIN: 2 * 86_400_000,
      WELFARE_PLACEMENT: 5 * 86_400_000,
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://db/hub' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://db' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres:///hub?host=relative/dir' }, 'DATABASE_URL'],
    [{ HUB_MIGRATE: 'maybe' }, 'HUB_MIGRATE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HUB_ADMIN_TOKEN: 'short' }, 'HUB_ADMIN_TOKEN'],
    [{ HUB_ID_NUMBER_KEY: 'abc' }, 'HUB_ID_NUMBER_KEY'],
    [{ HUB_RESCUE_PERIOD_DAYS: '0' }, 'HUB_RESCUE_PERIOD_DAYS'],
    [{ HUB_RESPONSE_TIME_RETURN_TO_ORIGIN: 'soon' }, 'HUB_RESPONSE_TIME_RETURN_TO_ORIGIN'],
    [{ HUB_EXPIRY_SWEEP: '-5s' }, 'HUB_EXPIRY_SWEEP'],
  ])('stops on %j, naming %s', (env, variable) => {
    expect(problemWith(env)).toBe(variable);
  });

  it('accepts a postgres URL and durations in s, m, h and d', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://hub:pw@db:5432/hub',
      HUB_RESPONSE_TIME_WELFARE_PLACEMENT: '3d',
      HUB_MIGRATE: 'false',
    });
    expect(c.databaseUrl).toBe('postgresql://hub:pw@db:5432/hub');
    expect(c.responseTimes.WELFARE_PLACEMENT).toBe(3 * 86_400_000);
    expect(c.migrate).toBe(false);
    expect(parseDuration('X', '90s')).toBe(90_000);
    // A Unix-socket folder is a host too (pg's and libpq's ?host=/dir).
    expect(loadConfig({ DATABASE_URL: 'postgres:///hub?host=/run/postgresql&user=hub' }).databaseUrl).toBe(
      'postgres:///hub?host=/run/postgresql&user=hub',
    );
    expect(parseDuration('X', '30m')).toBe(1_800_000);
  });
});
