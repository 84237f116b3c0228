import { Referral } from '../../src/referrals/referral.entity';
import { ReferralKind, ReferralStatus } from '../../src/referrals/referral.enums';
import { guardedStep, inOneStatement, CUSTODY_TO } from '../../src/referrals/referral.guard';
import { plan, TRANSITIONS, type Action } from '../../src/referrals/referral.machine';
import { partiesOf, stepColumns } from '../../src/referrals/referral.step';
import { AccountRole, AgencyKind, type AccountActor } from '../../src/auth/actor';
import { rowShape } from '../../src/db/rows';
import { OpenCaseWithPersonDocument, RequestReferralDocument } from '../generated/graphql';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';

/**
 * The guarded statement (referral.guard.ts) decides on its own, in SQL generated from the transition table,
 * whether a step may change the referral: it is sent before the step's lock has answered, so nothing in Node can
 * stop it. It must therefore change the referral exactly when plan() allows the step with a row it can do whole,
 * and change nothing otherwise. Checked here for every action it serves, every status and kind, every agency as
 * the caller, with distinct and with shared roles, each in a transaction that is rolled back.
 */

jest.setTimeout(120_000);

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];

let referralId: string;
let personId: string;

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
  const { openCase } = await hub.ok(
    OpenCaseWithPersonDocument,
    {
      input: {
        person: { gender: 'FEMALE', birthYear: 1975, originRegionCode: '430521', description: 'guard' },
        intakeChannel: 'SELF_PRESENTED',
      },
    },
    a.station.token,
  );
  const { requestReferral } = await hub.ok(
    RequestReferralDocument,
    { input: { personId: openCase.person.id, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
    a.station.token,
  );
  referralId = uuidOf(requestReferral.id);
  personId = uuidOf(openCase.person.id);
});
afterAll(() => hub.stop());

/** The caller as the hub's authentication gives it to a step (its kind and role do not matter to the guard). */
const actorOf = (agencyId: string, accountId: string): AccountActor => ({
  kind: 'account',
  accountId,
  role: AccountRole.STAFF,
  agencyId,
  agencyKind: AgencyKind.RESCUE_STATION,
  agencyRegionCode: '43',
});

type Roles = { requester: string; sender: string; receiver: string; escort: string | null; custodian: string };

const ACTIONS = [...new Set(TRANSITIONS.filter(inOneStatement).map((t) => t.action))] as Action[];

