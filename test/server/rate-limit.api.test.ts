import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { RateLimiter } from '../../src/server/rate-limit';
import { anAgency, type TestAgency } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';

describe('RateLimiter (a token bucket per key)', () => {
  let nowMs = 1_000_000;
  const clock = () => nowMs;

  it('allows a burst, then refuses until the bucket refills at the steady rate', () => {
    const limiter = new RateLimiter(60, 3, clock); // one a second, three at once
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    const refused = limiter.take('a');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    nowMs += 1000;
    expect(limiter.take('a')).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('keeps keys apart', () => {
    const limiter = new RateLimiter(60, 1, clock);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('reports the bucket size, what is left and when it is full again (Unix seconds)', () => {
    const limiter = new RateLimiter(60, 5, clock);
    const d = limiter.take('a');
    expect(d).toMatchObject({ allowed: true, limit: 5, remaining: 4 });
    expect(d.resetAt).toBe(Math.ceil((nowMs + 1000) / 1000));
  });

  it('never holds more than the burst, however long a caller was away', () => {
    const limiter = new RateLimiter(60, 2, clock);
    limiter.take('a');
    nowMs += 3_600_000;
    expect(limiter.take('a').remaining).toBe(1);
  });

  it('says how long to wait when the rate is slow', () => {
    const limiter = new RateLimiter(1, 1, clock); // one a minute
    limiter.take('a');
    expect(limiter.take('a').retryAfterSeconds).toBe(60);
  });
});

describe('rate limits over HTTP', () => {
  const BURST = 10;
  let hub: TestHub;
  let station: TestAgency;
  let police: TestAgency;
  let home: TestAgency;
  beforeAll(async () => {
    // One request a second, ten at once: a test's requests cannot refill a bucket noticeably.
    hub = await startTestHub({ HUB_RATE_LIMIT_PER_MINUTE: '60', HUB_RATE_LIMIT_BURST: String(BURST) });
    // Nine of the administrator's ten requests.
    station = await anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY');
    police = await anAgency(hub, 'POLICE_STATION', '长湖派出所', '430406');
    home = await anAgency(hub, 'WELFARE_HOME', '福利院', '430406');
  });
  afterAll(() => hub.stop());

  const ask = (token?: string) =>
    fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: '{ __typename }' }),
    });

  /** Asks until refused (at most twice the burst); returns how many were answered and the refusal. */
  const exhaust = async (token?: string) => {
    for (let answered = 0; answered < 2 * BURST; answered++) {
      const res = await ask(token);
      if (res.status === 429) return { answered, refusal: res };
      await res.arrayBuffer();
    }
    throw new Error('never rate limited');
  };

  it('sends x-ratelimit-limit, -remaining and -reset on every answer', async () => {
    const before = Math.floor(Date.now() / 1000);
    const first = await ask(station.token);
    const second = await ask(station.token);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe(String(BURST));
    expect(Number(first.headers.get('x-ratelimit-remaining'))).toBe(BURST - 1);
    expect(Number(second.headers.get('x-ratelimit-remaining'))).toBe(BURST - 2);
    const reset = Number(first.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(before);
    expect(reset).toBeLessThanOrEqual(before + 60);
  });

  it('answers past the burst with 429, RATE_LIMITED, retryAfterSeconds and retry-after', async () => {
    const { answered, refusal } = await exhaust(station.supervisorToken);
    expect(answered).toBeGreaterThanOrEqual(BURST);
    expect(answered).toBeLessThanOrEqual(BURST + 1); // a slow machine may refill one
    const body = (await refusal.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const retryAfter = body.errors[0].extensions.retryAfterSeconds as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(refusal.headers.get('retry-after')).toBe(String(retryAfter));
    expect(refusal.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('lets the caller in again once the bucket has refilled', async () => {
    const { refusal } = await exhaust(station.supervisorToken);
    const wait = Number(refusal.headers.get('retry-after'));
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    expect((await ask(station.supervisorToken)).status).toBe(200);
  });

  it('keeps each account to its own bucket', async () => {
    await exhaust(police.token);
    expect((await ask(police.supervisorToken)).status).toBe(200);
  });

  it('limits the administrator too', async () => {
    const { answered, refusal } = await exhaust(hub.adminToken);
    expect(answered).toBeLessThanOrEqual(BURST);
    expect(refusal.status).toBe(429);
  });

  it('keys anonymous callers and unknown tokens by address, so invented tokens buy no fresh bucket', async () => {
    await exhaust(undefined);
    const invented = await ask('hub_invented-token-1');
    expect(invented.status).toBe(429);
    expect(((await invented.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await ask('hub_invented-token-2')).status).toBe(429);
    expect((await ask(home.token)).status).toBe(200); // a real token does not draw from the address's bucket
  });
});

describe('rate limits over graphql-ws', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ HUB_RATE_LIMIT_PER_MINUTE: '60', HUB_RATE_LIMIT_BURST: '3' });
  });
  afterAll(() => hub.stop());

  it('draws operations on a WebSocket from the same bucket and refuses them with RATE_LIMITED', async () => {
    const client = createClient({
      url: hub.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${hub.adminToken}` },
      retryAttempts: 0,
    });
    try {
      const codes: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        codes.push(
          await new Promise((resolve, reject) =>
            client.subscribe(
              { query: '{ __typename }' },
              {
                next: () => undefined,
                error: (e) => (Array.isArray(e) ? resolve(e[0]?.extensions?.code) : reject(e)),
                complete: () => resolve('ok'),
              },
            ),
          ),
        );
      }
      expect(codes.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
      expect(codes.slice(3)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    } finally {
      await client.dispose();
    }
  });
});
