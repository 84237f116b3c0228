import http from 'node:http';
import { directPathStats } from '../../src/server/graphql-http';
import { startTestHub, type TestHub } from '../support/hub';

/**
 * The ordinary POST /graphql (JSON with a Content-Length) is answered on node:http directly
 * (src/server/graphql-http.ts); the same bytes sent chunked go through Express. Whatever the request, a
 * client must not be able to tell the two apart: same status, same content type, same body, same headers.
 */

interface Answer {
  status: number;
  contentType: string | undefined;
  body: unknown;
  rateLimited: boolean;
  requestId: boolean;
}

function send(url: string, body: string, headers: Record<string, string>, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...headers,
          ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // kept as text: the comparison shows it
          }
          resolve({
            status: res.statusCode!,
            contentType: res.headers['content-type'],
            body: parsed,
            rateLimited: typeof res.headers['x-ratelimit-remaining'] === 'string',
            requestId: typeof res.headers['x-request-id'] === 'string',
          });
        });
      },
    );
    req.on('error', reject);
    if (chunked) {
      // Two chunks, so that the body really arrives in pieces.
      const half = Math.floor(body.length / 2);
      req.write(body.slice(0, half));
      req.end(body.slice(half));
    } else req.end(body);
  });
}

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ HUB_MAX_TOKENS: '200' });
});
afterAll(() => hub.stop());

const admin = () => ({ authorization: `Bearer ${hub.adminToken}` });
const CASES: [string, string, () => Record<string, string>][] = [
  ['a query', JSON.stringify({ query: '{ agencies { id } }' }), admin],
  [
    'a query with variables and an operation name',
    JSON.stringify({
      query: 'query A($k: AgencyKind) { agencies(kind: $k) { id } }',
      operationName: 'A',
      variables: { k: 'POLICE_STATION' },
    }),
    admin,
  ],
  ['a body that is not JSON', '{"query": "{ agencies { id } }"', admin],
  ['JSON that is not an object', '"{ agencies { id } }"', admin],
  ['a batch (not allowed)', JSON.stringify([{ query: '{ agencies { id } }' }]), admin],
  ['an object without a query', JSON.stringify({ variables: {} }), admin],
  ['a syntax error', JSON.stringify({ query: '{ agencies { id }' }), admin],
  ['a field that does not exist', JSON.stringify({ query: '{ nothingHere }' }), admin],
  ['too many tokens', JSON.stringify({ query: `{ ${Array.from({ length: 120 }, (_, i) => `a${i}: __typename`).join(' ')} }` }), admin],
  [
    'a subscription with @skip',
    JSON.stringify({ query: 'subscription S($s: Boolean!) { referralEvents @skip(if: $s) { cursor } }', variables: { s: true } }),
    admin,
  ],
  ['an unknown token', JSON.stringify({ query: '{ agencies { id } }' }), () => ({ authorization: 'Bearer nobody-has-this-token' })],
  ['no token', JSON.stringify({ query: '{ agencies { id } }' }), () => ({})],
  [
    'a mutation with bad input',
    JSON.stringify({ query: 'mutation { createAgency(input: { kind: POLICE_STATION, name: "", regionCode: "43" }) { id } }' }),
    admin,
  ],
];

describe('the direct path and Express answer alike', () => {
  it.each(CASES)('%s', async (_name, body, headers) => {
    const before = directPathStats.answered;
    const direct = await send(hub.url, body, headers(), false);
    expect(directPathStats.answered).toBe(before + 1);
    const viaExpress = await send(hub.url, body, headers(), true);
    expect(directPathStats.answered).toBe(before + 1);
    expect(direct).toEqual(viaExpress);
    expect(direct.rateLimited).toBe(true);
  });

  it('gives each request its own request id, on both paths', async () => {
    for (const chunked of [false, true]) {
      const answer = await send(hub.url, CASES[0][1], admin(), chunked);
      expect(answer.status).toBe(200);
      expect(answer.requestId).toBe(true);
    }
  });

  it('leaves to Express what only Express does: other types, an oversized body, GET, /healthz', async () => {
    const before = directPathStats.answered;
    const text = await fetch(hub.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CASES[0][1] });
    expect(text.status).toBeGreaterThanOrEqual(400);
    const big = await send(hub.url, JSON.stringify({ query: `{ agencies { id } } # ${'x'.repeat(2_000_000)}` }), admin(), false);
    expect(big.status).toBe(413);
    const get = await fetch(`${hub.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    expect((await fetch(hub.url.replace('/graphql', '/healthz'))).status).toBe(200);
    expect(directPathStats.answered).toBe(before);
  });
});

describe('a token refused while the body is still arriving', () => {
  it('is answered UNAUTHENTICATED when the body ends, and its refusal is never an unhandled rejection (which would end the process)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const body = JSON.stringify({ query: '{ agencies { id } }' });
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(
          hub.url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
              authorization: 'Bearer nobody-has-this-token-either',
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          },
        );
        req.on('error', reject);
        // The headers now (the token's lookup starts and fails), the body only later.
        req.flushHeaders();
        setTimeout(() => req.end(body), 300);
      });
      expect(JSON.parse(answer.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
