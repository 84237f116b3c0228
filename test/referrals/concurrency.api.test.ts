import { sweepExpired } from '../../src/referrals/referral.expiry';
import {
  AcceptReferralDocument,
  CancelReferralDocument,
  DispatchReferralDocument,
  LogEscortedPersonDocument,
  OpenCaseWithPersonDocument,
  ReferralTimesDocument,
  RejectReferralDocument,
  RequestReferralDocument,
  type ReferralKind,
  type ReferralStatus,
} from '../generated/graphql';
import { theSeedAgencies, type TestAgency } from '../support/builders';
import { startTestHub, type GraphQLResponse, type TestHub } from '../support/hub';

/**
 * Agencies acting at once on one referral, and hub processes sweeping at
 * once: the row lock and SKIP LOCKED must make every change happen once,
 * with its one event, and never tear the custody ledger.
 */

type Agencies = Awaited<ReturnType<typeof theSeedAgencies>>;
type Errors = GraphQLResponse<unknown>['errors'];

let hub: TestHub;
let a: Agencies;

beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];
const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => hub.hub.db.query(text, params) as Promise<T[]>;

let serial = 0;
async function personAtStation(h: TestHub, station: TestAgency): Promise<string> {
  const { openCase } = await h.ok(
    OpenCaseWithPersonDocument,
    {
      input: {
        person: { gender: 'MALE', birthYear: 1968, originRegionCode: '430521', description: `race ${++serial}` },
        intakeChannel: 'SELF_PRESENTED',
      },
    },
    station.token,
  );
  return openCase.person.id;
}

async function requestFor(h: TestHub, personId: string, kind: ReferralKind, to: TestAgency, by: TestAgency) {
  return (await h.ok(RequestReferralDocument, { input: { personId, kind, toAgencyId: to.id } }, by.token)).requestReferral;
}

type Move = 'accept' | 'reject' | 'cancel';

/** One call as a client would make it; the receiver accepts or rejects, the requester cancels. */
async function call(move: Move, referralId: string, expectedVersion?: number): Promise<{ move: Move; ok: boolean; errors?: Errors }> {
  const input = { referralId, expectedVersion };
  const res =
    move === 'accept'
      ? await hub.request(AcceptReferralDocument, { input }, a.welfareHome.token)
      : move === 'reject'
        ? await hub.request(RejectReferralDocument, { input: { ...input, reason: 'NO_CAPACITY' } }, a.welfareHome.token)
        : await hub.request(CancelReferralDocument, { input }, a.station.token);
  return { move, ok: !res.errors?.length, errors: res.errors };
}

async function events(referralId: string) {
  return sql<{ type: string; status: ReferralStatus }>(`SELECT type, status FROM referral_event WHERE referral_id = $1 ORDER BY seq`, [
    uuidOf(referralId),
  ]);
}

/** The custody ledger of one person: exactly one open record, with `holder`, and no record but the intake's. */
async function expectLedgerIntact(personId: string, holder: TestAgency): Promise<void> {
  const rows = await sql<{ holder_id: string; open: boolean }>(
    `SELECT holder_id, to_at IS NULL AS open FROM custody_record WHERE person_id = $1 ORDER BY from_at, id`,
    [uuidOf(personId)],
  );
  expect(rows.filter((r) => r.open)).toEqual([{ holder_id: uuidOf(holder.id), open: true }]);
  // Accept, reject and cancel before dispatch move nobody: the intake's record is the only one.
  expect(rows).toHaveLength(1);
}

const mix = (moves: Move[], n: number) => Array.from({ length: n }, (_, i) => moves[i % moves.length]);

