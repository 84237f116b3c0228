import { Client } from 'pg';
import { PARTY_SQL } from '../src/access/access.policy';

/**
 * The physical limit for workload 3: each mutation of the hand-off cycle as ONE round trip that does the work
 * the hub's transaction does — the token, need to know, the person's lock, the referral's lock, who holds the
 * person, the transition's rule, the change, the custody move, the audit entry and the event (after the
 * transaction id, as outbox.ts), committed durably — in a PL/pgSQL function: PostgreSQL runs its statements
 * one after the other in one transaction, each with a fresh snapshot, as the hub's do, without a round trip
 * between them. What Node and PostgreSQL can do on this machine with no GraphQL, no ORM and one send per
 * mutation. Only the two kinds the bench drives (PSYCHIATRIC_EVALUATION, RETURN_TO_STATION); a broken rule
 * raises, and the bench counts the cycle as failed.
 */

/** Response times of the two kinds (the hub's defaults, src/shared/config.ts). */
const RESPOND_WITHIN = `CASE p_kind WHEN 'PSYCHIATRIC_EVALUATION' THEN interval '2 hours' ELSE interval '24 hours' END`;

const gid = (type: string, col: string) =>
  `rtrim(translate(encode(convert_to('${type}:' || ${col}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')`;

export const LIMIT_HANDOFF_SQL = `
CREATE SCHEMA IF NOT EXISTS bench_limit;
CREATE OR REPLACE FUNCTION bench_limit.handoff(p_token bytea, p_request text, p_op text, p_person uuid, p_referral uuid,
                                               p_kind text, p_to uuid, p_reason text, p_escort_names text[])
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  v_account uuid; v_agency uuid; v_person uuid; v_holder uuid; v_case uuid; v_case_station uuid; v_to_kind text;
  v_from uuid; r referral%ROWTYPE; v_status referral_status; v_event referral_event_type; v_field text;
BEGIN
  SELECT a.id, a.agency_id INTO v_account, v_agency FROM account a WHERE a.token_hash = p_token AND a.revoked_at IS NULL;
  IF v_account IS NULL THEN RAISE EXCEPTION 'UNAUTHENTICATED'; END IF;
  IF p_op = 'request' THEN
    v_person := p_person;
  ELSE
    SELECT x.person_id INTO v_person FROM referral x WHERE x.id = p_referral;
  END IF;
  -- The person's lock first (the hub's order), with need to know.
  PERFORM 1 FROM person p WHERE p.id = v_person AND ${PARTY_SQL('p.id', 'v_agency')} FOR UPDATE OF p;
  IF NOT FOUND THEN RAISE EXCEPTION 'NOT_FOUND'; END IF;
  IF p_op = 'request' THEN
    SELECT k.holder_id INTO v_holder FROM custody_record k WHERE k.person_id = v_person AND k.to_at IS NULL;
    SELECT c.id, c.station_id INTO v_case, v_case_station FROM rescue_case c WHERE c.person_id = v_person AND c.status = 'OPEN';
    IF v_holder IS DISTINCT FROM v_agency AND v_case_station IS DISTINCT FROM v_agency THEN RAISE EXCEPTION 'FORBIDDEN'; END IF;
    SELECT g.kind INTO v_to_kind FROM agency g WHERE g.id = p_to;
    IF v_to_kind IS DISTINCT FROM (CASE p_kind WHEN 'PSYCHIATRIC_EVALUATION' THEN 'PSYCHIATRIC_HOSPITAL' ELSE 'RESCUE_STATION' END) THEN
      RAISE EXCEPTION 'BAD_USER_INPUT input.toAgencyId';
    END IF;
    v_from := coalesce(v_holder, v_agency);
    IF p_to = v_from THEN RAISE EXCEPTION 'BAD_USER_INPUT input.toAgencyId'; END IF;
    INSERT INTO referral (kind, status, person_id, case_id, requested_by_id, from_agency_id, to_agency_id, reason, created_at,
                          updated_at, respond_by, version, escort_names)
    VALUES (p_kind::referral_kind, 'REQUESTED', v_person, v_case, v_agency, v_from, p_to, p_reason, now(), now(),
            now() + ${RESPOND_WITHIN}, 1, '{}')
    RETURNING * INTO r;
    v_event := 'REQUESTED'; v_field := 'requestReferral';
  ELSE
    SELECT * INTO r FROM referral x WHERE x.id = p_referral FOR UPDATE;
    SELECT k.holder_id INTO v_holder FROM custody_record k WHERE k.person_id = v_person AND k.to_at IS NULL;
    IF p_op = 'accept' THEN
      IF r.status <> 'REQUESTED' THEN RAISE EXCEPTION 'INVALID_TRANSITION %', r.status; END IF;
      IF r.to_agency_id <> v_agency THEN RAISE EXCEPTION 'FORBIDDEN'; END IF;
      v_status := 'ACCEPTED'; v_event := 'ACCEPTED'; v_field := 'acceptReferral';
    ELSIF p_op = 'dispatch' THEN
      IF r.status NOT IN ('ACCEPTED', 'REQUESTED') THEN RAISE EXCEPTION 'INVALID_TRANSITION %', r.status; END IF;
      IF v_holder IS DISTINCT FROM v_agency THEN RAISE EXCEPTION 'FORBIDDEN'; END IF;
      v_status := 'IN_TRANSIT'; v_event := 'DISPATCHED'; v_field := 'dispatchReferral';
      r.escort_agency_id := v_agency; r.escort_names := p_escort_names;
    ELSIF p_op = 'confirm' THEN
      IF r.status <> 'IN_TRANSIT' THEN RAISE EXCEPTION 'INVALID_TRANSITION %', r.status; END IF;
      IF r.to_agency_id <> v_agency THEN RAISE EXCEPTION 'FORBIDDEN'; END IF;
      v_status := 'RECEIVED'; v_event := 'RECEIVED'; v_field := 'confirmReceipt';
    ELSE
      RAISE EXCEPTION 'unknown operation %', p_op;
    END IF;
    -- Custody to the escort on dispatch (the dispatcher: no move when it holds the person) and to the receiver on receipt.
    IF p_op IN ('dispatch', 'confirm') THEN
      IF v_holder IS DISTINCT FROM (CASE p_op WHEN 'dispatch' THEN r.escort_agency_id ELSE r.to_agency_id END) THEN
        UPDATE custody_record SET to_at = now() WHERE person_id = v_person AND to_at IS NULL;
        INSERT INTO custody_record (person_id, holder_id, from_at, referral_id, case_id)
        VALUES (v_person, CASE p_op WHEN 'dispatch' THEN r.escort_agency_id ELSE r.to_agency_id END, now(), r.id, r.case_id);
      END IF;
    END IF;
    UPDATE referral SET status = v_status, escort_agency_id = r.escort_agency_id, escort_names = r.escort_names,
                        version = r.version + 1, updated_at = now()
     WHERE id = r.id;
    r.status := v_status;
  END IF;
  INSERT INTO audit_log (account_id, agency_id, action, subject_type, subject_id, request_id)
  VALUES (v_account, v_agency, 'referral.' || CASE p_op WHEN 'confirm' THEN 'confirmReceipt' ELSE p_op END, 'Person', v_person, p_request);
  PERFORM pg_current_xact_id();
  INSERT INTO referral_event (referral_id, type, status, actor_account_id, actor_agency_id)
  VALUES (r.id, v_event, r.status, v_account, v_agency);
  RETURN json_build_object('data', json_build_object(v_field, json_build_object('id', ${gid('Referral', 'r.id')}, 'status', r.status)))::text;
END
$fn$;`;

/** Installs the limit's function in the bench database (once, before the limit server starts). */
export async function installLimitHandoff(databaseUrl: string): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(LIMIT_HANDOFF_SQL);
  } finally {
    await c.end();
  }
}

/** The bench's four mutations (bench/handoff.ts), told apart by their root field. */
export function handoffOperation(query: string): 'request' | 'accept' | 'dispatch' | 'confirm' | null {
  if (/\brequestReferral\s*\(/.test(query)) return 'request';
  if (/\bacceptReferral\s*\(/.test(query)) return 'accept';
  if (/\bdispatchReferral\s*\(/.test(query)) return 'dispatch';
  if (/\bconfirmReceipt\s*\(/.test(query)) return 'confirm';
  return null;
}
