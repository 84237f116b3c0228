/**
 * Schema-driven fuzzing of a running hub (test/hardening/fuzz/): thousands of
 * operations built from schema/schema.graphql, right and wrong, sent over
 * HTTP and as subscriptions over graphql-ws, with the tokens of different
 * agencies, of the administrator, a made-up one and none. None may be
 * answered with INTERNAL_SERVER_ERROR, HTTP 5xx or a failing WebSocket close,
 * and the database's invariants must hold afterwards.
 *
 * Short by default (FUZZ_OPERATIONS=1500 HTTP requests or FUZZ_SECONDS=20,
 * whichever comes first, then FUZZ_WS_OPERATIONS=300 subscriptions); the seed
 * is printed, and FUZZ_SEED=<seed> replays a run. FUZZ_CONCURRENCY (default 6)
 * requests are in flight at once.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { auditSnapshot, checkInvariants, type AuditSnapshot } from '../support/invariants';
import { startTestHub, type TestHub } from '../support/hub';
import { generateRequest, generateSubscription, loadSchema } from './fuzz/operations';
import { randomSeed } from './fuzz/random';
import { buildWorld, call, send, subscribeOnce, type FuzzWorld, type Outcome } from './fuzz/runner';

const positive = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
};
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomSeed();
const OPERATIONS = positive('FUZZ_OPERATIONS', 1500);
const WS_OPERATIONS = positive('FUZZ_WS_OPERATIONS', 300);
const SECONDS = positive('FUZZ_SECONDS', 20);
const CONCURRENCY = positive('FUZZ_CONCURRENCY', 6);

let hub: TestHub;
let world: FuzzWorld;
/** The audit log before any fuzzing: afterwards it may only have grown at its end. */
let before: AuditSnapshot;
beforeAll(async () => {
  hub = await startTestHub();
  world = await buildWorld(hub);
  before = await auditSnapshot(hub.hub.db);
});
afterAll(() => hub?.stop());

interface Failure {
  index: number;
  caller: string;
  kind: string;
  request: string;
  status: number;
  problems: string[];
  answer: string;
}

