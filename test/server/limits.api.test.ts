import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  parse,
  typeFromAST,
  type FormattedExecutionResult,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { checkOperation, estimateCost, queryLimits } from '../../src/server/limits';
import { createSchema } from '../../src/server/schema';
import { loadConfig } from '../../src/shared/config';
import { startTestHub, type TestHub } from '../support/hub';

type Body = { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };

const post = async (hub: TestHub, body: unknown, token?: string) => {
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Body };
};

/** One operation over graphql-ws: its result, or the errors it was refused with. */
function overWebSocket(client: Client, query: string): Promise<FormattedExecutionResult> {
  return new Promise((resolve, reject) => {
    let result: FormattedExecutionResult = {};
    client.subscribe(
      { query },
      {
        next: (r) => (result = r as FormattedExecutionResult),
        error: (e) => (Array.isArray(e) ? resolve({ errors: e }) : reject(e)),
        complete: () => resolve(result),
      },
    );
  });
}

describe('query limits on a hub with small limits', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      HUB_MAX_DEPTH: '3',
      HUB_MAX_ALIASES: '2',
      HUB_MAX_TOKENS: '100',
      HUB_MAX_COST: '20',
      HUB_MAX_BODY_BYTES: '2000',
    });
  });
  afterAll(() => hub.stop());

  const tooComplex = (body: Body) => body.errors?.[0]?.extensions;

  describe('depth', () => {
    it('accepts an operation at the limit', async () => {
      const res = await post(hub, { query: '{ viewer { account { displayName } } }' }, hub.adminToken);
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    });

    it('refuses one level deeper with 400 QUERY_TOO_COMPLEX naming the measure and the limit', async () => {
      const res = await post(hub, { query: '{ viewer { account { agency { name } } } }' }, hub.adminToken);
      expect(res.status).toBe(400);
      expect(tooComplex(res.body)).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure: 'depth', limit: 3 });
      expect(res.body.data).toBeUndefined();
    });

    it('counts the depth inside fragments', async () => {
      const query = 'query { viewer { ...V } } fragment V on Viewer { account { agency { name } } }';
      const res = await post(hub, { query }, hub.adminToken);
      expect(tooComplex(res.body)).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure: 'depth' });
    });
  });

  describe('aliases', () => {
    it('accepts as many aliases as the limit and refuses one more', async () => {
      const ok = await post(hub, { query: '{ a: viewer { isAdmin } b: viewer { isAdmin } }' }, hub.adminToken);
      expect(ok.body.errors).toBeUndefined();
      const res = await post(hub, { query: '{ a: viewer { isAdmin } b: viewer { isAdmin } c: viewer { isAdmin } }' }, hub.adminToken);
      expect(res.status).toBe(400);
      expect(tooComplex(res.body)).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure: 'aliases', limit: 2 });
    });
  });

  describe('tokens', () => {
    it('refuses a document longer than the token limit before parsing it', async () => {
      const query = `{ viewer { ${'isAdmin '.repeat(100)} } }`;
      const res = await post(hub, { query }, hub.adminToken);
      expect(res.status).toBe(400);
      expect(tooComplex(res.body)).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure: 'tokens', limit: 100 });
    });

    it('leaves syntax errors to the parser', async () => {
      const res = await post(hub, { query: '{ viewer { isAdmin ' }, hub.adminToken);
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    });
  });

  describe('cost', () => {
    it('accepts an operation within the budget', async () => {
      // agencies is an unpaged list, estimated at 10 rows: 1 + 10 × 1
      const res = await post(hub, { query: '{ agencies { id } }' }, hub.adminToken);
      expect(res.body.errors).toBeUndefined();
    });

    it('refuses one over the budget and tells its estimated cost', async () => {
      const res = await post(hub, { query: '{ agencies { id name } }' }, hub.adminToken);
      expect(res.status).toBe(400);
      expect(tooComplex(res.body)).toEqual({ code: 'QUERY_TOO_COMPLEX', measure: 'cost', limit: 20, cost: 21 });
    });
  });

  describe('request bodies', () => {
    it('answers a body over HUB_MAX_BODY_BYTES with 413 and a JSON error, not a server error', async () => {
      const res = await post(hub, { query: '{ viewer { isAdmin } }', variables: { padding: 'x'.repeat(3000) } }, hub.adminToken);
      expect(res.status).toBe(413);
      expect(res.contentType).toMatch(/application\/json/);
      expect(tooComplex(res.body)).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure: 'bytes', limit: 2000 });
    });

    it('answers a body that is not JSON with 400 BAD_REQUEST as JSON', async () => {
      const res = await post(hub, '{"query": ', hub.adminToken);
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    });
  });

  describe('over graphql-ws', () => {
    let client: Client;
    beforeAll(() => {
      client = createClient({
        url: hub.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${hub.adminToken}` },
        retryAttempts: 0,
      });
    });
    afterAll(() => client.dispose());

    it('runs an operation within the limits', async () => {
      expect(await overWebSocket(client, '{ viewer { isAdmin } }')).toEqual({ data: { viewer: { isAdmin: true } } });
    });

    it.each([
      ['depth', '{ viewer { account { agency { name } } } }'],
      ['aliases', '{ a: viewer { isAdmin } b: viewer { isAdmin } c: viewer { isAdmin } }'],
      ['tokens', `{ viewer { ${'isAdmin '.repeat(100)} } }`],
      ['cost', '{ agencies { id name } }'],
    ])('refuses an operation past the %s limit with QUERY_TOO_COMPLEX', async (measure, query) => {
      const res = await overWebSocket(client, query);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', measure });
      expect(res.data).toBeUndefined();
    });

    it('hides field suggestions there too', async () => {
      const res = await overWebSocket(client, '{ viewr { isAdmin } }');
      expect(res.errors?.[0]?.message).toBeDefined();
      expect(res.errors?.[0]?.message).not.toMatch(/Did you mean/);
    });
  });
});

describe('introspection and schema details on a hub with the default limits', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.stop());

  it('answers the standard introspection query for an authenticated caller', async () => {
    const res = await post(hub, { query: getIntrospectionQuery() }, hub.adminToken);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toHaveProperty('__schema.queryType.name', 'Query');
  });

  it.each([
    ['__schema', '{ __schema { queryType { name } } }'],
    ['__type', '{ __type(name: "Person") { fields { name } } }'],
    ['__schema inside a fragment', 'query { ...Q } fragment Q on Query { __schema { types { name } } }'],
  ])('refuses %s to an anonymous caller with 401 UNAUTHENTICATED', async (_what, query) => {
    const res = await post(hub, { query });
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.body.data).toBeUndefined();
  });

  it('still tells an anonymous caller the __typename of what it asked for', async () => {
    const res = await post(hub, { query: '{ __typename }' });
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('hides field suggestions from an anonymous caller', async () => {
    const res = await post(hub, { query: '{ viewr { isAdmin } agencis { id } }' });
    expect(res.status).toBe(400);
    expect(res.body.errors?.length).toBeGreaterThan(0);
    for (const e of res.body.errors ?? []) {
      expect(e.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(e.message).not.toMatch(/Did you mean|viewer|agencies/);
    }
  });
});

describe('the cost estimate', () => {
  const schema = buildSchema(`
    type Query { items(first: Int, last: Int): ItemConnection!  tags: [String!]!  owners: [Owner!]!  item(id: ID!): Item }
    type ItemConnection { edges: [ItemEdge!]!  pageInfo: PageInfo! }
    type ItemEdge { cursor: String!  node: Item! }
    type Item { id: ID!  children(first: Int): ItemConnection! }
    type Owner { name: String! }
    type PageInfo { hasNextPage: Boolean! }
  `);
  const limits = { maxDepth: 20, maxAliases: 30, maxTokens: 5000, maxCost: 1000 };
  const costOf = (query: string, variables?: Record<string, unknown>) => estimateCost(schema, parse(query), variables);

  it('counts a connection once per requested row, without counting its edges again', () => {
    // items: 1 + 10 × (edges: 1 + node: (1 + id: 1))
    expect(costOf('{ items(first: 10) { edges { node { id } } } }')).toBe(31);
    expect(costOf('{ items(last: 10) { edges { node { id } } } }')).toBe(31);
  });

  it('reads the page size from variables, and takes the default page of 20 without one', () => {
    const q = 'query($n: Int) { items(first: $n) { edges { node { id } } } }';
    expect(costOf(q, { n: 100 })).toBe(301);
    expect(costOf(q, {})).toBe(61);
  });

  it('multiplies nested connections, so a page of pages is refused', () => {
    const nested = '{ items(first: 100) { edges { node { children(first: 100) { edges { node { id } } } } } } }';
    expect(checkOperation(schema, parse(nested), limits)?.extensions).toEqual({
      code: 'QUERY_TOO_COMPLEX',
      measure: 'cost',
      limit: 1000,
      cost: 30301,
    });
    expect(checkOperation(schema, parse('{ items(first: 100) { edges { node { id } } } }'), limits)).toBeUndefined();
  });

  it('estimates an unpaged list of objects at 10 rows and a list of scalars as one field', () => {
    expect(costOf('{ owners { name } }')).toBe(11);
    expect(costOf('{ tags }')).toBe(1);
  });

  describe('remembered per document, decided again for every page size the variables ask for', () => {
    // items(first: $n) costs 1 + n × 304 with the children included, 1 + n × 3 without them.
    const doc = parse(
      'query($n: Int = 1, $deep: Boolean!) { items(first: $n) { edges { node { id children(first: 100) @include(if: $deep) { edges { node { id } } } } } } }',
    );
    const verdict = (variables: Record<string, unknown>) => checkOperation(schema, doc, limits, variables)?.extensions?.cost ?? 'accepted';

    it('a bigger page of the same document is refused after a small one was accepted, and the other way round', () => {
      expect(verdict({ n: 1, deep: true })).toBe('accepted');
      expect(verdict({ n: 10, deep: true })).toBe(3041);
      expect(verdict({ n: 1, deep: true })).toBe('accepted');
      expect(verdict({ n: 10, deep: false })).toBe('accepted');
    });

    it('an absent page size takes its default, an explicit null the connection’s default page of 20', () => {
      expect(verdict({ deep: true })).toBe('accepted');
      expect(verdict({ n: null, deep: true })).toBe(6081);
      expect(verdict({ deep: true })).toBe('accepted');
    });

    it('a request whose variables do not fit leaves nothing behind for the next one with the same page size', () => {
      const withId = parse(
        'query($n: Int, $id: ID!) { item(id: $id) { id } items(first: $n) { edges { node { children(first: 100) { edges { node { id } } } } } } }',
      );
      expect(checkOperation(schema, withId, limits, { n: 10, id: { not: 'an id' } })).toBeUndefined(); // execution reports it
      expect(checkOperation(schema, withId, limits, { n: 10, id: 'x' })?.extensions?.measure).toBe('cost');
    });
  });

  it('does not charge for introspection', () => {
    expect(costOf(getIntrospectionQuery())).toBe(0);
  });
});

/** A value for every required variable, so that the cost of operations with arguments can be estimated. */
function sampleVariables(schema: GraphQLSchema, op: OperationDefinitionNode): Record<string, unknown> {
  const sample = (type: GraphQLInputType): unknown => {
    if (!isNonNullType(type)) return undefined;
    const named = getNamedType(type);
    if (isEnumType(named)) return named.getValues()[0].value;
    if (isInputObjectType(named)) {
      return Object.fromEntries(Object.values(named.getFields()).map((f) => [f.name, sample(f.type)]));
    }
    return { Int: 1, Float: 1, Boolean: true, DateTime: '2026-01-01T00:00:00Z' }[named.name] ?? 'x';
  };
  return Object.fromEntries(
    (op.variableDefinitions ?? []).map((v) => [v.variable.name.value, sample(typeFromAST(schema, v.type as never) as GraphQLInputType)]),
  );
}

describe('the default limits', () => {
  it('let every operation in test/operations through', async () => {
    const schema = await createSchema();
    const limits = queryLimits(loadConfig({}));
    const dir = path.join(__dirname, '..', 'operations');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.graphql'))) {
      const document = parse(readFileSync(path.join(dir, file), 'utf8'));
      for (const def of document.definitions) {
        if (def.kind !== 'OperationDefinition') continue;
        const variables = sampleVariables(schema, def);
        const operation = def.name?.value;
        const refused = checkOperation(schema, document, limits, variables, operation);
        expect({ operation, refused: refused?.extensions }).toEqual({ operation, refused: undefined });
        expect({ operation, cost: estimateCost(schema, document, variables, operation) }).toEqual({ operation, cost: expect.any(Number) });
      }
    }
  });
});
