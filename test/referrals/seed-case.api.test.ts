import {
  AcceptReferralDocument,
  AssignBedDocument,
  CloseCaseForSeedDocument,
  ConfirmReceiptDocument,
  DispatchReferralDocument,
  LogEscortedPersonDocument,
  OpenCaseForSeedDocument,
  PersonViewDocument,
  RecordDiagnosisDocument,
  ReferralDocument,
  RejectReferralDocument,
  RequestReferralDocument,
  VerifyIdentityForSeedDocument,
} from '../generated/graphql';
import { checkCharacter } from '../../src/persons/identity-number';
import { theSeedAgencies } from '../support/builders';
import { codeOf, startTestHub, type TestHub } from '../support/hub';

/** A valid GB 11643 number: a man born 1978 in 邵阳 (430521). */
const ID17 = '43052119780315123';
const ID_NUMBER = ID17 + checkCharacter(ID17);

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.stop());

describe("the second seed's case, end to end", () => {
  it('police → station (turned away) → psychiatric hospital → back to the station → home, with custody right at every step', async () => {
    const a = await theSeedAgencies(hub);

    // 长湖派出所 logs an escorted man of unknown identity.
    const escort = (
      await hub.ok(
        LogEscortedPersonDocument,
        {
          input: {
            person: { gender: 'MALE', description: '男，约四十岁，言语混乱' },
            stationId: a.station.id,
            foundAt: '长湖路与解放路口',
            escortNames: ['李警官', '群众甲', '群众乙'],
            idempotencyKey: 'phone-retry-1',
          },
        },
        a.police.token,
      )
    ).logEscortedPerson;
    expect(escort).toMatchObject({ kind: 'ESCORT_TO_STATION', status: 'IN_TRANSIT', person: { custodian: { id: a.police.id } } });
    expect(escort.history.map((e) => e.type)).toEqual(['REQUESTED', 'DISPATCHED']);
    const personId = escort.person.id;

    // The station turns the escort away: suspected mental illness needs an evaluation first.
    const rejected = (
      await hub.ok(
        RejectReferralDocument,
        {
          input: {
            referralId: escort.id,
            reason: 'NEEDS_PSYCHIATRIC_EVALUATION',
            expectedVersion: escort.version,
            note: '疑似精神障碍，请先送医鉴定',
          },
        },
        a.station.token,
      )
    ).rejectReferral;
    expect(rejected.history.at(-1)).toMatchObject({ type: 'REJECTED', note: '疑似精神障碍，请先送医鉴定' });
    expect(rejected).toMatchObject({
      status: 'REJECTED',
      rejectionReason: 'NEEDS_PSYCHIATRIC_EVALUATION',
      person: { custodian: { id: a.police.id } },
    });

    // It still registers his case while the police hold him: custody stays with the police.
    const opened = (await hub.ok(OpenCaseForSeedDocument, { input: { personId, intakeChannel: 'POLICE_ESCORT' } }, a.station.token))
      .openCase;
    expect(opened.caseNumber).toMatch(/^HY-\d{4}-000001$/);
    expect((await hub.ok(PersonViewDocument, { id: personId }, a.station.token)).person!.custodian!.id).toBe(a.police.id);

    // ... and writes the evaluation request to 第二精神病医院, which may not refuse it.
    const evaluation = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id, reason: '疑似精神障碍' } },
        a.station.token,
      )
    ).requestReferral;
    expect(evaluation).toMatchObject({
      status: 'REQUESTED',
      requestedBy: { id: a.station.id },
      fromAgency: { id: a.police.id },
      case: { id: opened.id },
    });
    expect(
      codeOf(await hub.request(RejectReferralDocument, { input: { referralId: evaluation.id, reason: 'NO_CAPACITY' } }, a.hospital.token)),
    ).toBe('INVALID_TRANSITION');

    // The police drive him there (no acceptance needed for an evaluation).
    const dispatched = (
      await hub.ok(DispatchReferralDocument, { input: { referralId: evaluation.id, escortNames: ['李警官'] } }, a.police.token)
    ).dispatchReferral;
    expect(dispatched).toMatchObject({
      status: 'IN_TRANSIT',
      escortAgency: { id: a.police.id },
      person: { custodian: { id: a.police.id } },
    });

    const received = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: evaluation.id } }, a.hospital.token)).confirmReceipt;
    expect(received).toMatchObject({ status: 'RECEIVED', person: { custodian: { id: a.hospital.id } } });
    await hub.ok(
      RecordDiagnosisDocument,
      { input: { referralId: evaluation.id, icd10Code: 'F20.9', summary: '精神分裂症' } },
      a.hospital.token,
    );
    await hub.ok(AssignBedDocument, { input: { referralId: evaluation.id, ward: '二病区', bed: '12' } }, a.hospital.token);

    // The station sees each step without phoning: status, custodian, diagnosis, bed.
    const seen = (await hub.ok(ReferralDocument, { id: evaluation.id }, a.station.token)).referral!;
    expect(seen).toMatchObject({
      status: 'RECEIVED',
      diagnosis: { icd10Code: 'F20.9', hospital: { id: a.hospital.id } },
      bed: { ward: '二病区', bed: '12' },
    });
    expect(seen.history.map((e) => e.type)).toEqual(['REQUESTED', 'DISPATCHED', 'RECEIVED', 'DIAGNOSIS_RECORDED', 'BED_ASSIGNED']);
    const cursors = seen.history.map((e) => e.cursor);
    expect(new Set(cursors).size).toBe(cursors.length);
    // The police never see the diagnosis (精神卫生法 第四条).
    expect((await hub.ok(ReferralDocument, { id: evaluation.id }, a.police.token)).referral!.diagnosis).toBeNull();
    const asStation = (await hub.ok(PersonViewDocument, { id: personId }, a.station.token)).person!;
    expect(asStation.vulnerabilities).toContain('MENTAL_ILLNESS');
    expect(asStation.diagnoses).toEqual([{ icd10Code: 'F20.9' }]);

    // He is identified; the hospital discharges him back to the station.
    const verified = (
      await hub.ok(VerifyIdentityForSeedDocument, { input: { personId, name: '王某', idNumber: ID_NUMBER } }, a.police.token)
    ).verifyIdentity;
    expect(verified).toMatchObject({ identityStatus: 'VERIFIED', originRegionCode: '430521' });
    const back = (
      await hub.ok(RequestReferralDocument, { input: { personId, kind: 'RETURN_TO_STATION', toAgencyId: a.station.id } }, a.hospital.token)
    ).requestReferral;
    await hub.ok(DispatchReferralDocument, { input: { referralId: back.id, escortNames: ['护士张'] } }, a.hospital.token);
    await hub.ok(ConfirmReceiptDocument, { input: { referralId: back.id } }, a.station.token);
    expect((await hub.ok(PersonViewDocument, { id: personId }, a.station.token)).person!.custodian!.id).toBe(a.station.id);

    // Home: the origin office of his prefecture accepts first, station staff escort him, the office confirms.
    const home = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
        a.station.token,
      )
    ).requestReferral;
    expect(
      codeOf(await hub.request(DispatchReferralDocument, { input: { referralId: home.id, escortNames: ['站员刘'] } }, a.station.token)),
    ).toBe('INVALID_TRANSITION');
    await hub.ok(AcceptReferralDocument, { input: { referralId: home.id } }, a.originOffice.token);
    await hub.ok(DispatchReferralDocument, { input: { referralId: home.id, escortNames: ['站员刘', '站员陈'] } }, a.station.token);
    const arrived = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: home.id } }, a.originOffice.token)).confirmReceipt;
    expect(arrived).toMatchObject({
      status: 'RECEIVED',
      case: { status: 'CLOSED', outcome: 'RETURNED_ESCORTED' },
      person: { custodian: null },
    });

    const last = (await hub.ok(PersonViewDocument, { id: personId }, a.station.token)).person!;
    expect(last.custodian).toBeNull();
    expect(last.currentCase).toBeNull();
    expect(last.custodyHistory.map((k) => k.holder.id)).toEqual([a.police.id, a.hospital.id, a.station.id, a.originOffice.id]);
    expect(last.custodyHistory.every((k) => k.to !== null)).toBe(true);
    // The police and the station see the number whole; the origin office of the return too.
    expect(last.idNumber).toBe(ID_NUMBER);
    expect((await hub.ok(PersonViewDocument, { id: personId }, a.originOffice.token)).person!.idNumber).toBe(ID_NUMBER);
    // A station elsewhere is no party: NOT_FOUND.
    expect(codeOf(await hub.request(PersonViewDocument, { id: personId }, a.otherStation.token))).toBe('NOT_FOUND');
  });

  it('sends a 12-year-old home only escorted: RETURNED_FUNDED is refused', async () => {
    const a = await theSeedAgencies(hub);
    const year = new Date().getUTCFullYear() - 12;
    const child = (
      await hub.ok(
        OpenCaseForSeedDocument,
        { input: { person: { gender: 'FEMALE', birthYear: year, originRegionCode: '430521' }, intakeChannel: 'STREET_OUTREACH' } },
        a.station.token,
      )
    ).openCase;
    expect(child.ageGroupAtOpening).toBe('MINOR');
    const funded = await hub.request(
      CloseCaseForSeedDocument,
      { input: { caseId: child.id, outcome: 'RETURNED_FUNDED', travelVoucher: { destination: '邵阳' } } },
      a.station.token,
    );
    expect(funded.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.outcome' });

    const person = (await hub.ok(PersonViewDocument, { id: (await caseOwner(child.id, a.station.token))! }, a.station.token)).person!;
    const home = (
      await hub.ok(
        RequestReferralDocument,
        { input: { personId: person.id, kind: 'RETURN_TO_ORIGIN', toAgencyId: a.originOffice.id } },
        a.station.token,
      )
    ).requestReferral;
    await hub.ok(AcceptReferralDocument, { input: { referralId: home.id, expectedVersion: home.version } }, a.originOffice.token);
    await hub.ok(DispatchReferralDocument, { input: { referralId: home.id, escortNames: ['站员刘'] } }, a.station.token);
    const done = (await hub.ok(ConfirmReceiptDocument, { input: { referralId: home.id } }, a.originOffice.token)).confirmReceipt;
    expect(done).toMatchObject({ case: { status: 'CLOSED', outcome: 'RETURNED_ESCORTED' }, person: { custodian: null } });
  });
});

async function caseOwner(caseGlobalId: string, _token: string): Promise<string | undefined> {
  const uuid = Buffer.from(caseGlobalId, 'base64url').toString().split(':')[1];
  const rows: { person_id: string }[] = await hub.hub.db.query('SELECT person_id FROM rescue_case WHERE id = $1', [uuid]);
  return rows[0] && Buffer.from(`Person:${rows[0].person_id}`).toString('base64url');
}