describe('twenty agencies acting at once on one REQUESTED referral', () => {
  it.each(
    (
      [
        ['accept', 'reject'],
        ['reject', 'cancel'],
        ['accept', 'reject', 'cancel'],
      ] as Move[][]
    ).map((m) => [m.join(' / '), m] as const),
  )('with expectedVersion, %s: exactly one succeeds, the rest are CONFLICT', async (_name, moves) => {
    const personId = await personAtStation(hub, a.station);
    const r = await requestFor(hub, personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
    const results = await Promise.all(mix(moves, 20).map((m) => call(m, r.id, r.version)));
    const winners = results.filter((x) => x.ok);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((x) => !x.ok)) {
      expect(loser.errors![0].extensions).toMatchObject({ code: 'CONFLICT' });
    }
    const after = { accept: 'ACCEPTED', reject: 'REJECTED', cancel: 'CANCELLED' }[winners[0].move];
    expect(await events(r.id)).toEqual([
      { type: 'REQUESTED', status: 'REQUESTED' },
      { type: after, status: after },
    ]);
    const now = (await hub.ok(ReferralTimesDocument, { id: r.id }, a.station.token)).referral!;
    expect({ status: now.status, version: now.version }).toEqual({ status: after, version: 2 });
    await expectLedgerIntact(personId, a.station);
  });

  it.each(
    (
      [
        ['accept', 'reject'],
        ['reject', 'cancel'],
      ] as Move[][]
    ).map((m) => [m.join(' / '), m] as const),
  )('without expectedVersion, %s: exactly one takes effect, the rest are INVALID_TRANSITION', async (_name, moves) => {
    const personId = await personAtStation(hub, a.station);
    const r = await requestFor(hub, personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
    const results = await Promise.all(mix(moves, 20).map((m) => call(m, r.id)));
    const winners = results.filter((x) => x.ok);
    expect(winners).toHaveLength(1);
    const after = { accept: 'ACCEPTED', reject: 'REJECTED', cancel: 'CANCELLED' }[winners[0].move];
    for (const loser of results.filter((x) => !x.ok)) {
      // Each loser waited for the winner's row lock and then saw its status.
      expect(loser.errors![0].extensions).toMatchObject({ code: 'INVALID_TRANSITION', status: after });
    }
    expect(await events(r.id)).toHaveLength(2);
    expect((await events(r.id))[1]).toEqual({ type: after, status: after });
    await expectLedgerIntact(personId, a.station);
  });

  it('without expectedVersion, accept / reject / cancel: one decision from REQUESTED; only a cancel may follow an accept', async () => {
    // The table allows cancel from ACCEPTED, so when an accept wins, the first cancel after it is a legal second step.
    for (let round = 0; round < 3; round++) {
      const personId = await personAtStation(hub, a.station);
      const r = await requestFor(hub, personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
      const results = await Promise.all(mix(['accept', 'reject', 'cancel'], 20).map((m) => call(m, r.id)));
      const won = results.filter((x) => x.ok).map((x) => x.move);
      const history = await events(r.id);
      expect(history[0]).toEqual({ type: 'REQUESTED', status: 'REQUESTED' });
      const steps = history.slice(1).map((e) => e.type);
      // What happened is a legal path of the machine, in the order the locks were granted.
      expect([['REJECTED'], ['CANCELLED'], ['ACCEPTED', 'CANCELLED']]).toContainEqual(steps);
      expect(won.sort()).toEqual(steps.map((t) => ({ ACCEPTED: 'accept', REJECTED: 'reject', CANCELLED: 'cancel' })[t]!).sort());
      const final = history.at(-1)!.status;
      for (const loser of results.filter((x) => !x.ok)) {
        const ext = loser.errors![0].extensions!;
        expect(ext.code).toBe('INVALID_TRANSITION');
        expect(['ACCEPTED', final]).toContain(ext.status);
      }
      const now = (await hub.ok(ReferralTimesDocument, { id: r.id }, a.station.token)).referral!;
      expect({ status: now.status, version: now.version }).toEqual({ status: final, version: history.length });
      await expectLedgerIntact(personId, a.station);
    }
  });

  it('a dispatch racing a cancel after acceptance: custody ends with exactly one holder, consistent with the outcome', async () => {
    for (let round = 0; round < 3; round++) {
      const personId = await personAtStation(hub, a.station);
      const r = await requestFor(hub, personId, 'WELFARE_PLACEMENT', a.welfareHome, a.station);
      await hub.ok(AcceptReferralDocument, { input: { referralId: r.id } }, a.welfareHome.token);
      const calls = Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0
          ? hub.request(
              DispatchReferralDocument,
              { input: { referralId: r.id, escortNames: ['警'], escortAgencyId: a.police.id } },
              a.station.token,
            )
          : hub.request(CancelReferralDocument, { input: { referralId: r.id } }, a.station.token),
      );
      await Promise.all(calls);
      const history = await events(r.id);
      const final = history.at(-1)!.status;
      // Either cancelled straight away (station keeps the person), or dispatched and then cancelled (back to the station).
      expect([
        ['REQUESTED', 'ACCEPTED', 'CANCELLED'],
        ['REQUESTED', 'ACCEPTED', 'DISPATCHED', 'CANCELLED'],
      ]).toContainEqual(history.map((e) => e.type));
      expect(final).toBe('CANCELLED');
      const open = await sql<{ holder_id: string }>(`SELECT holder_id FROM custody_record WHERE person_id = $1 AND to_at IS NULL`, [
        uuidOf(personId),
      ]);
      expect(open).toEqual([{ holder_id: uuidOf(a.station.id) }]);
    }
  });

  /**
   * Runs `call` while another transaction holds the person's lock and moves their custody to `holder` (as a
   * second hub process would), and lets that transaction commit once `call` waits for the lock in PostgreSQL.
   * `waiting` is the head of the statement that waits (pg_stat_activity keeps the first 1 kB of a text).
   */
  async function whileCustodyMoves<T>(personId: string, holder: TestAgency, waiting: string, call: () => Promise<T>): Promise<T> {
    const other = hub.hub.db.createQueryRunner();
    await other.connect();
    try {
      await other.startTransaction();
      await other.query(`SELECT 1 FROM person WHERE id = $1 FOR UPDATE`, [uuidOf(personId)]);
      await other.query(`UPDATE custody_record SET to_at = now() WHERE person_id = $1 AND to_at IS NULL`, [uuidOf(personId)]);
      await other.query(`INSERT INTO custody_record (person_id, holder_id, from_at) VALUES ($1, $2, now())`, [
        uuidOf(personId),
        uuidOf(holder.id),
      ]);
      const pending = call();
      for (let waited = 0; ; waited += 20) {
        const [w] = await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND starts_with(query, $1)`,
          [waiting],
        );
        if (w.n > 0) break;
        if (waited > 10_000) throw new Error('the call never waited for the lock');
        await new Promise((res) => setTimeout(res, 20));
      }
      await other.commitTransaction();
      return await pending;
    } finally {
      if (other.isTransactionActive) await other.rollbackTransaction();
      await other.release();
    }
  }

  it("a step that waited for the person's lock decides with the custodian the lock's holder left, not the one it saw before", async () => {
    // Once the other transaction commits, the station no longer holds the person and may not dispatch.
    const personId = await personAtStation(hub, a.station);
    const r = await requestFor(hub, personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.station);
    await hub.ok(AcceptReferralDocument, { input: { referralId: r.id } }, a.hospital.token);
    // The step's row locks wait; the guarded statement behind them then sees the police's custody and changes nothing.
    const res = await whileCustodyMoves(personId, a.police, 'SELECT 1 FROM referral r JOIN person p', () =>
      hub.request(DispatchReferralDocument, { input: { referralId: r.id, escortNames: ['王站员'] } }, a.station.token),
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await events(r.id)).map((e) => e.type)).toEqual(['REQUESTED', 'ACCEPTED']);
    const open = await sql<{ holder_id: string }>(`SELECT holder_id FROM custody_record WHERE person_id = $1 AND to_at IS NULL`, [
      uuidOf(personId),
    ]);
    expect(open).toEqual([{ holder_id: uuidOf(a.police.id) }]);
    // The police, who hold the person now, may dispatch (CUSTODIAN), though they are no party to the referral.
    const moved = await hub.request(DispatchReferralDocument, { input: { referralId: r.id, escortNames: ['李警官'] } }, a.police.token);
    expect(moved.errors).toBeUndefined();
  });

  it("a request that waited for the person's lock sends the person from whoever holds them once it has the lock", async () => {
    const personId = await personAtStation(hub, a.station);
    const r = await whileCustodyMoves(personId, a.police, 'SELECT 1 FROM person p WHERE p.id', () =>
      requestFor(hub, personId, 'PSYCHIATRIC_EVALUATION', a.hospital, a.station),
    );
    const [row] = await sql<{ from_agency_id: string }>(`SELECT from_agency_id FROM referral WHERE id = $1`, [uuidOf(r.id)]);
    expect(row).toEqual({ from_agency_id: uuidOf(a.police.id) });
  });
});

// ---------------------------------------------------------------- expiry

describe('the expiry sweep', () => {
  /** Referrals of several kinds in REQUESTED and ACCEPTED; returns them with who holds each person. */
  async function pending(n: number) {
    const out: { id: string; personId: string; holder: string; version: number }[] = [];
    for (let i = 0; i < n; i++) {
      const personId = await personAtStation(hub, a.station);
      const [kind, to] = (
        [
          ['WELFARE_PLACEMENT', a.welfareHome],
          ['PSYCHIATRIC_EVALUATION', a.hospital],
          ['RETURN_TO_ORIGIN', a.originOffice],
        ] as const
      )[i % 3];
      let r = await requestFor(hub, personId, kind, to, a.station);
      if (i % 2 === 1) r = (await hub.ok(AcceptReferralDocument, { input: { referralId: r.id } }, to.token)).acceptReferral;
      out.push({ id: r.id, personId, holder: a.station.id, version: r.version });
    }
    return out;
  }

  const custodyOf = (personIds: string[]) =>
    sql<{ person_id: string; holder_id: string; from_at: Date; to_at: Date | null }>(
      `SELECT person_id, holder_id, from_at, to_at FROM custody_record WHERE person_id = ANY($1::uuid[]) ORDER BY person_id, from_at, id`,
      [personIds.map(uuidOf)],
    );

  it('expires each overdue referral exactly once when two sweeps run at once, with an actor-less event and custody unchanged', async () => {
    for (let round = 0; round < 2; round++) {
      const due = await pending(8);
      // Not overdue, and overdue but not expirable (in transit): the sweep leaves both alone.
      const notDue = (await pending(1))[0];
      const escort = (
        await hub.ok(
          LogEscortedPersonDocument,
          { input: { person: { gender: 'MALE' }, stationId: a.station.id, foundAt: '桥下', escortNames: ['警'] } },
          a.police.token,
        )
      ).logEscortedPerson;
      const custodyBefore = await custodyOf([...due.map((d) => d.personId), escort.person.id]);
      await sql(`UPDATE referral SET respond_by = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [
        [...due.map((d) => d.id), escort.id].map(uuidOf),
      ]);

      const counts = await Promise.all([sweepExpired(hub.hub.db), sweepExpired(hub.hub.db)]);
      expect(counts[0] + counts[1]).toBe(due.length);
      // Nothing is left to expire.
      expect(await sweepExpired(hub.hub.db)).toBe(0);

      const rows = await sql<{ id: string; status: string; version: number; expired: number; actorless: number }>(
        `SELECT r.id, r.status, r.version,
                count(e.*) FILTER (WHERE e.type = 'EXPIRED')::int AS expired,
                count(e.*) FILTER (WHERE e.type = 'EXPIRED' AND e.actor_account_id IS NULL AND e.actor_agency_id IS NULL)::int AS actorless
           FROM referral r JOIN referral_event e ON e.referral_id = r.id
          WHERE r.id = ANY($1::uuid[]) GROUP BY r.id`,
        [due.map((d) => uuidOf(d.id))],
      );
      expect(rows).toHaveLength(due.length);
      for (const d of due) {
        const row = rows.find((x) => x.id === uuidOf(d.id))!;
        expect({ status: row.status, version: row.version, expired: row.expired, actorless: row.actorless }).toEqual({
          status: 'EXPIRED',
          version: d.version + 1,
          expired: 1,
          actorless: 1,
        });
      }
      // Through the API: the last event is EXPIRED, raised by the hub itself (no actor).
      const seen = (await hub.ok(ReferralTimesDocument, { id: due[0].id }, a.station.token)).referral!;
      expect(seen.status).toBe('EXPIRED');
      expect(seen.history.at(-1)).toMatchObject({ type: 'EXPIRED', actor: null });

      expect(await custodyOf([...due.map((d) => d.personId), escort.person.id])).toEqual(custodyBefore);
      expect((await hub.ok(ReferralTimesDocument, { id: notDue.id }, a.station.token)).referral!.status).toBe('REQUESTED');
      expect((await hub.ok(ReferralTimesDocument, { id: escort.id }, a.police.token)).referral!.status).toBe('IN_TRANSIT');
      // Tidy: the not-due referral must not be swept by a later round.
      await hub.ok(CancelReferralDocument, { input: { referralId: notDue.id } }, a.station.token);
    }
  });

  it('expires each referral once when five sweeps race over many, in small batches', async () => {
    const due = await pending(24);
    await sql(`UPDATE referral SET respond_by = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [due.map((d) => uuidOf(d.id))]);
    let total = 0;
    for (let i = 0; i < 10 && total < due.length; i++) {
      const counts = await Promise.all(Array.from({ length: 5 }, () => sweepExpired(hub.hub.db, 4)));
      total += counts.reduce((x, y) => x + y, 0);
    }
    expect(total).toBe(due.length);
    const [{ events: n, distinct }] = await sql<{ events: number; distinct: number }>(
      `SELECT count(*)::int AS events, count(DISTINCT referral_id)::int AS distinct FROM referral_event
        WHERE type = 'EXPIRED' AND referral_id = ANY($1::uuid[])`,
      [due.map((d) => uuidOf(d.id))],
    );
    expect({ n, distinct }).toEqual({ n: due.length, distinct: due.length });
  });

  it('an answer racing the sweep: the referral is either answered or expired, never both', async () => {
    const due = await pending(10);
    await sql(`UPDATE referral SET respond_by = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [due.map((d) => uuidOf(d.id))]);
    const answers = due.map((d) => hub.request(CancelReferralDocument, { input: { referralId: d.id } }, a.station.token));
    const [swept, ...results] = await Promise.all([sweepExpired(hub.hub.db), ...answers]);
    const cancelled = results.filter((r) => !r.errors?.length).length;
    for (const r of results.filter((x) => x.errors?.length))
      expect(r.errors![0].extensions).toMatchObject({ code: 'INVALID_TRANSITION', status: 'EXPIRED' });
    expect(swept + cancelled).toBe(due.length);
    const terminal = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM referral_event WHERE type IN ('EXPIRED', 'CANCELLED') AND referral_id = ANY($1::uuid[])`,
      [due.map((d) => uuidOf(d.id))],
    );
    expect(terminal[0].n).toBe(due.length);
  });

  it('runs by itself in the background (HUB_EXPIRY_SWEEP)', async () => {
    const bg = await startTestHub({ HUB_EXPIRY_SWEEP: '200ms' });
    try {
      const b = await theSeedAgencies(bg);
      const personId = await personAtStation(bg, b.station);
      const r = await requestFor(bg, personId, 'WELFARE_PLACEMENT', b.welfareHome, b.station);
      const fresh = await requestFor(bg, await personAtStation(bg, b.station), 'PSYCHIATRIC_EVALUATION', b.hospital, b.station);
      await bg.hub.db.query(`UPDATE referral SET respond_by = now() - interval '1 minute' WHERE id = $1`, [uuidOf(r.id)]);
      const deadline = Date.now() + 5_000;
      let status: string | undefined;
      while (Date.now() < deadline) {
        status = (await bg.ok(ReferralTimesDocument, { id: r.id }, b.station.token)).referral!.status;
        if (status === 'EXPIRED') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe('EXPIRED');
      const seen = (await bg.ok(ReferralTimesDocument, { id: r.id }, b.station.token)).referral!;
      expect(seen.history.map((e) => [e.type, e.actor === null])).toEqual([
        ['REQUESTED', false],
        ['EXPIRED', true],
      ]);
      // A referral still within its time is left alone.
      expect((await bg.ok(ReferralTimesDocument, { id: fresh.id }, b.station.token)).referral!.status).toBe('REQUESTED');
    } finally {
      await bg.stop();
    }
  });
});
