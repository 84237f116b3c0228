import { appendReferralEvents } from '../../src/events/outbox';
import { uuidOf } from '../../src/shared/relay';
import { EvDispatchDocument, EvOpenCaseDocument, EvRequestReferralDocument } from '../generated/graphql';
import type { theSeedAgencies } from '../support/builders';
import type { TestHub } from '../support/hub';

export type Agencies = Awaited<ReturnType<typeof theSeedAgencies>>;

let people = 0;

/** A man who walked into the station: an open case, custody with the station. */
export async function aPersonAtTheStation(hub: TestHub, a: Agencies, station = a.station): Promise<{ caseId: string; personId: string }> {
  const { openCase } = await hub.ok(
    EvOpenCaseDocument,
    { input: { intakeChannel: 'SELF_PRESENTED', person: { gender: 'MALE', birthYear: 1980, description: `来站求助者 ${++people}` } } },
    station.token,
  );
  return { caseId: openCase.id, personId: openCase.person.id };
}

/** The station asks the hospital to evaluate its person (REQUESTED); returns the referral's id. */
export async function anEvaluationRequest(hub: TestHub, a: Agencies, personId: string, station = a.station): Promise<string> {
  const { requestReferral } = await hub.ok(
    EvRequestReferralDocument,
    { input: { personId, kind: 'PSYCHIATRIC_EVALUATION', toAgencyId: a.hospital.id, reason: '疑似精神障碍' } },
    station.token,
  );
  return requestReferral.id;
}

export async function dispatch(hub: TestHub, token: string, referralId: string): Promise<void> {
  await hub.ok(EvDispatchDocument, { input: { referralId, escortNames: ['站员甲'] } }, token);
}

/**
 * Appends `n` events to a referral straight through the outbox, each in its
 * own transaction, `parallel` at a time: volume without HTTP round trips.
 */
export async function appendEvents(hub: TestHub, referralGlobalId: string, n: number, parallel = 1): Promise<void> {
  const referralId = uuidOf('Referral', referralGlobalId);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        await hub.hub.db.transaction((tx) =>
          appendReferralEvents(tx, [{ referralId, type: 'BED_ASSIGNED', status: 'REQUESTED', actorAccountId: null, actorAgencyId: null }]),
        );
      }
    }),
  );
}

/** Every seq in the database after `after`, in order. */
export async function committedSeqs(hub: TestHub, after = 0): Promise<number[]> {
  const rows: { seq: number }[] = await hub.hub.db.query('SELECT seq FROM referral_event WHERE seq > $1 ORDER BY seq', [after]);
  return rows.map((r) => Number(r.seq));
}

export async function latestSeqOf(hub: TestHub): Promise<number> {
  const [{ max }]: { max: number }[] = await hub.hub.db.query('SELECT coalesce(max(seq), 0)::int AS max FROM referral_event');
  return max;
}

/** A cursor's seq (cursors are opaque to clients; tests may look inside). */
export const seqOf = (cursor: string) => Number(Buffer.from(cursor, 'base64url').toString('utf8').slice(3));
