import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A document from bench/<name>.graphql. */
export function document(name: string): string {
  return fs.readFileSync(path.join(__dirname, `${name}.graphql`), 'utf8');
}

export function requestBody(query: string, variables: Record<string, unknown>): string {
  return JSON.stringify({ query, variables });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * Kept-alive connections for the bench's own requests (the hand-off workers). The load generator shares the two
 * cores with the hub and PostgreSQL, so what it spends per request is taken from what is measured: with the global
 * fetch (undici behind WHATWG streams) it spent 3.5-4.5 ms of CPU per hand-off cycle, with node:http and this agent
 * 1.5-1.8 (2026-12-03, three alternating pairs in one run; bench/HISTORY.md).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });

function post(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...bearer(token) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One POST; throws on an HTTP error or any GraphQL error (the bench checks answers before it measures them). */
export async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const { status, text } = await post(url, token, requestBody(query, variables));
  let json: GraphQLResult<T>;
  try {
    json = JSON.parse(text) as GraphQLResult<T>;
  } catch {
    throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
  }
  if (status < 200 || status >= 300 || json.errors?.length)
    throw new Error(`HTTP ${status}: ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
  return json.data as T;
}

/** The global id the hub gives a row: base64url('<Type>:<uuid>') (src/shared/relay.ts). */
export function globalId(type: 'Agency' | 'Person' | 'RescueCase' | 'Referral', uuid: string): string {
  return Buffer.from(`${type}:${uuid}`).toString('base64url');
}
