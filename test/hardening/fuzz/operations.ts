/**
 * Schema-driven operations for the fuzzer: read schema/schema.graphql with
 * graphql-js and build random requests from it — right and wrong, with
 * random selections to a bounded depth, arguments inline or as variables,
 * values of the right and of the wrong type, required arguments left out,
 * unknown fields and arguments, broken syntax, and requests that are broken
 * at the HTTP level (not JSON, wrong shapes, too big, too deep).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { Rng } from './random';
import {
  cursorLike,
  dateTimeLike,
  icd10Like,
  idLike,
  idNumberLike,
  regionLike,
  weirdJson,
  weirdNumber,
  weirdString,
  type NodeType,
  type Pools,
} from './values';

/** Who sends the request: no token, a token the hub never issued, the administrator, or an account of one of the agencies. */
export const CALLERS = [
  'none',
  'bogus',
  'admin',
  'station',
  'stationSupervisor',
  'police',
  'hospital',
  'welfareHome',
  'originOffice',
  'otherStation',
] as const;
export type Caller = (typeof CALLERS)[number];

export interface FuzzRequest {
  index: number;
  caller: Caller;
  method: 'GET' | 'POST';
  /** For GET: the query string (without '?'). */
  search?: string;
  contentType: string;
  body?: string;
  /** What was generated, for the failure report. */
  kind: 'operation' | 'broken-syntax' | 'http';
}

export function loadSchema(file = path.join(__dirname, '..', '..', '..', 'schema', 'schema.graphql')): GraphQLSchema {
  return buildSchema(readFileSync(file, 'utf8'));
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** Which kind of object an ID argument or input field names, by its name. */
function idTypeOf(name: string): NodeType | undefined {
  if (name === 'personId') return 'Person';
  if (name === 'caseId') return 'RescueCase';
  if (name === 'referralId') return 'Referral';
  if (name === 'accountId') return 'Account';
  if (/agencyId$|^stationId$|^toAgencyId$|^escortAgencyId$/i.test(name)) return 'Agency';
  return undefined;
}

const PLAIN_TEXTS = [
  '王某',
  '张建国',
  '李警官',
  '群众甲',
  '二病区',
  '12',
  '长湖路与解放路口',
  '男，约四十岁，言语混乱',
  '邵阳',
  'G1234',
  '父子',
  'k1',
  'retry-1',
  'Ada Lovelace',
  '  王某  ',
];

/** A text input by what it holds (its field or argument name). */
function stringFor(rng: Rng, pools: Pools, hint: string): string {
  if (/idNumber$/.test(hint)) return idNumberLike(rng);
  if (/regionCode$/i.test(hint)) return regionLike(rng);
  if (hint === 'icd10Code') return icd10Like(rng);
  if (hint === 'after') return cursorLike(rng, pools);
  if (hint === 'shortCode') return rng.pick(['HY', 'GZ', 'S430406', 'hy', 'H', 'ABCDEFGHI', '1HY', weirdString(rng)]);
  if (hint === 'idempotencyKey') return rng.chance(0.7) ? rng.pick(['k1', 'k2', 'k3', 'retry']) : weirdString(rng);
  return rng.chance(0.6) ? rng.pick(PLAIN_TEXTS) : weirdString(rng);
}

function intFor(rng: Rng, hint: string): number {
  if (rng.chance(0.15)) return weirdNumber(rng);
  if (hint === 'first') return rng.pick([1, 2, 5, 20, 50, 100, 0, 101, -1]);
  if (hint === 'limit') return rng.pick([1, 10, 50, 0, 51]);
  if (hint === 'birthYear') return rng.int(1890, 2030);
  if (hint === 'expectedVersion') return rng.int(0, 6);
  return weirdNumber(rng);
}

/** A value for an input type: usually of that type, sometimes not; `hint` is the argument or field name. */
export function valueFor(rng: Rng, pools: Pools, type: GraphQLInputType, hint: string, depth = 0): unknown {
  if (rng.chance(0.04)) return weirdJson(rng);
  if (isNonNullType(type)) return rng.chance(0.02) ? null : valueFor(rng, pools, type.ofType, hint, depth);
  if (rng.chance(0.03)) return null;
  if (isListType(type)) {
    if (rng.chance(0.1)) return valueFor(rng, pools, type.ofType, hint, depth); // coerced to a list of one
    const n = hint === 'escortNames' ? rng.pick([0, 1, 2, 3, 10, 11]) : rng.int(0, 3);
    return Array.from({ length: n }, () => valueFor(rng, pools, type.ofType, hint, depth + 1));
  }
  if (isEnumType(type)) {
    return rng.chance(0.93) ? rng.pick(type.getValues()).name : rng.pick(['male', 'BOGUS', '', weirdString(rng)]);
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return {};
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      const required = isNonNullType(field.type);
      if (rng.chance(required ? 0.95 : 0.5)) out[field.name] = valueFor(rng, pools, field.type, field.name, depth + 1);
    }
    if (rng.chance(0.03)) out[rng.pick(['bogus', 'id', '__typename', 'person'])] = weirdJson(rng);
    return out;
  }
  switch (type.name) {
    case 'ID':
      return idLike(rng, pools, idTypeOf(hint));
    case 'String':
      return stringFor(rng, pools, hint);
    case 'Int':
      return intFor(rng, hint);
    case 'Float':
      return rng.pick([0, 1.5, -1, 1e308]);
    case 'Boolean':
      return rng.chance(0.5);
    case 'DateTime':
      return dateTimeLike(rng);
    default:
      return weirdString(rng);
  }
}