describe('the guarded statement changes a referral exactly when plan() allows a row it can do whole', () => {
  it('serves the actions whose rows are custody moves or nothing, and only them', () => {
    expect(ACTIONS.sort()).toEqual(['accept', 'cancel', 'confirmReceipt', 'dispatch', 'reject']);
  });

  const scenarios: [string, (ids: Record<string, string>) => Roles][] = [
    [
      'every role a different agency',
      (x) => ({ requester: x.police, sender: x.station, receiver: x.hospital, escort: x.welfareHome, custodian: x.originOffice }),
    ],
    [
      'the station requests, sends and holds; no escort yet',
      (x) => ({ requester: x.station, sender: x.station, receiver: x.hospital, escort: null, custodian: x.station }),
    ],
    [
      'the police escort holds the person on the way',
      (x) => ({ requester: x.station, sender: x.station, receiver: x.hospital, escort: x.police, custodian: x.police }),
    ],
  ];

  it.each(scenarios)('%s', async (_name, rolesOf) => {
    const ids = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, uuidOf(v.id)]));
    const roles = rolesOf(ids);
    const accounts = new Map<string, string>(
      (await hub.hub.db.query(`SELECT DISTINCT ON (agency_id) agency_id, id FROM account ORDER BY agency_id, id`)).map(
        (r: { agency_id: string; id: string }) => [r.agency_id, r.id],
      ),
    );
    const shape = rowShape(hub.hub.db, Referral);
    let changed = 0;
    let checked = 0;
    for (const status of Object.values(ReferralStatus))
      for (const kind of Object.values(ReferralKind))
        for (const action of ACTIONS)
          for (const agencyId of Object.values(ids)) {
            const actor = actorOf(agencyId, accounts.get(agencyId)!);
            const details = {
              escortAgencyId: ids.police,
              escortNames: ['押送员'],
              rejectionReason: 'NO_CAPACITY' as Referral['rejectionReason'],
            };
            const state = {
              ...({
                requestedById: roles.requester,
                fromAgencyId: roles.sender,
                toAgencyId: roles.receiver,
                escortAgencyId: roles.escort,
              } as Referral),
              status,
              kind,
            } as Referral;
            const expected = plan(state, action, partiesOf(state, agencyId, roles.custodian));
            const runner = hub.hub.db.createQueryRunner();
            await runner.connect();
            try {
              await runner.startTransaction();
              await runner.query(
                `UPDATE referral SET status = $2, kind = $3, requested_by_id = $4, from_agency_id = $5, to_agency_id = $6, escort_agency_id = $7 WHERE id = $1`,
                [referralId, status, kind, roles.requester, roles.sender, roles.receiver, roles.escort],
              );
              await runner.query(`UPDATE custody_record SET holder_id = $2 WHERE person_id = $1 AND to_at IS NULL`, [
                personId,
                roles.custodian,
              ]);
              const [before] = await runner.query(
                `SELECT version, (SELECT max(seq) FROM referral_event) AS seq FROM referral WHERE id = $1`,
                [referralId],
              );
              const g = guardedStep(shape, {
                ctx: { actor, requestId: 'guard-test' },
                actor,
                action,
                referralId,
                expectedVersion: null,
                at: new Date(),
                note: null,
                columns: stepColumns(action, details, actor),
              })!;
              const rows: Record<string, unknown>[] = await runner.query(g.sql, g.params);
              const [after] = await runner.query(
                `SELECT r.status::text AS status, r.version, r.rejection_reason::text AS reason,
                        (SELECT array_agg(e.type::text) FROM referral_event e WHERE e.seq > $2 AND e.referral_id = r.id) AS events,
                        (SELECT count(*)::int FROM audit_log l WHERE l.request_id = 'guard-test') AS audits,
                        (SELECT holder_id FROM custody_record k WHERE k.person_id = r.person_id AND k.to_at IS NULL) AS holder,
                        (SELECT count(*)::int FROM custody_record k WHERE k.person_id = r.person_id AND k.to_at IS NULL) AS open
                   FROM referral r WHERE r.id = $1`,
                [referralId, before.seq ?? 0],
              );
              const what = `${action} of a ${status} ${kind} by ${Object.entries(ids).find(([, v]) => v === agencyId)![0]}`;
              const seen = {
                what,
                rows: rows.length,
                status: after.status,
                version: after.version,
                events: after.events,
                audits: after.audits,
                holder: after.holder,
                open: after.open,
              };
              if (expected.ok && inOneStatement(expected.transition)) {
                const t = expected.transition;
                const moved = (t.effects ?? []) as (keyof typeof CUSTODY_TO)[];
                const holder = moved.length
                  ? { custodyToEscort: ids.police, custodyToReceiver: roles.receiver, custodyToSender: roles.sender }[
                      moved[moved.length - 1]
                    ]
                  : roles.custodian;
                const step = { rows: 1, status: t.to, version: before.version + 1, events: [t.event], audits: 1, holder, open: 1 };
                expect(seen).toEqual({ what, ...step });
                if (action === 'reject') expect(after.reason).toBe('NO_CAPACITY');
                changed++;
              } else {
                const nothing = { rows: 0, status, version: before.version, events: null, audits: 0, holder: roles.custodian, open: 1 };
                expect(seen).toEqual({ what, ...nothing });
              }
              checked++;
            } finally {
              await runner.rollbackTransaction();
              await runner.release();
            }
          }
    expect(checked).toBe(7 * 5 * ACTIONS.length * 6);
    // Some steps of every scenario are allowed, so the test sees both sides.
    expect(changed).toBeGreaterThan(0);
  });

  it("changes nothing when the expected version is not the referral's", async () => {
    const [row] = await hub.hub.db.query(`SELECT version, to_agency_id, status::text AS status FROM referral WHERE id = $1`, [referralId]);
    expect(row.status).toBe('REQUESTED');
    const [account] = await hub.hub.db.query(`SELECT id FROM account WHERE agency_id = $1 LIMIT 1`, [row.to_agency_id]);
    const actor = actorOf(row.to_agency_id, account.id);
    const input = {
      ctx: { actor, requestId: 'guard-version' },
      actor,
      action: 'accept' as const,
      referralId,
      at: new Date(),
      note: null,
      columns: {},
    };
    const shape = rowShape(hub.hub.db, Referral);
    const runner = hub.hub.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const stale = guardedStep(shape, { ...input, expectedVersion: row.version + 1 })!;
      expect(await runner.query(stale.sql, stale.params)).toHaveLength(0);
      const current = guardedStep(shape, { ...input, expectedVersion: row.version })!;
      expect(await runner.query(current.sql, current.params)).toHaveLength(1);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });
});
