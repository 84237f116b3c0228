import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { LISTENER_APPLICATION_NAME } from '../../src/events/event-feed';
import { startHub, type Hub } from '../../src/server/app';
import { loadConfig } from '../../src/shared/config';
import { createLogger } from '../../src/shared/logger';
import { toGlobalId } from '../../src/shared/relay';
import { RevokeAccessTokenDocument, ViewerDocument } from '../generated/graphql';
import { anAgency, type TestAgency } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
beforeAll(async () => {
  // This process re-checks rarely, so that closing at once is seen to come from the revocation itself.
  hub = await startTestHub({ HUB_WS_ACCOUNT_RECHECK: '1h' });
});
afterAll(() => hub.stop());

/** Another hub process on the same database, as a second server of one deployment would be. */
const secondHub = (env: Record<string, string>) =>
  startHub({
    config: loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', HUB_EXPIRY_SWEEP: '1h', ...env }),
    logger: createLogger('silent'),
    databaseUrl: hub.database.url,
    adminToken: hub.adminToken,
    idNumberKey: randomBytes(32),
  });

const accountIdOf = async (token: string) => (await hub.ok(ViewerDocument, {}, token)).viewer.account!.id;

/** Fails with a clear message instead of the test's timeout. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface OpenSocket {
  client: Client;
  /** Resolves once the hub has acknowledged the connection. */
  connected: Promise<void>;
  /** The close code, whenever the socket closes. */
  closed: Promise<number>;
}

/** A graphql-ws connection held open without any operation (lazy: false). */
function openSocket(url: string, token: string): OpenSocket {
  let onConnected!: () => void;
  let onClosed!: (code: number) => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: { connected: () => onConnected(), closed: (event) => onClosed((event as { code: number }).code) },
  });
  return { client, connected, closed };
}

function viewerOver(client: Client): Promise<unknown> {
  return new Promise((resolve, reject) =>
    client.subscribe({ query: '{ viewer { isAdmin } }' }, { next: (r) => resolve(r.data), error: reject, complete: () => undefined }),
  );
}

