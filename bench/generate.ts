import crypto from 'node:crypto';
import { Client } from 'pg';

/**
 * Fills a migrated hub database directly with set-based SQL (never through
 * the API), at BENCH_SCALE (1 = 300 agencies, 200,000 persons, 300,000
 * cases, ~900,000 referrals with ~3.3 events each).
 *
 * Every attribute is a pure function of a row's index (hashint8extended), so
 * rows of one table can be derived in another without joins, and a run is
 * reproducible. Ids are md5('bench:<table>:<index>')::uuid, random like
 * gen_random_uuid() but computable on both sides (see benchId).
 *
 * The data respect the hub's rules: at most one open case, custody span and
 * open referral per person; every person with an open case has exactly one
 * open custody record; every referral's status is its last event's; events
 * are numbered in time order; case numbers are unique per station and the
 * counters continue after them. Secondary indexes are dropped during the
 * load and rebuilt after it, which also re-checks the partial unique indexes.
 */

export interface Scale {
  scale: number;
  stations: number;
  police: number;
  hospitals: number;
  welfareHomes: number;
  offices: number;
  persons: number;
  cases: number;
  openCases: number;
}

export function scaleOf(scale: number): Scale {
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const stations = Math.max(2, n(20));
  const persons = Math.max(100, n(200_000));
  return {
    scale,
    stations,
    // Every kind has at least one agency per station: each station works with its own.
    police: Math.max(stations, n(140)),
    hospitals: Math.max(stations, n(40)),
    welfareHomes: Math.max(stations, n(30)),
    offices: Math.max(stations, n(70)),
    persons,
    cases: Math.round(persons * 1.5),
    openCases: Math.min(Math.max(10, n(2_000)), Math.floor(persons / 4)),
  };
}

/** Table numbers in benchId. */
export const ID_SPACE = { agency: 0, person: 1, rescueCase: 2, referral: 3, account: 5 } as const;

