import { createHash, randomUUID } from 'node:crypto';
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { PARTY_SQL } from '../src/access/access.policy';
import { handoffOperation } from './limit-handoff';

/**
 * The physical limit for workloads 1 and 2: a bare node:http server that
 * answers the same requests (same body, same token, same JSON shape as the
 * hub's response) with ONE SQL statement each, the JSON built inside
 * PostgreSQL. It does the work the hub must do and nothing else: the token
 * lookup, need to know, and the audit entries of the persons read (a
 * data-modifying CTE), in one round trip.
 *
 *   POST /dashboard  body {"variables":{"stationId","first"}}  (bench/dashboard.graphql)
 *   POST /person     body {"variables":{"id"}}                 (bench/person.graphql)
 *   POST /handoff    body {"query","variables":{"input"}}      (bench/handoff.ts; bench/limit-handoff.ts)
 *
 * Both statements are prepared (named) once per connection, as the hub's are
 * (src/db/prepared-client.ts): planning the dashboard's CTE took 2 ms a request.
 *
 * Run by bench/run.ts as its own process: DATABASE_URL, PORT (0: any; the
 * chosen port is printed as "listening <port>"), HUB_DB_POOL_SIZE (10).
 */

const gid = (type: string, col: string) =>
  `rtrim(translate(encode(convert_to('${type}:' || ${col}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')`;
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const ACTOR = `actor AS (
  SELECT a.id AS account_id, g.id AS agency_id, g.kind
    FROM account a JOIN agency g ON g.id = a.agency_id
   WHERE a.token_hash = $1 AND a.revoked_at IS NULL)`;

const CUSTODIAN = (person: string) => `(SELECT json_build_object('name', h.name, 'kind', h.kind)
    FROM custody_record k JOIN agency h ON h.id = k.holder_id WHERE k.person_id = ${person} AND k.to_at IS NULL)`;

/**
 * $1 token hash, $2 station uuid, $3 page size, $4 request id. A station sees its own cases (as the hub's listCases).
 * Set-based: the page's referrals, persons and custodians joined once for the whole page, each agency table
 * hashed once. The first version read them in subplans per case, which hashed the agency table three times a
 * case (150 times a page): 6.8 → 2.6 ms of PostgreSQL per 50-case dashboard on one connection, the same answer
 * byte for byte (checked for 1, 10, 50 and 100 cases of the five busiest stations). The limit is only a limit
 * if it is the best one statement can do.
 */
export const DASHBOARD_SQL = `
WITH ${ACTOR},
matching AS (
  SELECT c.* FROM rescue_case c, actor
   WHERE actor.kind = 'RESCUE_STATION' AND c.station_id = actor.agency_id AND c.station_id = $2 AND c.status = 'OPEN'),
page AS (SELECT * FROM matching ORDER BY opened_at DESC, id DESC LIMIT $3 + 1),
shown AS (SELECT * FROM page ORDER BY opened_at DESC, id DESC LIMIT $3),
audit AS (
  INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
  SELECT actor.account_id, actor.agency_id, 'person.read', 'Person', s.person_id, $4
    FROM (SELECT DISTINCT person_id FROM shown) s, actor),
refs AS MATERIALIZED (
  SELECT r.case_id, json_agg(json_build_object('id', ${gid('Referral', 'r.id')}, 'kind', r.kind, 'status', r.status,
                                                'createdAt', ${iso('r.created_at')},
                                                'fromAgency', json_build_object('name', f.name), 'toAgency', json_build_object('name', t.name))
                              ORDER BY r.created_at DESC, r.id DESC) AS list
    FROM shown s JOIN referral r ON r.case_id = s.id JOIN agency f ON f.id = r.from_agency_id JOIN agency t ON t.id = r.to_agency_id
   GROUP BY r.case_id),
nodes AS (
  SELECT c.opened_at, c.id, json_build_object(
                    'id', ${gid('RescueCase', 'c.id')},
                    'caseNumber', c.case_number,
                    'status', c.status,
                    'openedAt', ${iso('c.opened_at')},
                    'rescuePeriodEndsAt', ${iso('c.rescue_period_ends_at')},
                    'overdue', c.status = 'OPEN' AND c.rescue_period_ends_at < now(),
                    'intakeChannel', c.intake_channel,
                    'person', json_build_object('id', ${gid('Person', 'p.id')}, 'name', p.name, 'gender', p.gender, 'birthYear', p.birth_year,
                                                'custodian', CASE WHEN h.id IS NULL THEN NULL ELSE json_build_object('name', h.name, 'kind', h.kind) END),
                    'referrals', coalesce(refs.list, '[]'::json)) AS node
    FROM shown c JOIN person p ON p.id = c.person_id
    LEFT JOIN custody_record k ON k.person_id = c.person_id AND k.to_at IS NULL LEFT JOIN agency h ON h.id = k.holder_id
    LEFT JOIN refs ON refs.case_id = c.id)
SELECT (SELECT count(*) FROM actor)::int AS authenticated,
       json_build_object('data', json_build_object('cases', json_build_object(
         'totalCount', (SELECT count(*) FROM matching),
         'pageInfo', json_build_object(
           'hasNextPage', (SELECT count(*) > $3 FROM page),
           'endCursor', (SELECT rtrim(translate(encode(convert_to('["' || l.opened_at::text || '","' || l.id || '"]', 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')
                           FROM shown l ORDER BY l.opened_at, l.id LIMIT 1)),
         'edges', coalesce((SELECT json_agg(json_build_object('node', n.node) ORDER BY n.opened_at DESC, n.id DESC) FROM nodes n), '[]'::json))))::text AS body`;

