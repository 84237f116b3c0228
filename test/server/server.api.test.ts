import { randomBytes } from 'node:crypto';
import { PortInUseError, startHub } from '../../src/server/app';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(hub.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('the HTTP endpoint', () => {
  it('answers /healthz with 200 while the database answers', async () => {
    const res = await fetch(hub.url.replace('/graphql', '/healthz'));
    expect(res.status).toBe(200);
  });

  it('gives every response a request id', async () => {
    const res = await post({ query: '{ viewer { isAdmin } }' }, { authorization: `Bearer ${hub.adminToken}` });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hides field suggestions from clients', async () => {
    const res = await post({ query: '{ viewr { isAdmin } }' }, { authorization: `Bearer ${hub.adminToken}` });
    const body = (await res.json()) as { errors: { message: string }[] };
    expect(body.errors[0].message).not.toMatch(/Did you mean/);
  });

  it('refuses batched HTTP operations', async () => {
    const res = await post([{ query: '{ viewer { isAdmin } }' }, { query: '{ viewer { isAdmin } }' }], {
      authorization: `Bearer ${hub.adminToken}`,
    });
    expect(res.status).toBe(400);
  });

  it('masks an unexpected error as INTERNAL_SERVER_ERROR with the request id, and logs it in full', async () => {
    // An unplanned failure: the table behind a resolver is gone for a moment.
    await hub.hub.db.query('ALTER TABLE agency RENAME TO agency_away');
    try {
      const res = await post({ query: '{ agencies { id } }' }, { authorization: `Bearer ${hub.adminToken}` });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
      expect(body.errors[0].message).toBe('Unexpected error.');
      expect(JSON.stringify(body)).not.toMatch(/agency|relation|SELECT/i);
      const requestId = body.errors[0].extensions.requestId as string;
      expect(requestId).toBe(res.headers.get('x-request-id'));
      expect(hub.logLines.some((l) => l.includes(requestId) && l.includes('agency'))).toBe(true);
    } finally {
      await hub.hub.db.query('ALTER TABLE agency_away RENAME TO agency');
    }
  });

  it('answers an unknown token with UNAUTHENTICATED, not a server error', async () => {
    const res = await post({ query: '{ viewer { isAdmin } }' }, { authorization: 'Bearer hub_nope' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('starting', () => {
  it('says the port is taken, naming it, instead of crashing', async () => {
    const taken = new URL(hub.url).port;
    const attempt = startHub({
      config: loadConfig({ PORT: taken, HOST: '127.0.0.1', HUB_MIGRATE: 'false' }),
      logger: createLogger('silent'),
      databaseUrl: hub.database.url,
      idNumberKey: randomBytes(32),
    });
    await expect(attempt).rejects.toBeInstanceOf(PortInUseError);
    await expect(attempt).rejects.toThrow(new RegExp(`Port ${taken}`));
  });
});