/** The same uuid as the SQL pg_temp.bid(kind, i): md5('bench:<kind>:<i>')::uuid. */
export function benchId(kind: number, i: number): string {
  const h = crypto.createHash('md5').update(`bench:${kind}:${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A bench account's bearer token: one account per agency, agency index i (1-based). */
export function benchToken(secret: string, agencyIndex: number): string {
  return `hub_bench_${secret}_${agencyIndex}`;
}

export type AgencyKindName = 'RESCUE_STATION' | 'POLICE_STATION' | 'PSYCHIATRIC_HOSPITAL' | 'WELFARE_HOME' | 'CIVIL_AFFAIRS_OFFICE';

/** Agency indexes are 1-based and grouped by kind in this order. */
export function agencyOffsets(s: Scale) {
  const station = 0;
  const police = station + s.stations;
  const hospital = police + s.police;
  const welfare = hospital + s.hospitals;
  const office = welfare + s.welfareHomes;
  return { station, police, hospital, welfare, office, total: office + s.offices };
}

// prettier-ignore
const PROVINCES = [
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41',
  '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65',
];
// prettier-ignore
const CITIES = [
  '北京', '天津', '石家庄', '太原', '呼和浩特', '沈阳', '长春', '哈尔滨', '上海', '南京', '杭州', '合肥', '福州', '南昌', '济南', '郑州',
  '武汉', '衡阳', '广州', '南宁', '海口', '重庆', '成都', '贵阳', '昆明', '拉萨', '西安', '兰州', '西宁', '银川', '乌鲁木齐',
];
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢'.split('');
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志文玉兰红梅海峰晓东林春生金凤云飞鹏辉宇斌德福荣成'.split('');
const CLOTHES = ['蓝色外套', '灰色棉衣', '黑色夹克', '红色毛衣', '旧军大衣', '白色衬衫', '格子衬衫', '绿色雨衣'];
const TRAITS = ['说湖南口音', '说河南口音', '说普通话', '不愿说话', '左手有疤', '右腿行动不便', '戴眼镜', '背一个编织袋'];

/** Prefecture (first four digits) of office o (1-based); stations sit in the prefectures of offices 1..stations. */
export function prefectureOf(o: number): string {
  return PROVINCES[(o - 1) % PROVINCES.length] + String(Math.floor((o - 1) / PROVINCES.length) + 1).padStart(2, '0');
}
function cityOf(o: number): string {
  const base = CITIES[(o - 1) % CITIES.length];
  const round = Math.floor((o - 1) / CITIES.length);
  return round === 0 ? base : `${base}第${round + 1}`;
}

interface AgencyRow {
  index: number;
  kind: AgencyKindName;
  name: string;
  region: string;
  shortCode: string;
}

export function agencyRows(s: Scale): AgencyRow[] {
  const off = agencyOffsets(s);
  const rows: AgencyRow[] = [];
  for (let i = 1; i <= s.stations; i++) {
    rows.push({
      index: off.station + i,
      kind: 'RESCUE_STATION',
      name: `${cityOf(i)}市救助管理站`,
      region: `${prefectureOf(i)}00`,
      shortCode: `ST${i}`,
    });
  }
  const local = (kind: AgencyKindName, offset: number, count: number, name: (station: number, n: number) => string) => {
    for (let l = 1; l <= count; l++) {
      const station = ((l - 1) % s.stations) + 1;
      const n = Math.floor((l - 1) / s.stations) + 1;
      const county = String(((n - 1) % 18) + 2).padStart(2, '0');
      rows.push({ index: offset + l, kind, name: name(station, n), region: prefectureOf(station) + county, shortCode: `A${offset + l}` });
    }
  };
  local('POLICE_STATION', off.police, s.police, (st, n) => `${cityOf(st)}市公安局第${n}派出所`);
  local('PSYCHIATRIC_HOSPITAL', off.hospital, s.hospitals, (st, n) => `${cityOf(st)}市第${n}精神病医院`);
  local('WELFARE_HOME', off.welfare, s.welfareHomes, (st, n) => `${cityOf(st)}市第${n}社会福利院`);
  for (let o = 1; o <= s.offices; o++) {
    rows.push({
      index: off.office + o,
      kind: 'CIVIL_AFFAIRS_OFFICE',
      name: `${cityOf(o)}市民政局`,
      region: `${prefectureOf(o)}00`,
      shortCode: `A${off.office + o}`,
    });
  }
  return rows;
}

/** Tables loaded in bulk: their secondary indexes are dropped for the load and rebuilt after it. */
const BULK_TABLES = ['person', 'rescue_case', 'case_number_counter', 'custody_record', 'referral', 'referral_event', 'account', 'agency'];

const sqlArray = (xs: readonly string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;

export interface GenerateResult {
  scale: Scale;
  secret: string;
  /** Seconds per step. */
  timings: Record<string, number>;
  counts: Record<string, number>;
}

export async function generate(
  url: string,
  scaleValue: number,
  log: (msg: string) => void = console.log,
  secret = crypto.randomBytes(8).toString('hex'),
): Promise<GenerateResult> {
  const s = scaleOf(scaleValue);
  const off = agencyOffsets(s);
  const client = new Client({ connectionString: url });
  await client.connect();
  const timings: Record<string, number> = {};
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    const r = await client.query(sql, params);
    timings[name] = (timings[name] ?? 0) + (performance.now() - t) / 1000;
    if (process.env.BENCH_VERBOSE)
      log(`  ${name}: ${((performance.now() - t) / 1000).toFixed(2)} s ${sql.trim().slice(0, 40).replace(/\s+/g, ' ')}`);
    return r;
  };
  const total = performance.now();
  try {
    const [{ n }] = (await client.query('SELECT count(*)::int AS n FROM person')).rows as { n: number }[];
    if (n > 0) throw new Error('bench/generate: the database already holds persons; generate into a freshly migrated database');
    await client.query(`SET work_mem = '256MB'`);
    await client.query(`SET maintenance_work_mem = '1GB'`);
    // FK triggers off for the load (superuser only); the rebuilt data are checked below instead.
    const replica = await client.query(`SET session_replication_role = replica`).then(
      () => true,
      () => false,
    );
    // One transaction whose tables are emptied first: with wal_level=minimal (the embedded server here) PostgreSQL
    // then writes no WAL for the rows or the rebuilt indexes, and syncs the files once at commit.
    await client.query('BEGIN');
    await client.query(
      `TRUNCATE ${[...BULK_TABLES, 'diagnosis', 'bed_assignment', 'rescue_period_extension', 'idempotency_key'].join(', ')} CASCADE`,
    );
    const now0 = new Date();
    const nowSql = `'${now0.toISOString()}'::timestamptz`;
    const spanSeconds = 3 * 365 * 86_400;
    const perPolice = Math.floor(s.police / s.stations);
    const perHospital = Math.floor(s.hospitals / s.stations);
    const perWelfare = Math.floor(s.welfareHomes / s.stations);
    // Open cases: 90% the newest cases of all; 10% long stays (stranded, in hospital) among older latest cases.
    const recentOpen = Math.round(s.openCases * 0.9);
    const longStayPool = s.cases - s.openCases - s.persons;
    const longStayRate = longStayPool > 0 ? (s.openCases - recentOpen) / longStayPool : 0;

    // --- helpers: pure functions of an index ---------------------------------
    // (Explicit ::text casts keep them inlinable: an IMMUTABLE function over a STABLE operator is not inlined.)
    const agencyIds = Array.from({ length: off.total }, (_, i) => benchId(ID_SPACE.agency, i + 1));
    const accountIds = Array.from({ length: off.total }, (_, i) => benchId(ID_SPACE.account, i + 1));
    await client.query(`
      CREATE FUNCTION pg_temp.h(i bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT (hashint8extended(i, salt) & 2147483647)::float8 / 2147483648.0 $$;
      CREATE FUNCTION pg_temp.bid(k int, i bigint) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT md5('bench:' || k::text || ':' || i::text)::uuid $$;
      CREATE FUNCTION pg_temp.aid(i int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT ('{${agencyIds.join(',')}}'::uuid[])[i] $$;
      CREATE FUNCTION pg_temp.acc(i int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT ('{${accountIds.join(',')}}'::uuid[])[i] $$;
      CREATE FUNCTION pg_temp.pref(o int) RETURNS text LANGUAGE sql IMMUTABLE AS
        $$ SELECT (${sqlArray(PROVINCES)})[((o - 1) % ${PROVINCES.length}) + 1] || lpad((((o - 1) / ${PROVINCES.length}) + 1)::text, 2, '0') $$;
      CREATE FUNCTION pg_temp.p_office(pi bigint) RETURNS int LANGUAGE sql IMMUTABLE AS
        $$ SELECT CASE WHEN pg_temp.h(pi, 5) < 0.2 THEN NULL ELSE 1 + floor(pg_temp.h(pi, 6) * ${s.offices})::int END $$;
      CREATE FUNCTION pg_temp.p_birth(pi bigint) RETURNS int LANGUAGE sql IMMUTABLE AS
        $$ SELECT CASE WHEN pg_temp.h(pi, 3) < 0.08 THEN NULL ELSE 1950 + floor(pg_temp.h(pi, 4) * 65)::int END $$;
      CREATE FUNCTION pg_temp.opened(i bigint) RETURNS timestamptz LANGUAGE sql STABLE AS
        $$ SELECT '${now0.toISOString()}'::timestamptz - make_interval(secs => (${s.cases} - i + pg_temp.h(i, 21)) * ${spanSeconds}.0 / ${s.cases}) $$;
    `);

    // --- agencies and one account (bearer token) per agency -------------------
    const agencies = agencyRows(s);
    await step(
      'agencies',
      `INSERT INTO agency (id, kind, name, region_code, short_code, created_at)
       SELECT pg_temp.aid(t.i), t.kind::agency_kind, t.name, t.region, t.short, now() - interval '4 years'
         FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(i, kind, name, region, short)`,
      [
        agencies.map((a) => a.index),
        agencies.map((a) => a.kind),
        agencies.map((a) => a.name),
        agencies.map((a) => a.region),
        agencies.map((a) => a.shortCode),
      ],
    );
    await step(
      'agencies',
      `INSERT INTO account (id, display_name, role, agency_id, token_hash, created_at)
       SELECT pg_temp.acc(i), 'bench ' || i, CASE WHEN i <= ${s.stations} THEN 'SUPERVISOR' ELSE 'STAFF' END::account_role,
              pg_temp.aid(i), sha256(convert_to('hub_bench_' || $1::text || '_' || i, 'UTF8')), now() - interval '4 years'
         FROM generate_series(1, ${off.total}) i`,
      [secret],
    );

    // --- drop secondary indexes for the load ---------------------------------
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def
         FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [BULK_TABLES],
    );
    for (const ix of indexes) await client.query(`DROP INDEX "${ix.name}"`);

    // --- persons --------------------------------------------------------------
    const h = (i: string, salt: number) => `pg_temp.h(${i}, ${salt})`;
    await step(
      'persons',
      `INSERT INTO person (id, name, gender, birth_year, identity_status, origin_region_code, vulnerabilities, description, created_at, updated_at)
       SELECT pg_temp.bid(1, pi),
              CASE WHEN ${h('pi', 10)} < 0.2 THEN NULL
                   ELSE (${sqlArray(SURNAMES)})[1 + floor(${h('pi', 11)} * ${SURNAMES.length})::int]
                     || (${sqlArray(GIVEN)})[1 + floor(${h('pi', 12)} * ${GIVEN.length})::int]
                     || CASE WHEN ${h('pi', 13)} < 0.6 THEN (${sqlArray(GIVEN)})[1 + floor(${h('pi', 14)} * ${GIVEN.length})::int] ELSE '' END END,
              CASE WHEN ${h('pi', 2)} < 0.76 THEN 'MALE' WHEN ${h('pi', 2)} < 0.98 THEN 'FEMALE' ELSE 'UNKNOWN' END::gender,
              pg_temp.p_birth(pi),
              CASE WHEN ${h('pi', 10)} < 0.2 THEN 'UNKNOWN' WHEN ${h('pi', 15)} < 0.4 THEN 'VERIFIED' ELSE 'SELF_REPORTED' END::identity_status,
              CASE WHEN pg_temp.p_office(pi) IS NULL THEN NULL
                   ELSE pg_temp.pref(pg_temp.p_office(pi)) || lpad((1 + floor(${h('pi', 7)} * 18))::int::text, 2, '0') END,
              array_remove(ARRAY[
                CASE WHEN ${h('pi', 16)} < 0.05 THEN 'PHYSICAL_DISABILITY' END,
                CASE WHEN ${h('pi', 17)} < 0.07 THEN 'MENTAL_ILLNESS' END,
                CASE WHEN ${h('pi', 18)} < 0.025 THEN 'DEMENTIA_OR_INTELLECTUAL_DISABILITY' END,
                CASE WHEN ${h('pi', 19)} < 0.01 THEN 'SERIOUS_ILLNESS_OR_INJURY' END], NULL)::vulnerability[],
              '身穿' || (${sqlArray(CLOTHES)})[1 + floor(${h('pi', 8)} * ${CLOTHES.length})::int] || '，'
                || (${sqlArray(TRAITS)})[1 + floor(${h('pi', 9)} * ${TRAITS.length})::int],
              pg_temp.opened(pi) - interval '1 hour', pg_temp.opened(pi)
         FROM generate_series(1, ${s.persons}) pi`,
    );

    // --- cases: per-case attributes in a scratch table, then the rows ---------
    await step(
      'cases',
      `CREATE TEMP TABLE bc AS
       SELECT x.*,
              x.has_e::int + x.m_n + x.has_f::int AS k,
              CASE WHEN x.open AND x.m_n >= 1 AND ${h('x.ci', 31)} < 0.25
                   THEN CASE WHEN ${h('x.ci', 32)} < 0.5 THEN 'REQUESTED' WHEN ${h('x.ci', 32)} < 0.8 THEN 'ACCEPTED' ELSE 'IN_TRANSIT' END
              END AS open_last
         FROM (
           SELECT y.*,
                  y.intake = 'POLICE_ESCORT' AS has_e,
                  coalesce(y.outcome IN ('RETURNED_ESCORTED', 'PLACED_IN_WELFARE_HOME'), false) AS has_f,
                  floor(${h('y.ci', 30)} * 5.84)::int AS m_n,
                  CASE WHEN y.open THEN NULL
                       ELSE least(y.opened_at + make_interval(secs => (0.3 + 12 * power(${h('y.ci', 26)}, 2)) * 86400),
                                  '${now0.toISOString()}'::timestamptz - interval '1 minute') END AS closed_at
             FROM (
               SELECT z.*,
                      CASE WHEN z.open THEN NULL
                           WHEN ${h('z.ci', 25)} < 0.13 THEN CASE WHEN z.office IS NULL THEN 'RETURNED_FUNDED' ELSE 'RETURNED_ESCORTED' END
                           WHEN ${h('z.ci', 25)} < 0.78 THEN 'RETURNED_FUNDED'
                           WHEN ${h('z.ci', 25)} < 0.82 THEN 'RETURNED_FAMILY_PICKUP'
                           WHEN ${h('z.ci', 25)} < 0.94 THEN 'LEFT_VOLUNTARILY'
                           WHEN ${h('z.ci', 25)} < 0.99 THEN 'PLACED_IN_WELFARE_HOME'
                           ELSE 'DECEASED' END AS outcome
                 FROM (
                   SELECT i AS ci,
                          ((i - 1) % ${s.persons}) + 1 AS pi,
                          pg_temp.bid(1, ((i - 1) % ${s.persons}) + 1) AS person_id,
                          pg_temp.bid(2, i) AS case_id,
                          s,
                          ${off.police} + s + ${s.stations} * floor(${h('i', 22)} * ${perPolice})::int AS police,
                          ${off.hospital} + s + ${s.stations} * floor(${h('i', 23)} * ${perHospital})::int AS hospital,
                          ${off.welfare} + s + ${s.stations} * floor(${h('i', 24)} * ${perWelfare})::int AS welfare,
                          pg_temp.p_office(((i - 1) % ${s.persons}) + 1) AS office,
                          pg_temp.p_birth(((i - 1) % ${s.persons}) + 1) AS birth,
                          pg_temp.opened(i) AS opened_at,
                          (i > ${s.cases - recentOpen} OR (i > ${s.persons} AND i <= ${s.cases - s.openCases} AND ${h('i', 12)} < ${longStayRate})) AS open,
                          CASE WHEN ${h('i', 27)} < 0.40 THEN 'POLICE_ESCORT' WHEN ${h('i', 27)} < 0.65 THEN 'SELF_PRESENTED'
                               WHEN ${h('i', 27)} < 0.80 THEN 'STREET_OUTREACH' WHEN ${h('i', 27)} < 0.95 THEN 'PUBLIC_REPORT'
                               ELSE 'AGENCY_TRANSFER' END AS intake
                     FROM generate_series(1, ${s.cases}) i,
                          LATERAL (SELECT 1 + least(floor(${s.stations} * power(${h('i', 20)}, 1.6))::int, ${s.stations - 1}) AS s) st
                 ) z
             ) y
         ) x`,
    );
    await step('cases', `ANALYZE bc`);
    await step(
      'cases',
      `INSERT INTO rescue_case (id, case_number, person_id, station_id, intake_channel, brought_by_id, note, opened_at, rescue_period_ends_at,
                                age_group, status, outcome, closed_at, closing, version)
       SELECT c.case_id,
              a.short_code || '-' || c.yr || '-' || lpad(row_number() OVER (PARTITION BY c.s, c.yr ORDER BY c.opened_at, c.ci)::text, 6, '0'),
              c.person_id, pg_temp.aid(c.s), c.intake::intake_channel,
              CASE WHEN c.has_e THEN pg_temp.aid(c.police) END,
              CASE WHEN ${h('c.ci', 28)} < 0.5 THEN '夜间由' || CASE WHEN c.has_e THEN '民警' ELSE '群众' END || '送来，自述迷路' END,
              c.opened_at, c.opened_at + interval '10 days',
              CASE WHEN c.birth IS NULL THEN 'UNKNOWN' WHEN c.yr - c.birth < 18 THEN 'MINOR' WHEN c.yr - c.birth >= 60 THEN 'ELDERLY' ELSE 'ADULT' END::age_group,
              CASE WHEN c.open THEN 'OPEN' ELSE 'CLOSED' END::case_status,
              c.outcome::case_outcome, c.closed_at, NULL, CASE WHEN c.open THEN 1 ELSE 2 END
         FROM (SELECT bc.*, extract(year FROM bc.opened_at AT TIME ZONE 'Asia/Shanghai')::int AS yr FROM bc) c
         JOIN agency a ON a.id = pg_temp.aid(c.s)`,
    );
    await step(
      'cases',
      `INSERT INTO case_number_counter (station_id, year, last)
       SELECT station_id, split_part(case_number, '-', 2)::smallint, max(split_part(case_number, '-', 3)::int)
         FROM rescue_case GROUP BY 1, 2`,
    );

    // --- referrals: one row per (case, j), the chain [E] (PE RTS)* [F] --------
    // E: police escort in; PE/RTS: evaluation at the case's hospital and back; F: return home or welfare placement.
    await step(
      'referrals',
      `CREATE TEMP TABLE br AS
       SELECT q.*,
              CASE WHEN q.pos <> 'E' AND (q.status = 'ACCEPTED' OR (q.status IN ('IN_TRANSIT', 'RECEIVED')
                                                             AND (q.kind <> 'PSYCHIATRIC_EVALUATION' OR ${h('q.ri', 40)} < 0.3)))
                   THEN q.created_at + q.step * 0.1 END AS t_acc,
              CASE WHEN q.pos = 'E' THEN q.created_at WHEN q.status IN ('IN_TRANSIT', 'RECEIVED') THEN q.created_at + q.step * 0.2 END AS t_disp,
              CASE WHEN q.pos = 'E' THEN q.opened_at WHEN q.pos = 'F' THEN q.closed_at WHEN q.status = 'RECEIVED' THEN q.created_at + q.step * 0.5 END AS t_recv,
              CASE WHEN q.status = 'CANCELLED' THEN q.created_at + q.step * 0.15 END AS t_cancel,
              CASE WHEN q.status = 'EXPIRED' THEN q.created_at + q.response END AS t_exp,
              q.created_at + q.response AS respond_by
         FROM (
           -- A referral still open is younger than half its response time: the hub's sweep would have expired it otherwise.
           SELECT p.*,
                  CASE WHEN p.open THEN (${nowSql} - p.created_at) ELSE p.slot END AS step
             FROM (
               SELECT o.*,
                      CASE WHEN o.open THEN greatest(o.slot_created, ${nowSql} - o.response / 2) ELSE o.slot_created END AS created_at
                 FROM (
                   SELECT n.*,
                          n.status IN ('REQUESTED', 'ACCEPTED', 'IN_TRANSIT') AS open,
                          CASE n.pos WHEN 'E' THEN n.opened_at - interval '1 hour'
                                     WHEN 'F' THEN n.opened_at + n.slot * (n.m_n + 0.1)
                                     ELSE n.opened_at + n.slot * (n.mj - 1 + 0.1) END AS slot_created,
                          CASE n.kind WHEN 'ESCORT_TO_STATION' THEN interval '1 hour' WHEN 'PSYCHIATRIC_EVALUATION' THEN interval '2 hours'
                                      WHEN 'RETURN_TO_STATION' THEN interval '24 hours' WHEN 'RETURN_TO_ORIGIN' THEN interval '2 days'
                                      ELSE interval '5 days' END AS response
                     FROM (
                   SELECT c.ci, c.pi, c.person_id, c.case_id, c.s, c.opened_at, c.closed_at, c.m_n, c.outcome, j,
                          c.ci * 8 + j AS ri, pg_temp.bid(3, c.ci * 8 + j) AS id, pos.pos, pos.mj,
                          (coalesce(c.closed_at, '${now0.toISOString()}'::timestamptz) - c.opened_at) / greatest(c.m_n + c.has_f::int, 1) AS slot,
                          CASE pos.pos WHEN 'E' THEN 'ESCORT_TO_STATION'
                                       WHEN 'F' THEN CASE c.outcome WHEN 'RETURNED_ESCORTED' THEN 'RETURN_TO_ORIGIN' ELSE 'WELFARE_PLACEMENT' END
                                       ELSE CASE WHEN pos.mj % 2 = 1 THEN 'PSYCHIATRIC_EVALUATION' ELSE 'RETURN_TO_STATION' END END AS kind,
                          CASE WHEN pos.pos <> 'M' THEN 'RECEIVED'
                               WHEN pos.mj = c.m_n AND c.open_last IS NOT NULL THEN c.open_last
                               WHEN pos.mj = c.m_n AND pos.mj % 2 = 1 AND NOT c.open
                                 THEN CASE WHEN ${h('c.ci', 33)} < 0.5 THEN 'CANCELLED' ELSE 'EXPIRED' END
                               ELSE 'RECEIVED' END AS status,
                          CASE pos.pos WHEN 'E' THEN c.police WHEN 'F' THEN c.s ELSE CASE WHEN pos.mj % 2 = 1 THEN c.s ELSE c.hospital END END AS from_i,
                          CASE pos.pos WHEN 'E' THEN c.s
                                       WHEN 'F' THEN CASE c.outcome WHEN 'RETURNED_ESCORTED' THEN ${off.office} + c.office ELSE c.welfare END
                                       ELSE CASE WHEN pos.mj % 2 = 1 THEN c.hospital ELSE c.s END END AS to_i
                     FROM bc c,
                          generate_series(1, c.k) j,
                          LATERAL (SELECT CASE WHEN c.has_e AND j = 1 THEN 'E' WHEN c.has_f AND j = c.k THEN 'F' ELSE 'M' END AS pos,
                                          j - c.has_e::int AS mj) pos
                     ) n
                 ) o
             ) p
         ) q`,
    );
    await step('referrals', `ANALYZE br`);
    await step(
      'referrals',
      `INSERT INTO referral (id, kind, status, person_id, case_id, requested_by_id, from_agency_id, to_agency_id, reason, rejection_reason,
                             found_at, circumstances, created_at, respond_by, updated_at, version, escort_agency_id, escort_names)
       SELECT r.id, r.kind::referral_kind, r.status::referral_status, r.person_id, r.case_id,
              pg_temp.aid(r.from_i), pg_temp.aid(r.from_i), pg_temp.aid(r.to_i),
              CASE r.kind WHEN 'PSYCHIATRIC_EVALUATION' THEN '疑似精神障碍，言语混乱' WHEN 'RETURN_TO_STATION' THEN '病情稳定，出院回站'
                          WHEN 'RETURN_TO_ORIGIN' THEN '已核实身份，护送返乡' WHEN 'WELFARE_PLACEMENT' THEN '无法查明家庭，申请安置' END,
              NULL,
              CASE WHEN r.kind = 'ESCORT_TO_STATION' THEN '火车站广场' END,
              CASE WHEN r.kind = 'ESCORT_TO_STATION' THEN '群众报警，发现其在广场徘徊' END,
              r.created_at, r.respond_by,
              greatest(r.created_at, r.t_acc, r.t_disp, r.t_recv, r.t_cancel, r.t_exp),
              1 + (r.t_acc IS NOT NULL)::int + (r.t_disp IS NOT NULL)::int + (r.t_recv IS NOT NULL)::int
                + (r.t_cancel IS NOT NULL)::int + (r.t_exp IS NOT NULL)::int,
              CASE WHEN r.t_disp IS NOT NULL THEN pg_temp.aid(r.from_i) END,
              CASE WHEN r.t_disp IS NULL THEN '{}'::varchar[] WHEN r.kind = 'ESCORT_TO_STATION' THEN '{李警官,张警官}'::varchar[] ELSE '{王站员}'::varchar[] END
         FROM br r`,
    );
    await step(
      'events',
      `INSERT INTO referral_event (referral_id, type, status, occurred_at, actor_account_id, actor_agency_id)
       SELECT r.id, e.type::referral_event_type, e.status::referral_status, e.at, pg_temp.acc(e.actor), pg_temp.aid(e.actor)
         FROM br r,
              LATERAL (VALUES (1, 'REQUESTED', 'REQUESTED', r.created_at, r.from_i),
                              (2, 'ACCEPTED', 'ACCEPTED', r.t_acc, r.to_i),
                              (3, 'DISPATCHED', 'IN_TRANSIT', r.t_disp, r.from_i),
                              (4, 'RECEIVED', 'RECEIVED', r.t_recv, r.to_i),
                              (5, 'CANCELLED', 'CANCELLED', r.t_cancel, r.from_i),
                              (6, 'EXPIRED', 'EXPIRED', r.t_exp, NULL::int)) AS e(ord, type, status, at, actor)
        WHERE e.at IS NOT NULL
        ORDER BY e.at, r.ri, e.ord`,
    );

    // --- custody: the police until the escort's receipt, the station from opening, each receiver from its receipt
    await step(
      'custody',
      `INSERT INTO custody_record (person_id, holder_id, from_at, to_at, referral_id, case_id)
       SELECT u.person_id, pg_temp.aid(u.holder), u.from_at,
              coalesce(lead(u.from_at) OVER w,
                       CASE WHEN u.open THEN NULL
                            WHEN u.outcome = 'RETURNED_ESCORTED' THEN u.from_at + interval '1 millisecond'
                            WHEN u.outcome = 'PLACED_IN_WELFARE_HOME' THEN pg_temp.opened(u.ci + ${s.persons})
                            ELSE u.closed_at END),
              u.referral_id,
              CASE WHEN u.with_case THEN u.case_id END
         FROM (
           SELECT r.ci, r.person_id, r.case_id, c.open, c.outcome, c.closed_at, c.police AS holder, r.created_at AS from_at, r.id AS referral_id,
                  false AS with_case, 0 AS ord
             FROM br r JOIN bc c ON c.ci = r.ci WHERE r.pos = 'E'
           UNION ALL
           SELECT c.ci, c.person_id, c.case_id, c.open, c.outcome, c.closed_at, c.s, c.opened_at,
                  CASE WHEN c.has_e THEN pg_temp.bid(3, c.ci * 8 + 1) END, true, 1
             FROM bc c
           UNION ALL
           SELECT r.ci, r.person_id, r.case_id, c.open, c.outcome, c.closed_at, r.to_i, r.t_recv, r.id, true, 2
             FROM br r JOIN bc c ON c.ci = r.ci WHERE r.pos <> 'E' AND r.status = 'RECEIVED'
         ) u
       WINDOW w AS (PARTITION BY u.ci ORDER BY u.from_at, u.ord)`,
    );
    // A welfare placement that nobody followed keeps the welfare home responsible (open span), as the hub does.
    await step(
      'custody',
      `UPDATE custody_record k SET to_at = NULL
         FROM bc c
        WHERE c.outcome = 'PLACED_IN_WELFARE_HOME' AND c.ci + ${s.persons} > ${s.cases}
          AND k.case_id = c.case_id AND k.holder_id = pg_temp.aid(c.welfare) AND k.to_at IS NOT NULL`,
    );

    if (replica) await client.query(`SET session_replication_role = origin`);
    for (const ix of indexes) await step('indexes', ix.def);
    await client.query(`DROP TABLE bc; DROP TABLE br`);
    await step('commit', 'COMMIT');
    // VACUUM as well as ANALYZE: rows bulk-loaded (and the custody rows updated above) leave every page without
    // its visibility bit and hint bits, and autovacuum would set them during the first workloads, slowing
    // whichever server is measured first (the hub) for the generator's sake. A database in service is vacuumed.
    await step('analyze', `VACUUM (ANALYZE)`);

    const counts: Record<string, number> = {};
    for (const t of ['agency', 'account', 'person', 'rescue_case', 'referral', 'referral_event', 'custody_record']) {
      counts[t] = Number((await client.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    }
    counts.open_cases = Number((await client.query(`SELECT count(*) AS n FROM rescue_case WHERE status = 'OPEN'`)).rows[0].n);
    timings.total = (performance.now() - total) / 1000;
    log(
      `generated at scale ${scaleValue} in ${timings.total.toFixed(1)} s: ` +
        Object.entries(counts)
          .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
          .join(', '),
    );
    log(
      '  steps (s): ' +
        Object.entries(timings)
          .filter(([k]) => k !== 'total')
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ') +
        (replica ? '' : ' (foreign-key triggers stayed on: not a superuser)'),
    );
    return { scale: s, secret, timings, counts };
  } finally {
    await client.end();
  }
}

/** Invariants the hub relies on; an empty list means the data are consistent. */
export async function checkLedger(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const problems: string[] = [];
    const count = async (what: string, sql: string) => {
      const n = Number((await client.query(sql)).rows[0].n);
      if (n > 0) problems.push(`${n} ${what}`);
    };
    await count(
      'persons with an open case but not exactly one open custody record',
      `SELECT count(*) AS n FROM rescue_case c
        WHERE c.status = 'OPEN' AND (SELECT count(*) FROM custody_record k WHERE k.person_id = c.person_id AND k.to_at IS NULL) <> 1`,
    );
    await count(
      'persons with more than one open custody record',
      `SELECT count(*) AS n FROM (SELECT person_id FROM custody_record WHERE to_at IS NULL GROUP BY 1 HAVING count(*) > 1) x`,
    );
    await count(
      "referrals whose status is not their last event's",
      `SELECT count(*) AS n FROM referral r
         JOIN LATERAL (SELECT e.status FROM referral_event e WHERE e.referral_id = r.id ORDER BY e.seq DESC LIMIT 1) last ON true
        WHERE last.status <> r.status`,
    );
    await count(
      'referrals without events',
      `SELECT count(*) AS n FROM referral r WHERE NOT EXISTS (SELECT 1 FROM referral_event e WHERE e.referral_id = r.id)`,
    );
    await count(
      'custody spans that end before they begin',
      `SELECT count(*) AS n FROM custody_record WHERE to_at IS NOT NULL AND to_at < from_at`,
    );
    return problems;
  } finally {
    await client.end();
  }
}

if (require.main === module) {
  // Standalone: BENCH_DATABASE_URL=postgres://... npx ts-node --transpile-only bench/generate.ts (a freshly migrated database).
  const url = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) {
    console.error('Set BENCH_DATABASE_URL to a freshly migrated hub database.');
    process.exit(2);
  }
  void generate(url, Number(process.env.BENCH_SCALE ?? '1')).then(
    async (r) => {
      const problems = await checkLedger(url);
      console.log(problems.length ? `ledger problems: ${problems.join('; ')}` : 'ledger intact');
      console.log(`tokens: ${benchToken(r.secret, 1)} (agency 1) ... ${benchToken(r.secret, agencyOffsets(r.scale).total)}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
