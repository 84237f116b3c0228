/**
 * Runs fuzz requests against a hub and judges the answers: a request may be
 * refused in any way the contract names, never with INTERNAL_SERVER_ERROR,
 * an HTTP 5xx, a body that is not GraphQL-shaped JSON, or a BAD_USER_INPUT
 * that does not name its field.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { theSeedAgencies, type TestAgency } from '../../support/builders';
import type { TestHub } from '../../support/hub';
import type { Caller, FuzzRequest, FuzzSubscription } from './operations';
import { globalId, type NodeType, type Pools } from './values';

/** The contract's codes and graphql-js/Apollo's own refusals of a request. */
export const ACCEPTABLE_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'INVALID_TRANSITION',
  'CONFLICT',
  'RATE_LIMITED',
  'QUERY_TOO_COMPLEX',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export interface Outcome {
  status: number;
  /** Error codes in the answer ('-' for an error without one). */
  codes: string[];
  problems: string[];
  body: string;
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message?: unknown; extensions?: { code?: unknown; field?: unknown } }[];
}

/** What is wrong with an answer (nothing: []). */
export function judge(status: number, text: string): Omit<Outcome, 'body' | 'status'> {
  const problems: string[] = [];
  if (status >= 500) problems.push(`HTTP ${status}`);
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    return { codes: [], problems: [...problems, 'answer is not JSON'] };
  }
  if (!body || typeof body !== 'object' || (!('data' in body) && !Array.isArray(body.errors))) {
    problems.push('answer has neither data nor errors');
  }
  const codes = (body.errors ?? []).map((e) => (typeof e.extensions?.code === 'string' ? e.extensions.code : '-'));
  for (const [i, code] of codes.entries()) {
    if (!ACCEPTABLE_CODES.has(code)) problems.push(`error code ${code}`);
    if (code === 'BAD_USER_INPUT' && typeof body.errors![i].extensions?.field !== 'string')
      problems.push('BAD_USER_INPUT without extensions.field');
  }
  return { codes, problems };
}