/** The value as a GraphQL literal; enum values bare when the type expects an enum. */
export function printLiteral(value: unknown, type: GraphQLInputType | undefined): string {
  const named = type ? getNamedType(type) : undefined;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return named && isEnumType(named) && NAME.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '0';
  if (typeof value === 'boolean') return String(value);
  const itemType = type && isNonNullType(type) ? type.ofType : type;
  if (Array.isArray(value))
    return `[${value.map((v) => printLiteral(v, itemType && isListType(itemType) ? itemType.ofType : undefined)).join(', ')}]`;
  const fields = named && isInputObjectType(named) ? named.getFields() : {};
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${NAME.test(k) ? k : 'bad_name'}: ${printLiteral(v, fields[k]?.type)}`)
    .join(', ')}}`;
}

class OperationBuilder {
  private readonly variableDefs: string[] = [];
  readonly variables: Record<string, unknown> = {};
  private aliasCount = 0;

  constructor(
    private readonly rng: Rng,
    private readonly schema: GraphQLSchema,
    private readonly pools: Pools,
  ) {}

  get header(): string {
    return this.variableDefs.length ? `(${this.variableDefs.join(', ')})` : '';
  }

  private argument(arg: GraphQLArgument): string | undefined {
    const { rng } = this;
    const required = isNonNullType(arg.type);
    if (!rng.chance(required ? 0.93 : 0.5)) return undefined;
    const value = valueFor(rng, this.pools, arg.type, arg.name);
    if (rng.chance(0.5)) return `${arg.name}: ${printLiteral(value, arg.type)}`;
    const name = `v${this.variableDefs.length}`;
    // Now and then a declared type that does not fit the argument.
    const declared = rng.chance(0.04) ? rng.pick(['String', 'Int!', 'ID', '[String]', 'Boolean!', 'Bogus']) : String(arg.type);
    this.variableDefs.push(`$${name}: ${declared}`);
    if (!rng.chance(0.04)) this.variables[name] = value;
    return `${arg.name}: $${name}`;
  }

  /** @skip / @include, right (a literal or a variable) and wrong (no `if`, a string, an unknown directive). */
  private directive(): string {
    const { rng } = this;
    const name = rng.pick(['skip', 'include']);
    switch (rng.int(0, 5)) {
      case 0:
        return `@${name}(if: ${rng.pick(['true', 'false'])})`;
      case 1:
      case 2: {
        const v = `v${this.variableDefs.length}`;
        this.variableDefs.push(`$${v}: ${rng.pick(['Boolean!', 'Boolean!', 'Boolean', 'String'])}`);
        if (!rng.chance(0.2)) this.variables[v] = rng.pick([true, false, null, 'yes']);
        return `@${name}(if: $${v})`;
      }
      case 3:
        return `@${name}`;
      case 4:
        return `@${name}(if: ${rng.pick(['"true"', '1', 'null', 'TRUE'])})`;
      default:
        return rng.pick(['@deprecated', '@bogus', '@specifiedBy(url: "x")', `@${name}(if: true) @${name}(if: false)`]);
    }
  }