describe('revokeAccessToken over HTTP', () => {
  let station: TestAgency;
  beforeAll(async () => {
    station = await anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY');
  });

  it('stops the token at once, leaves the agency’s other accounts alone, and audits it', async () => {
    const police = await anAgency(hub, 'POLICE_STATION', '长湖派出所', '430406');
    const accountId = await accountIdOf(police.token);
    const { revokeAccessToken } = await hub.ok(RevokeAccessTokenDocument, { accountId }, hub.adminToken);
    expect(revokeAccessToken.id).toBe(accountId);
    expect(Date.parse(revokeAccessToken.revokedAt!)).toBeGreaterThan(Date.now() - 60_000);

    expect(codeOf(await hub.request(ViewerDocument, {}, police.token))).toBe('UNAUTHENTICATED');
    expect((await hub.ok(ViewerDocument, {}, police.supervisorToken)).viewer.account).not.toBeNull();

    const uuid = Buffer.from(accountId, 'base64url').toString('utf8').split(':')[1];
    const audit: { action: string; n: number }[] = await hub.hub.db.query(
      `SELECT action, count(*)::int AS n FROM audit_log WHERE subject_id = $1 GROUP BY action ORDER BY action`,
      [uuid],
    );
    expect(audit).toContainEqual({ action: 'account.revokeToken', n: 1 });
  });

  it('keeps the first revocation time when revoked again, with one audit entry', async () => {
    const home = await anAgency(hub, 'WELFARE_HOME', '福利院', '430406');
    const accountId = await accountIdOf(home.token);
    const first = (await hub.ok(RevokeAccessTokenDocument, { accountId }, hub.adminToken)).revokeAccessToken;
    const again = (await hub.ok(RevokeAccessTokenDocument, { accountId }, hub.adminToken)).revokeAccessToken;
    expect(again.revokedAt).toBe(first.revokedAt);
    const uuid = Buffer.from(accountId, 'base64url').toString('utf8').split(':')[1];
    const [{ n }]: { n: number }[] = await hub.hub.db.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE subject_id = $1 AND action = 'account.revokeToken'`,
      [uuid],
    );
    expect(n).toBe(1);
  });

  it('is FORBIDDEN to agency accounts, supervisors included, and UNAUTHENTICATED without a token', async () => {
    const accountId = await accountIdOf(station.token);
    expect(codeOf(await hub.request(RevokeAccessTokenDocument, { accountId }, station.supervisorToken))).toBe('FORBIDDEN');
    expect(codeOf(await hub.request(RevokeAccessTokenDocument, { accountId }, station.token))).toBe('FORBIDDEN');
    expect(codeOf(await hub.request(RevokeAccessTokenDocument, { accountId }))).toBe('UNAUTHENTICATED');
    expect((await hub.ok(ViewerDocument, {}, station.token)).viewer.account!.id).toBe(accountId);
  });

  it('refuses an id that is not an account id with BAD_USER_INPUT, and an unknown account with NOT_FOUND', async () => {
    for (const accountId of ['garbage', station.id]) {
      const res = await hub.request(RevokeAccessTokenDocument, { accountId }, hub.adminToken);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'accountId' });
    }
    const unknown = await hub.request(RevokeAccessTokenDocument, { accountId: toGlobalId('Account', randomUUID()) }, hub.adminToken);
    expect(codeOf(unknown)).toBe('NOT_FOUND');
  });
});

describe('revokeAccessToken on open WebSockets', () => {
  const sockets: OpenSocket[] = [];
  const open = (url: string, token: string) => {
    const s = openSocket(url, token);
    sockets.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.client.dispose()));
  });

  it('closes the revoked account’s connections with 4403 Forbidden, and only those', async () => {
    const police = await anAgency(hub, 'POLICE_STATION', '雁峰派出所', '430406');
    const revoked = [open(hub.url, police.token), open(hub.url, police.token)];
    const bystander = open(hub.url, police.supervisorToken);
    await within(5000, 'connected', Promise.all([...revoked, bystander].map((s) => s.connected)));

    await hub.ok(RevokeAccessTokenDocument, { accountId: await accountIdOf(police.token) }, hub.adminToken);

    const codes = await within(2000, 'closed after revoke', Promise.all(revoked.map((s) => s.closed)));
    expect(codes).toEqual([4403, 4403]);
    expect(await viewerOver(bystander.client)).toEqual({ viewer: { isAdmin: false } });
  });

  it('refuses a new connection with the revoked token', async () => {
    const police = await anAgency(hub, 'POLICE_STATION', '蒸湘派出所', '430406');
    await hub.ok(RevokeAccessTokenDocument, { accountId: await accountIdOf(police.token) }, hub.adminToken);
    const late = open(hub.url, police.token);
    expect(await within(5000, 'closed', late.closed)).toBe(4403);
  });

  describe('with a second hub process on the same database', () => {
    let other: Hub;
    beforeAll(async () => {
      other = await secondHub({ HUB_WS_ACCOUNT_RECHECK: '200ms' });
    });
    afterAll(() => other.stop());

    it('closes connections held by the other process at its next re-check', async () => {
      const police = await anAgency(hub, 'POLICE_STATION', '石鼓派出所', '430406');
      const elsewhere = open(other.url, police.token);
      const bystander = open(other.url, police.supervisorToken);
      await within(5000, 'connected', Promise.all([elsewhere.connected, bystander.connected]));

      await hub.ok(RevokeAccessTokenDocument, { accountId: await accountIdOf(police.token) }, hub.adminToken);

      expect(await within(3000, 'closed by the re-check', elsewhere.closed)).toBe(4403);
      expect(await viewerOver(bystander.client)).toEqual({ viewer: { isAdmin: false } });
    });
  });
});

describe('tokens a process has seen (its token cache) and revocation', () => {
  let other: Hub;
  let otherUrl: string;
  beforeAll(async () => {
    other = await secondHub({ HUB_WS_ACCOUNT_RECHECK: '1h', HUB_TOKEN_CACHE: '1500ms' });
    otherUrl = other.url;
  });
  afterAll(() => other.stop());

  const viewerThere = async (token: string) => {
    const res = await fetch(otherUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { account { id } } }' }),
    });
    const body = (await res.json()) as {
      data?: { viewer: { account: { id: string } | null } };
      errors?: { extensions?: { code?: string } }[];
    };
    return body.errors?.[0]?.extensions?.code ?? body.data!.viewer.account!.id;
  };
  /** The first moment `check` holds, in ms from now; fails past `ms`. */
  const heldAfter = async (ms: number, check: () => Promise<boolean>) => {
    const start = Date.now();
    while (!(await check())) {
      if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return Date.now() - start;
  };
  const revokeInSql = (accountId: string) =>
    hub.hub.db.query(`UPDATE account SET revoked_at = now() WHERE id = $1`, [
      Buffer.from(accountId, 'base64url').toString('utf8').split(':')[1],
    ]);

  it('another process that has just used a token refuses it as soon as the revocation commits (its NOTIFY), not after the cache bound', async () => {
    const police = await anAgency(hub, 'POLICE_STATION', '蒸湘派出所', '430406');
    const accountId = await accountIdOf(police.token);
    expect(await viewerThere(police.token)).toBe(accountId); // now in the other process's cache
    expect(await viewerThere(police.token)).toBe(accountId);

    await hub.ok(RevokeAccessTokenDocument, { accountId }, hub.adminToken);
    const ms = await heldAfter(1_400, async () => (await viewerThere(police.token)) === 'UNAUTHENTICATED');
    expect(ms).toBeLessThan(500);
    expect(await viewerThere(police.supervisorToken)).not.toBe('UNAUTHENTICATED');
  });

  it('a revocation no notification announced (written while nobody listened) stops the token within HUB_TOKEN_CACHE', async () => {
    const home = await anAgency(hub, 'WELFARE_HOME', '珠晖区福利院', '430406');
    const accountId = await accountIdOf(home.token);
    expect(await viewerThere(home.token)).toBe(accountId);
    await revokeInSql(accountId);
    expect(await viewerThere(home.token)).toBe(accountId); // still cached: nothing told the process
    await heldAfter(3_000, async () => (await viewerThere(home.token)) === 'UNAUTHENTICATED');
  });

  it('while its listening connection is down a process looks every token up, so a revocation it cannot hear still stops the token at once', async () => {
    const office = await anAgency(hub, 'CIVIL_AFFAIRS_OFFICE', '雁峰区民政局', '430406');
    const accountId = await accountIdOf(office.token);
    expect(await viewerThere(office.token)).toBe(accountId);
    // Every process's listening connection is cut (both hubs here): revocations sent now would not be heard.
    await hub.hub.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
      [LISTENER_APPLICATION_NAME],
    );
    // pg_terminate_backend only signals: until the backends have exited, their sockets (and so what each process
    // knows of them) may still be open. Under the full suite's load the request below could otherwise overtake it.
    for (let i = 0; i < 200; i++) {
      const [{ n }] = (await hub.hub.db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND backend_start < now() - interval '0.5 s' AND state IS NOT NULL`,
        [LISTENER_APPLICATION_NAME],
      )) as { n: number }[];
      if (n === 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await revokeInSql(accountId);
    expect(await viewerThere(office.token)).toBe('UNAUTHENTICATED');
  });
});