export async function send(url: string, req: FuzzRequest, tokens: Record<Caller, string | undefined>): Promise<Outcome> {
  const token = tokens[req.caller];
  const res = await fetch(req.method === 'GET' ? `${url}?${req.search ?? ''}` : url, {
    method: req.method,
    headers: {
      ...(req.contentType ? { 'content-type': req.contentType } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: req.method === 'POST' ? req.body : undefined,
  });
  const body = await res.text();
  return { status: res.status, body, ...judge(res.status, body) };
}

/** graphql-ws closes with these when the server failed (4500 Internal Server Error, 1011 Internal Error). */
const SERVER_FAILURE_CLOSE_CODES = new Set([4500, 1011]);

/**
 * One subscription over graphql-ws: its first answer (a payload, a refusal,
 * the end, or the socket closing), or nothing within `waitMs` (a live
 * subscription waiting for events, which is fine).
 */
export async function subscribeOnce(url: string, req: FuzzSubscription, token: string | undefined, waitMs = 200): Promise<Outcome> {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
  let closeCode: number | undefined;
  client.on('closed', (event) => (closeCode = (event as { code?: number }).code));
  try {
    const first = await new Promise<{ kind: 'next' | 'error' | 'complete' | 'waiting'; value?: unknown }>((resolve) => {
      const timer = setTimeout(() => resolve({ kind: 'waiting' }), waitMs);
      const done = (r: { kind: 'next' | 'error' | 'complete'; value?: unknown }) => {
        clearTimeout(timer);
        resolve(r);
      };
      client.subscribe(
        { query: req.query, variables: req.variables },
        {
          next: (value) => done({ kind: 'next', value }),
          error: (value) => done({ kind: 'error', value }),
          complete: () => done({ kind: 'complete' }),
        },
      );
    });
    if (first.kind === 'next') return { status: 200, body: JSON.stringify(first.value), ...judge(200, JSON.stringify(first.value)) };
    if (first.kind === 'error') {
      const value = first.value as { code?: unknown } | { message?: string; extensions?: { code?: unknown } }[];
      const problems: string[] = [];
      if (Array.isArray(value)) {
        // Refused before execution (validation, limits, rate): graphql-js's errors, with or without a code.
        const codes = value.map((e) => e.extensions?.code).filter((c): c is string => typeof c === 'string');
        for (const c of codes) if (!ACCEPTABLE_CODES.has(c)) problems.push(`error code ${c}`);
        return { status: 200, codes, problems, body: JSON.stringify(value).slice(0, 2000) };
      }
      const code = typeof value?.code === 'number' ? value.code : closeCode;
      if (code !== undefined && SERVER_FAILURE_CLOSE_CODES.has(code)) problems.push(`WebSocket closed with ${code}`);
      return { status: 0, codes: [`close ${code ?? '?'}`], problems, body: String((value as { reason?: string })?.reason ?? '') };
    }
    return { status: 200, codes: [first.kind === 'complete' ? '(complete)' : '(waiting)'], problems: [], body: '' };
  } finally {
    try {
      await client.dispose();
    } catch {
      // A connection that was refused (4403) rejects its disposal with the close event, already judged above.
    }
  }
}

/** A plain GraphQL call for setting up the world; fails on any error. */
export async function call<T = Record<string, unknown>>(
  hub: TestHub,
  query: string,
  variables: Record<string, unknown>,
  token: string,
): Promise<T> {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await res.json()) as { data?: T; errors?: unknown[] };
  if (json.errors?.length) throw new Error(`setup failed: ${JSON.stringify(json.errors)}`);
  return json.data!;
}

export interface FuzzWorld {
  agencies: Awaited<ReturnType<typeof theSeedAgencies>>;
  tokens: Record<Caller, string | undefined>;
  pools: Pools;
}

const REQUEST = `mutation($i: RequestReferralInput!) { requestReferral(input: $i) { id } }`;
const OPEN = `mutation($i: OpenCaseInput!) { openCase(input: $i) { id person { id } } }`;
const ESCORT = `mutation($i: LogEscortedPersonInput!) { logEscortedPerson(input: $i) { id person { id } } }`;

/**
 * The seed's agencies, a few persons with cases and referrals in different
 * states, spare accounts (so that revoking one never silences the fuzzer's
 * own callers) and cursors the hub handed out. Built in a fixed order, so a
 * seed replays against the same shape of world.
 */
export async function buildWorld(hub: TestHub): Promise<FuzzWorld> {
  const a = await theSeedAgencies(hub);
  const ids: Record<NodeType, string[]> = {
    Agency: Object.values(a).map((x: TestAgency) => x.id),
    Account: [],
    Person: [],
    RescueCase: [],
    Referral: [],
  };
  const st = a.station.token;
  for (const person of [
    { gender: 'MALE', name: '王某', birthYear: 1978, originRegionCode: '430521' },
    { gender: 'FEMALE', description: '约七十岁' },
    { gender: 'UNKNOWN' },
  ]) {
    const { openCase } = await call<{ openCase: { id: string; person: { id: string } } }>(
      hub,
      OPEN,
      { i: { intakeChannel: 'SELF_PRESENTED', person } },
      st,
    );
    ids.RescueCase.push(openCase.id);
    ids.Person.push(openCase.person.id);
  }
  // One person on the way to a hospital, one asked home: referrals REQUESTED for others to act on.
  const toHospital = await call<{ requestReferral: { id: string } }>(
    hub,
    REQUEST,
    { i: { personId: ids.Person[1], kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
    st,
  );
  const home = await call<{ requestReferral: { id: string } }>(
    hub,
    REQUEST,
    { i: { personId: ids.Person[0], kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
    st,
  );
  ids.Referral.push(toHospital.requestReferral.id, home.requestReferral.id);
  for (const foundAt of ['长湖路口', '火车站广场']) {
    const { logEscortedPerson } = await call<{ logEscortedPerson: { id: string; person: { id: string } } }>(
      hub,
      ESCORT,
      { i: { person: { gender: 'MALE' }, stationId: a.station.id, foundAt, escortNames: ['李警官'] } },
      a.police.token,
    );
    ids.Referral.push(logEscortedPerson.id);
    ids.Person.push(logEscortedPerson.person.id);
  }
  for (const name of ['备用一', '备用二']) {
    const { issueAccessToken } = await call<{ issueAccessToken: { account: { id: string } } }>(
      hub,
      `mutation($i: IssueAccessTokenInput!) { issueAccessToken(input: $i) { account { id } } }`,
      { i: { agencyId: a.welfareHome.id, displayName: name } },
      hub.adminToken,
    );
    ids.Account.push(issueAccessToken.account.id);
  }
  ids.Account.push(globalId('Account', '00000000-0000-0000-0000-000000000000'));

  const cursors: string[] = [];
  const page = await call<{ cases: { pageInfo: { endCursor: string } }; referrals: { pageInfo: { endCursor: string } } }>(
    hub,
    `{ cases(first: 1) { pageInfo { endCursor } } referrals(first: 1) { pageInfo { endCursor } } }`,
    {},
    st,
  );
  const trail = await call<{ auditTrail: { pageInfo: { endCursor: string } } }>(
    hub,
    `query($p: ID!) { auditTrail(personId: $p, first: 1) { pageInfo { endCursor } } }`,
    { p: ids.Person[0] },
    a.station.supervisorToken,
  );
  cursors.push(page.cases.pageInfo.endCursor, page.referrals.pageInfo.endCursor, trail.auditTrail.pageInfo.endCursor);

  const tokens: Record<Caller, string | undefined> = {
    none: undefined,
    bogus: 'not-a-token-the-hub-ever-issued-0000',
    admin: hub.adminToken,
    station: a.station.token,
    stationSupervisor: a.station.supervisorToken,
    police: a.police.token,
    hospital: a.hospital.token,
    welfareHome: a.welfareHome.token,
    originOffice: a.originOffice.token,
    otherStation: a.otherStation.token,
  };
  return { agencies: a, tokens, pools: { ids, cursors } };
}
