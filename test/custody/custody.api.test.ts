import {
  CloseCaseDocument,
  ConfirmReceiptDocument,
  DispatchReferralDocument,
  LogEscortedPersonDocument,
  OpenCaseDocument,
  PersonDocument,
  RequestReferralDocument,
} from '../generated/graphql';
import { errorOf, openCaseFor, thisYear, uuidOf } from '../persons/people';
import { theSeedAgencies } from '../support/builders';
import { startTestHub, type TestHub } from '../support/hub';

let hub: TestHub;
let a: Awaited<ReturnType<typeof theSeedAgencies>>;
beforeAll(async () => {
  hub = await startTestHub();
  a = await theSeedAgencies(hub);
});
afterAll(() => hub.stop());

const personAs = async (id: string, token = a.station.token) => (await hub.ok(PersonDocument, { id }, token)).person!;
const openRecords = async (personId: string) =>
  (
    (await hub.hub.db.query(`SELECT count(*)::int AS n FROM custody_record WHERE person_id = $1 AND to_at IS NULL`, [
      uuidOf(personId),
    ])) as { n: number }[]
  )[0].n;

describe('custody', () => {
  it('gives custody to the station when nobody holds the person', async () => {
    const c = await openCaseFor(hub, a.station.token, { name: '张建国' });
    expect(c.person.custodian).toEqual({ id: a.station.id });
    expect(c.person.custodyHistory).toHaveLength(1);
    const [record] = c.person.custodyHistory;
    expect(record).toMatchObject({ holder: { id: a.station.id }, to: null });
    expect(Math.abs(Date.parse(record.from) - Date.parse(c.openedAt))).toBeLessThan(5_000);
  });

  it('leaves custody with the police who hold the person until the hand-off, then passes it to the station', async () => {
    const { logEscortedPerson } = await hub.ok(
      LogEscortedPersonDocument,
      { input: { stationId: a.station.id, foundAt: '长湖路口', escortNames: ['李警官'], person: { gender: 'MALE' } } },
      a.police.token,
    );
    const personId = logEscortedPerson.person.id;
    const { openCase } = await hub.ok(OpenCaseDocument, { input: { intakeChannel: 'POLICE_ESCORT', personId } }, a.station.token);
    expect(openCase.person.custodian).toEqual({ id: a.police.id });
    expect(openCase.person.custodyHistory.map((r) => r.holder.id)).toEqual([a.police.id]);

    await hub.ok(ConfirmReceiptDocument, { input: { referralId: logEscortedPerson.id } }, a.station.token);
    const person = await personAs(personId);
    expect(person.custodian).toEqual({ id: a.station.id });
    const [police, station] = person.custodyHistory;
    expect([police.holder.id, station.holder.id]).toEqual([a.police.id, a.station.id]);
    expect(police.to).toBe(station.from); // no gap, no overlap
    expect(station.to).toBeNull();
    expect(person.cases.map((c) => c.id)).toEqual([openCase.id]); // the hand-off keeps the case already open
  });

  it('releases custody when the case closes and gives it back with a new record when a new case opens', async () => {
    const first = await openCaseFor(hub, a.station.token, { birthYear: thisYear() - 30 });
    await hub.ok(CloseCaseDocument, { input: { caseId: first.id, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
    const released = await personAs(first.person.id);
    expect(released.custodian).toBeNull();
    expect(released.custodyHistory).toHaveLength(1);
    expect(released.custodyHistory[0].to).not.toBeNull();
    expect(await openRecords(first.person.id)).toBe(0);

    await hub.ok(OpenCaseDocument, { input: { intakeChannel: 'SELF_PRESENTED', personId: first.person.id } }, a.station.token);
    const again = await personAs(first.person.id);
    expect(again.custodian).toEqual({ id: a.station.id });
    expect(again.custodyHistory.map((r) => r.to === null)).toEqual([false, true]);
    expect(await openRecords(first.person.id)).toBe(1);
  });

  it('keeps exactly one open custody record per person as a fact of the database', async () => {
    const c = await openCaseFor(hub, a.station.token, {});
    const personId = uuidOf(c.person.id);
    await expect(
      hub.hub.db.query(`INSERT INTO custody_record (person_id, holder_id, from_at) VALUES ($1, $2, now())`, [
        personId,
        uuidOf(a.police.id),
      ]),
    ).rejects.toMatchObject({ driverError: { code: '23505', constraint: 'custody_one_open_per_person' } });
    // Closed spans are history and may be many.
    await hub.hub.db.query(
      `INSERT INTO custody_record (person_id, holder_id, from_at, to_at) VALUES ($1, $2, now() - interval '2 days', now() - interval '1 day')`,
      [personId, uuidOf(a.police.id)],
    );
    expect(await openRecords(c.person.id)).toBe(1);
  });

  describe('a person another agency holds while the station’s case is open (in hospital for evaluation)', () => {
    let caseId: string;
    let personId: string;
    beforeAll(async () => {
      const c = await openCaseFor(hub, a.station.token, { birthYear: thisYear() - 45, name: '刘某' });
      caseId = c.id;
      personId = c.person.id;
      const { requestReferral } = await hub.ok(
        RequestReferralDocument,
        { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id } },
        a.station.token,
      );
      await hub.ok(DispatchReferralDocument, { input: { referralId: requestReferral.id, escortNames: ['站内工作人员'] } }, a.station.token);
      await hub.ok(ConfirmReceiptDocument, { input: { referralId: requestReferral.id } }, a.hospital.token);
    });

    it('is held by the hospital while the station’s case stays open', async () => {
      const person = await personAs(personId);
      expect(person.custodian).toEqual({ id: a.hospital.id });
      expect(person.currentCase).toEqual({ id: caseId });
    });

    it('cannot be let go by the station while the hospital holds the person (INVALID_TRANSITION)', async () => {
      const res = await hub.request(CloseCaseDocument, { input: { caseId, outcome: 'LEFT_VOLUNTARILY' } }, a.station.token);
      expect(errorOf(res)).toMatchObject({ code: 'INVALID_TRANSITION' });
      expect((await personAs(personId)).custodian).toEqual({ id: a.hospital.id });
    });

    it('closes as DECEASED nonetheless, and nobody holds the person any more', async () => {
      const { closeCase } = await hub.ok(CloseCaseDocument, { input: { caseId, outcome: 'DECEASED' } }, a.station.token);
      expect(closeCase).toMatchObject({ status: 'CLOSED', outcome: 'DECEASED' });
      const person = await personAs(personId);
      expect(person.custodian).toBeNull();
      expect(person.custodyHistory.every((r) => r.to !== null)).toBe(true);
    });
  });
});