const cut = (s: string | undefined, n: number) => (s === undefined ? '' : s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

/**
 * Runs `count` generated requests, `CONCURRENCY` at a time, until `deadline`;
 * returns the failures (first 20, by index) and prints a summary.
 */
async function fuzz(
  label: string,
  count: number,
  deadline: number,
  one: (index: number) => { caller: string; kind: string; request: string; run: () => Promise<Outcome> },
): Promise<{ sent: number; failures: Failure[] }> {
  const started = Date.now();
  const failures: Failure[] = [];
  const statuses = new Map<number, number>();
  const codes = new Map<string, number>();
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const index = next++;
      const r = one(index);
      let outcome: Outcome;
      try {
        outcome = await r.run();
      } catch (err) {
        const what = err instanceof Error ? err.message : JSON.stringify(err, ['type', 'code', 'reason', 'message']);
        outcome = { status: 0, codes: [], problems: [`request failed: ${what}`], body: '' };
      }
      sent++;
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      for (const c of outcome.codes.length ? outcome.codes : ['(data)']) codes.set(c, (codes.get(c) ?? 0) + 1);
      if (outcome.problems.length) {
        failures.push({
          index,
          caller: r.caller,
          kind: r.kind,
          request: cut(r.request, 2000),
          status: outcome.status,
          problems: outcome.problems,
          answer: cut(outcome.body, 1000),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(
    `fuzz seed ${SEED} (${label}): ${sent} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${CONCURRENCY} at a time; ` +
      `status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; codes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`,
  );
  return { sent, failures: failures.sort((x, y) => x.index - y.index).slice(0, 20) };
}

describe(`fuzzing the API (seed ${SEED}; FUZZ_SEED=${SEED} replays)`, () => {
  const schema = loadSchema();

  it(
    'answers every generated HTTP request without INTERNAL_SERVER_ERROR, 5xx, or BAD_USER_INPUT without its field',
    async () => {
      const { sent, failures } = await fuzz('HTTP', OPERATIONS, Date.now() + SECONDS * 1000, (index) => {
        const req = generateRequest(SEED, index, schema, world.pools);
        return { caller: req.caller, kind: req.kind, request: req.body ?? req.search ?? '', run: () => send(hub.url, req, world.tokens) };
      });
      expect(sent).toBeGreaterThanOrEqual(Math.min(OPERATIONS, 100));
      expect(failures).toEqual([]);
    },
    (SECONDS + 60) * 1000,
  );

  it(
    'answers every generated subscription over graphql-ws without INTERNAL_SERVER_ERROR or a server-failure close',
    async () => {
      const { sent, failures } = await fuzz('WebSocket', WS_OPERATIONS, Date.now() + SECONDS * 1000, (index) => {
        const req = generateSubscription(SEED, index, schema, world.pools);
        const request = JSON.stringify({ query: req.query, variables: req.variables });
        return { caller: req.caller, kind: 'subscription', request, run: () => subscribeOnce(hub.url, req, world.tokens[req.caller]) };
      });
      expect(sent).toBeGreaterThanOrEqual(Math.min(WS_OPERATIONS, 20));
      expect(failures).toEqual([]);
    },
    (SECONDS + 60) * 1000,
  );

  it('leaves the data consistent (custody, cases, referrals, events, audit log) and the hub well, having logged no error', async () => {
    expect(await checkInvariants(hub.hub.db, { audit: before })).toEqual([]);
    const viewer = await call<{ viewer: { isAdmin: boolean } }>(hub, '{ viewer { isAdmin } }', {}, world.tokens.station!);
    expect(viewer.viewer.isAdmin).toBe(false);
    expect(hub.logLines.filter((l) => /"level":(50|60)/.test(l)).map((l) => cut(l, 500))).toEqual([]);
  });
});

/** Regression tests: each answer below was INTERNAL_SERVER_ERROR (or a silent change) before its fix. */
describe('what the fuzzer found', () => {
  const gql = async (query: string, variables: Record<string, unknown>, token?: string) => {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return {
      status: res.status,
      ...((await res.json()) as { data?: Record<string, unknown>; errors?: { extensions?: Record<string, unknown> }[] }),
    };
  };
  const cursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
  const firstError = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => res.errors?.[0]?.extensions;

  it('refuses NUL characters and lone surrogates in any text on its field (PostgreSQL cannot store NUL: 22021)', async () => {
    const open = `mutation($i: OpenCaseInput!) { openCase(input: $i) { id } }`;
    const st = world.agencies.station.token;
    for (const [input, field] of [
      [{ note: 'a\u0000b' }, 'input.note'],
      [{ idempotencyKey: 'k\u0000' }, 'input.idempotencyKey'],
      [{ person: { gender: 'MALE', name: '王\u0000某' } }, 'input.person.name'],
      [{ person: { gender: 'MALE', description: 'x\ud800' } }, 'input.person.description'],
    ] as const) {
      const res = await gql(open, { i: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'UNKNOWN' }, ...input } }, st);
      expect(firstError(res)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const find = await gql(`query($i: PersonSearchInput!) { findPersons(input: $i) { score } }`, { i: { name: 'a\u0000' } }, st);
    expect(firstError(find)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    const escort = await gql(
      `mutation($i: LogEscortedPersonInput!) { logEscortedPerson(input: $i) { id } }`,
      { i: { person: { gender: 'MALE' }, stationId: world.agencies.station.id, foundAt: '路口', escortNames: ['李\u0000'] } },
      world.agencies.police.token,
    );
    expect(firstError(escort)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.escortNames.0' });
  });

  it('refuses well-formed cursors that PostgreSQL cannot read (impossible dates, offsets, bigint overflow) on after', async () => {
    const st = world.agencies.station.token;
    for (const at of ['2026-02-31 00:00:00+00', '0000-01-01 00:00:00+00', '2026-01-01 00:00:00+16', '2026-01-01 00:00:00+05:60']) {
      const after = cursor([at, '00000000-0000-0000-0000-000000000000']);
      for (const q of [
        'query($a: String) { cases(after: $a) { totalCount } }',
        'query($a: String) { referrals(after: $a) { totalCount } }',
      ]) {
        expect(firstError(await gql(q, { a: after }, st))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
      }
    }
    const ok = await gql(
      'query($a: String) { cases(after: $a) { totalCount } }',
      { a: cursor(['2026-01-01 00:00:00.123456+15:59', '00000000-0000-0000-0000-000000000000']) },
      st,
    );
    expect(ok.errors).toBeUndefined();
    const trail = `query($p: ID!, $a: String) { auditTrail(personId: $p, after: $a) { edges { cursor } } }`;
    const sup = world.agencies.station.supervisorToken;
    const p = world.pools.ids.Person[0];
    expect(firstError(await gql(trail, { p, a: cursor(['9223372036854775808']) }, sup))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    expect((await gql(trail, { p, a: cursor(['9223372036854775807']) }, sup)).errors).toBeUndefined();
  });

  it('answers a subscription sent over HTTP with BAD_REQUEST (it is served over WebSocket)', async () => {
    const res = await gql('subscription { referralEvents { cursor } }', {}, world.agencies.station.token);
    expect(res.status).toBe(400);
    expect(firstError(res)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it("answers Apollo's own refusals of a persisted query (hash not matching, unknown version) with BAD_REQUEST, not a masked error", async () => {
    for (const persistedQuery of [
      { version: 1, sha256Hash: 'abc' },
      { version: 2, sha256Hash: 'abc' },
    ]) {
      const res = await fetch(hub.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${world.agencies.station.token}` },
        body: JSON.stringify({ query: '{ viewer { isAdmin } }', extensions: { persistedQuery } }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { extensions: unknown }[] }).errors[0].extensions).toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(hub.logLines.filter((l) => l.includes('unexpected error'))).toEqual([]);
  });

  it('answers a subscription whose variables do not fit (over graphql-ws) with BAD_USER_INPUT naming the field, not a masked error', async () => {
    const client = createClient({
      url: hub.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${world.agencies.station.token}` },
      retryAttempts: 0,
    });
    try {
      for (const variables of [{ s: 5.5 }, {}, { s: null }]) {
        const payload = await new Promise<unknown>((resolve, reject) => {
          client.subscribe(
            { query: 'subscription($s: ID!) { occupancy(stationId: $s) { inStation } }', variables },
            { next: resolve, error: reject, complete: () => undefined },
          );
        });
        expect((payload as { errors: { extensions: unknown }[] }).errors[0].extensions).toEqual({
          code: 'BAD_USER_INPUT',
          field: 'stationId',
        });
      }
    } finally {
      await client.dispose();
    }
  });

  it('answers a subscription with @skip/@include on its root field (graphql-js validation threw: HTTP 500, WebSocket 4500)', async () => {
    const st = world.agencies.station;
    const docs: [string, Record<string, unknown>][] = [
      ['subscription($s: ID!) { occupancy @skip(stationId: $s) { inStation } }', { s: st.id }],
      ['subscription { referralEvents @include { cursor } }', {}],
      [`subscription($b: Boolean!) { occupancy(stationId: "${st.id}") @skip(if: $b) { inStation } }`, { b: false }],
    ];
    for (const [query, variables] of docs) {
      const http = await gql(query, variables, st.token);
      expect(http.status).toBe(400);
      expect(firstError(http)?.code).toMatch(/^(GRAPHQL_VALIDATION_FAILED|BAD_REQUEST)$/);
    }
    const client = createClient({
      url: hub.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${st.token}` },
      retryAttempts: 0,
    });
    const closes: number[] = [];
    client.on('closed', (e) => closes.push((e as { code: number }).code));
    try {
      const first = (query: string, variables: Record<string, unknown>) =>
        new Promise<unknown>((resolve) =>
          client.subscribe({ query, variables }, { next: resolve, error: resolve, complete: () => undefined }),
        );
      // Invalid: refused in validation, the socket stays up.
      expect(JSON.stringify(await first(...docs[0]))).toContain('Unknown argument');
      expect(JSON.stringify(await first(...docs[1]))).toContain('is required');
      // Valid (a variable decides): it works; skipped, it selects nothing and is refused (graphql-js threw a TypeError).
      expect(await first(...docs[2])).toMatchObject({ data: { occupancy: { inStation: expect.any(Number) } } });
      expect(JSON.stringify(await first(docs[2][0], { b: true }))).toContain('selects no field');
      expect(JSON.stringify(await first('subscription { referralEvents @include(if: false) { cursor } }', {}))).toContain(
        'selects no field',
      );
      expect(closes).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses DateTimes that JavaScript would roll over (Feb 30, 24:00) instead of reading another instant', async () => {
    const q = 'query($s: ID!, $f: DateTime!, $t: DateTime!) { stationReport(stationId: $s, from: $f, to: $t) { total } }';
    const s = world.agencies.station.id;
    for (const bad of ['2026-02-30T00:00:00Z', '2025-02-29T00:00:00+08:00', '2026-01-01T24:00:00Z', '2026-04-31T10:00+08:00']) {
      const res = await gql(q, { s, f: bad, t: '2027-01-01T00:00:00Z' }, world.agencies.station.token);
      expect(firstError(res)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'from' });
    }
    const leap = await gql(q, { s, f: '2024-02-29T23:59:59.999+08:00', t: '2027-01-01T00:00:00Z' }, world.agencies.station.token);
    expect(leap.errors).toBeUndefined();
  });

  it('names the input field when graphql-js refuses a variable (wrong type, missing field) before the resolver', async () => {
    const sup = world.agencies.station.supervisorToken;
    const caseId = world.pools.ids.RescueCase[0];
    const extend = 'mutation($i: ExtendRescuePeriodInput!) { extendRescuePeriod(input: $i) { id } }';
    expect(firstError(await gql(extend, { i: { caseId, until: 'soon', reason: 'x' } }, sup))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.until',
    });
    expect(firstError(await gql(extend, { i: { caseId, reason: 'x' } }, sup))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.until',
    });
    expect(firstError(await gql(extend, {}, sup))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    const inline = 'mutation($u: DateTime!) { extendRescuePeriod(input: { caseId: "x", until: $u, reason: "x" }) { id } }';
    expect(firstError(await gql(inline, { u: 5 }, sup))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.until' });
    const escort = await gql(
      'mutation($i: LogEscortedPersonInput!) { logEscortedPerson(input: $i) { id } }',
      { i: { stationId: world.agencies.station.id, foundAt: 'x', escortNames: ['李警官', 5] } },
      world.agencies.police.token,
    );
    expect(firstError(escort)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.escortNames.1' });
    const skip = 'query($b: Boolean!) { viewer @skip(if: $b) { isAdmin } }';
    for (const b of ['yes', null, undefined]) {
      expect(firstError(await gql(skip, { b }, sup))).toMatchObject({ code: 'BAD_USER_INPUT', field: '@skip.if' });
    }
    expect(firstError(await gql('query($f: Int) { cases(first: $f) { totalCount } }', { f: 2 ** 40 }, sup))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
  });
});