/** $1 token hash, $2 person uuid, $3 request id. Visible only to an agency party to the person (the hub's PARTY_SQL). */
export const PERSON_SQL = `
WITH ${ACTOR},
visible AS (SELECT p.* FROM person p, actor WHERE p.id = $2 AND ${PARTY_SQL('p.id', 'actor.agency_id')}),
audit AS (
  INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
  SELECT actor.account_id, actor.agency_id, 'person.read', 'Person', v.id, $3 FROM visible v, actor)
SELECT (SELECT count(*) FROM actor)::int AS authenticated,
       json_build_object('data', json_build_object('person', (
         SELECT json_build_object('id', ${gid('Person', 'p.id')}, 'name', p.name, 'gender', p.gender, 'birthYear', p.birth_year,
                  'ageGroup', CASE WHEN p.birth_year IS NULL THEN 'UNKNOWN'
                                   WHEN extract(year FROM now() AT TIME ZONE 'UTC') - p.birth_year < 18 THEN 'MINOR'
                                   WHEN extract(year FROM now() AT TIME ZONE 'UTC') - p.birth_year >= 60 THEN 'ELDERLY' ELSE 'ADULT' END,
                  'identityStatus', p.identity_status, 'originRegionCode', p.origin_region_code,
                  'custodian', ${CUSTODIAN('p.id')})
           FROM visible p)))::text AS body`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidOf(globalId: unknown): string | null {
  if (typeof globalId !== 'string') return null;
  const text = Buffer.from(globalId, 'base64url').toString('utf8');
  const uuid = text.slice(text.indexOf(':') + 1);
  return UUID.test(uuid) ? uuid : null;
}

export function startLimitServer(databaseUrl: string, port: number, poolSize: number): Promise<http.Server> {
  const pool = new Pool({ connectionString: databaseUrl, max: poolSize, application_name: 'hub-bench-limit' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      void (async () => {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
        if (!m) return send(401, '{"errors":[{"message":"no token","extensions":{"code":"UNAUTHENTICATED"}}]}');
        const tokenHash = createHash('sha256').update(m[1], 'utf8').digest();
        const vars = ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: Record<string, unknown> }).variables ??
          {}) as Record<string, unknown>;
        if (req.url === '/handoff') {
          // Workload 3 (bench/limit-handoff.ts): one round trip per mutation.
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            query?: string;
            variables?: { input?: Record<string, unknown> };
          };
          const op = handoffOperation(body.query ?? '');
          const input = body.variables?.input ?? {};
          if (!op) return send(400, '{"errors":[{"message":"not a hand-off mutation"}]}');
          const { rows: answer } = await pool.query({
            name: 'handoff',
            text: 'SELECT bench_limit.handoff($1, $2, $3, $4, $5, $6, $7, $8, $9) AS body',
            values: [
              tokenHash,
              randomUUID(),
              op,
              op === 'request' ? uuidOf(input.personId) : null,
              op === 'request' ? null : uuidOf(input.referralId),
              op === 'request' ? input.kind : null,
              op === 'request' ? uuidOf(input.toAgencyId) : null,
              op === 'request' ? (input.reason ?? null) : null,
              op === 'dispatch' ? input.escortNames : null,
            ],
          });
          return send(200, (answer[0] as { body: string }).body);
        }
        let rows: { authenticated: number; body: string }[];
        if (req.url === '/dashboard') {
          const station = uuidOf(vars.stationId);
          const first = Number(vars.first ?? 20);
          if (!station || !Number.isInteger(first) || first < 1 || first > 100) return send(400, '{"errors":[{"message":"bad input"}]}');
          rows = (await pool.query({ name: 'dashboard', text: DASHBOARD_SQL, values: [tokenHash, station, first, randomUUID()] })).rows;
        } else if (req.url === '/person') {
          const person = uuidOf(vars.id);
          if (!person) return send(400, '{"errors":[{"message":"bad input"}]}');
          rows = (await pool.query({ name: 'person', text: PERSON_SQL, values: [tokenHash, person, randomUUID()] })).rows;
        } else {
          return send(404, '{"errors":[{"message":"POST /dashboard or /person"}]}');
        }
        if (!rows[0]?.authenticated)
          return send(401, '{"errors":[{"message":"Unknown or revoked token.","extensions":{"code":"UNAUTHENTICATED"}}]}');
        send(200, rows[0].body);
      })().catch((err: Error) => send(500, JSON.stringify({ errors: [{ message: err.message }] })));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('close', () => void pool.end());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (require.main === module) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is required');
    process.exit(2);
  }
  // HUB_WORKERS > 1: as many processes as the hub runs (bench/processes.ts), sharing the port the same way
  // (node:cluster), so that the limit is what Node and PostgreSQL can do with the same number of processes.
  const workers = Number(process.env.HUB_WORKERS ?? '1');
  if (workers > 1 && cluster.isPrimary) {
    let reported = false;
    for (let i = 0; i < workers; i++) {
      cluster.fork().on('message', (port: number) => {
        if (!reported) console.log(`listening ${port}`);
        reported = true;
      });
    }
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      cluster.on('exit', () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
    });
  } else {
    void startLimitServer(url, Number(process.env.PORT ?? '0'), Number(process.env.HUB_DB_POOL_SIZE ?? '10')).then((server) => {
      const port = (server.address() as AddressInfo).port;
      if (cluster.isWorker) process.send!(port);
      else console.log(`listening ${port}`);
      process.on('SIGTERM', () => server.close(() => process.exit(0)));
      if (cluster.isWorker) process.on('disconnect', () => process.exit(0));
    });
  }
}