  /** A field at `depth` (root fields: 0); an object-typed one only while its selection stays within `maxDepth`. */
  field(field: GraphQLField<unknown, unknown>, depth: number, maxDepth: number, alias = ''): string | undefined {
    const { rng } = this;
    const named = getNamedType(field.type);
    if (isCompositeType(named) && depth >= maxDepth) return undefined;
    const args = field.args.map((a) => this.argument(a)).filter((a): a is string => a !== undefined);
    if (rng.chance(0.01)) args.push(`${rng.pick(['bogus', 'id', 'first'])}: ${printLiteral(weirdJson(rng), undefined)}`);
    if (!alias && rng.chance(0.1)) alias = `a${this.aliasCount++}: `;
    let text = `${alias}${field.name}${args.length ? `(${args.join(', ')})` : ''}`;
    if (rng.chance(0.05)) text += ` ${this.directive()}`;
    if (isCompositeType(named)) {
      if (!rng.chance(0.01)) text += ` ${this.selectionSet(named, depth + 1, maxDepth)}`;
    } else if (rng.chance(0.01)) {
      text += ' { id }';
    }
    return text;
  }

  selectionSet(type: GraphQLCompositeType, depth: number, maxDepth: number): string {
    const { rng } = this;
    const parts: string[] = [];
    if (isObjectType(type) || isInterfaceType(type)) {
      const fields = Object.values(type.getFields());
      const wanted = rng.int(1, Math.min(4, fields.length));
      for (let i = 0; i < wanted * 2 && parts.length < wanted; i++) {
        const printed = this.field(rng.pick(fields), depth, maxDepth);
        if (printed) parts.push(printed);
      }
      if (parts.length === 0) {
        const leaf = fields.find((f) => isLeafType(getNamedType(f.type)));
        parts.push(leaf ? leaf.name : '__typename');
      }
    }
    if (isInterfaceType(type) && rng.chance(0.4)) {
      const impl = rng.pick(this.schema.getPossibleTypes(type));
      parts.push(`... on ${impl.name} ${this.selectionSet(impl, depth, maxDepth)}`);
    }
    if (rng.chance(0.1)) parts.push('__typename');
    if (rng.chance(0.02)) parts.push(rng.pick(['bogusField', 'password', 'idNumberCipher', '__schema { types { name } }']));
    return `{ ${parts.join(' ')} }`;
  }
}

function rootOperation(
  rng: Rng,
  schema: GraphQLSchema,
  pools: Pools,
  only?: 'subscription',
): { query: string; variables: Record<string, unknown> } {
  const roll = only ? 1 : rng.next();
  const [keyword, root] =
    roll < 0.55
      ? (['query', schema.getQueryType()] as const)
      : roll < 0.96
        ? (['mutation', schema.getMutationType()] as const)
        : (['subscription', schema.getSubscriptionType()] as const);
  const b = new OperationBuilder(rng, schema, pools);
  const maxDepth = rng.chance(0.05) ? 14 : rng.int(1, 4);
  const fields = Object.values((root as GraphQLObjectType).getFields());
  const selections: string[] = [];
  const count = rng.chance(0.85) ? 1 : rng.int(2, 3);
  for (let i = 0; i < count; i++) {
    if (rng.chance(0.02)) {
      selections.push(rng.pick(['bogusRoot', 'users', 'persons { id }']));
      continue;
    }
    // Two root fields of one name need aliases, or the document is invalid (which is fine, now and then).
    const printed = b.field(rng.pick(fields), 0, maxDepth, i > 0 && !rng.chance(0.1) ? `r${i}: ` : '');
    if (printed) selections.push(printed);
  }
  const name = rng.chance(0.3) ? ` Fuzz${rng.int(0, 99)}` : '';
  const head = name || b.header ? `${keyword}${name}${b.header} ` : keyword === 'query' && rng.chance(0.5) ? '' : `${keyword} `;
  return { query: `${head}{ ${selections.join(' ')} }`, variables: b.variables };
}

/** Small mutilations of a valid document: cut short, a character lost, a brace too many. */
function breakSyntax(rng: Rng, query: string): string {
  const at = rng.int(0, query.length);
  switch (rng.int(0, 3)) {
    case 0:
      return query.slice(0, at);
    case 1:
      return query.slice(0, at) + query.slice(at + 1);
    case 2:
      return query.slice(0, at) + rng.pick(['{', '}', '(', ')', '"', '$', '@skip', '...', '#', '\u0000', '"""']) + query.slice(at);
    default:
      return rng.pick(['', ' ', '{', '}', 'query', 'mutation { }', '{ viewer { isAdmin } } }', '"""', '{ viewer(x: 1e999) { isAdmin } }']);
  }
}

