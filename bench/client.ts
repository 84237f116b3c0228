import fs from 'node:fs';
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

/** One POST; throws on an HTTP error or any GraphQL error (the bench checks answers before it measures them). */
export async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(token) },
    body: requestBody(query, variables),
  });
  const text = await res.text();
  let json: GraphQLResult<T>;
  try {
    json = JSON.parse(text) as GraphQLResult<T>;
  } catch {
    throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
  if (!res.ok || json.errors?.length) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
  return json.data as T;
}

/** The global id the hub gives a row: base64url('<Type>:<uuid>') (src/shared/relay.ts). */
export function globalId(type: 'Agency' | 'Person' | 'RescueCase' | 'Referral', uuid: string): string {
  return Buffer.from(`${type}:${uuid}`).toString('base64url');
}