describe('tokens in the log', () => {
  it('never appear, neither after issuing and revoking tokens nor after a request with a bad token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    // The most talkative level, so that anything that would log a token does.
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace', HUB_EXPIRY_SWEEP: '1h' });
    const verbose = await startHub({
      config,
      logger: createLogger('trace', sink),
      databaseUrl: hub.database.url,
      adminToken: hub.adminToken,
      idNumberKey: randomBytes(32),
    });
    try {
      const post = (query: string, variables: unknown, token: string) =>
        fetch(verbose.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
        }).then((r) => r.json() as Promise<{ data?: Record<string, { token?: string; account?: { id: string } }> }>);
      const { data: created } = (await post(
        'mutation($i: CreateAgencyInput!) { createAgency(input: $i) { id } }',
        { i: { kind: 'POLICE_STATION', name: '日志派出所', regionCode: '430406' } },
        hub.adminToken,
      )) as { data: { createAgency: { id: string } } };
      const issued = (await post(
        'mutation($i: IssueAccessTokenInput!) { issueAccessToken(input: $i) { token account { id } } }',
        { i: { agencyId: created.createAgency.id, displayName: '值班民警' } },
        hub.adminToken,
      )) as { data: { issueAccessToken: { token: string; account: { id: string } } } };
      const { token, account } = issued.data.issueAccessToken;
      await post('{ viewer { isAdmin } }', {}, token);
      await post('mutation($id: ID!) { revokeAccessToken(accountId: $id) { id } }', { id: account.id }, hub.adminToken);
      const bad = `hub_${randomBytes(32).toString('base64url')}`;
      await post('{ viewer { isAdmin } }', {}, bad);
      await post('{ viewer { isAdmin } }', {}, token); // now revoked

      const log = [...lines, ...hub.logLines].join('\n');
      for (const secret of [token, bad, hub.adminToken]) {
        expect(log).not.toContain(secret);
        expect(log).not.toContain(secret.slice(4, 24)); // not even a piece of it
      }
    } finally {
      await verbose.stop();
    }
  });
});