/** Requests broken before GraphQL: not JSON, wrong shapes, too big, too deep, too many tokens or aliases. */
function brokenHttp(rng: Rng): Omit<FuzzRequest, 'index' | 'caller' | 'kind'> {
  const json = 'application/json';
  const post = (body: string, contentType = json) => ({ method: 'POST' as const, contentType, body });
  switch (rng.int(0, 15)) {
    case 0:
      return post('not json');
    case 1:
      return post(JSON.stringify({ query: 5 }));
    case 2:
      return post(JSON.stringify({ query: '{ viewer { isAdmin } }', variables: 'x' }));
    case 3:
      return post(JSON.stringify([{ query: '{ viewer { isAdmin } }' }, { query: '{ viewer { isAdmin } }' }]));
    case 4:
      return post('{}');
    case 5:
      return post(
        JSON.stringify({
          query: 'query A { viewer { isAdmin } } query B { viewer { isAdmin } }',
          operationName: rng.pick([null, 'C', 'A', 5]),
        }),
      );
    case 6:
      return post(
        JSON.stringify({ query: '{ viewer { isAdmin } }' }),
        rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/graphql', '']),
      );
    case 7:
      return {
        method: 'GET',
        contentType: json,
        search: `query=${encodeURIComponent(rng.pick(['{ viewer { isAdmin } }', 'mutation { createAgency(input: {kind: WELFARE_HOME, name: "x", regionCode: "430406"}) { id } }', '{']))}`,
      };
    case 8:
      return post(JSON.stringify({ query: `{ ${'viewer { isAdmin } '.repeat(2000)} }` }));
    case 9:
      return post(JSON.stringify({ query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { isAdmin }`).join(' ')} }` }));
    case 10: {
      let nested = 'id';
      for (let i = 0; i < 8; i++) nested = `cases { person { ${nested} } }`;
      return post(JSON.stringify({ query: `{ cases(first: 100) { edges { node { person { ${nested} } } } } }` }));
    }
    case 11:
      return post(
        JSON.stringify({
          query:
            '{ cases(first: 100) { edges { node { referrals { history { referral { person { custodyHistory { referral { escortNames } } } } } } } } } }',
        }),
      );
    case 12:
      return post(JSON.stringify({ query: `{ viewer { isAdmin } }${' '.repeat(rng.pick([10, 1_100_000]))}` }));
    case 13:
      return post(JSON.stringify({ query: '{ viewer { isAdmin } }', extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }));
    case 14:
      return post(JSON.stringify({ query: '{ __schema { types { name fields { name } } } }' }));
    default:
      return post(JSON.stringify({ query: 'fragment F on Query { ...F } { ...F }' }));
  }
}

/** Operation `index` of the run seeded `seed`: the same pair always gives the same request (for the same pools). */
export function generateRequest(seed: number, index: number, schema: GraphQLSchema, pools: Pools): FuzzRequest {
  const rng = Rng.forOperation(seed, index);
  const caller = rng.pick(CALLERS);
  const roll = rng.next();
  if (roll < 0.06) return { index, caller, kind: 'http', ...brokenHttp(rng) };
  const { query, variables } = rootOperation(rng, schema, pools);
  if (roll < 0.12) {
    return {
      index,
      caller,
      kind: 'broken-syntax',
      method: 'POST',
      contentType: 'application/json',
      body: JSON.stringify({ query: breakSyntax(rng, query), variables }),
    };
  }
  return { index, caller, kind: 'operation', method: 'POST', contentType: 'application/json', body: JSON.stringify({ query, variables }) };
}

/** A subscription for the WebSocket (graphql-ws): built from the schema's Subscription type like the rest. */
export interface FuzzSubscription {
  index: number;
  caller: Caller;
  query: string;
  variables: Record<string, unknown>;
}

export function generateSubscription(seed: number, index: number, schema: GraphQLSchema, pools: Pools): FuzzSubscription {
  // A stream of its own, apart from the HTTP requests' (index offset), so that either can grow without moving the other.
  const rng = Rng.forOperation(seed ^ 0x5bd1e995, index);
  const caller = rng.pick(CALLERS);
  const { query, variables } = rootOperation(rng, schema, pools, rng.chance(0.9) ? 'subscription' : undefined);
  return { index, caller, query: rng.chance(0.05) ? breakSyntax(rng, query) : query, variables };
}
