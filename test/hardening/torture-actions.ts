import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import {
  TtAcceptDocument,
  TtAssignBedDocument,
  TtCancelDocument,
  TtCloseCaseDocument,
  TtConfirmReceiptDocument,
  TtDispatchDocument,
  TtLogEscortedPersonDocument,
  TtOpenCaseDocument,
  TtRecordDiagnosisDocument,
  TtRejectDocument,
  TtRequestReferralDocument,
  type CaseOutcome,
  type CloseCaseInput,
  type IntakeChannel,
  type ReferralKind,
  type RejectionReason,
  type TortureCaseFragment,
  type TortureReferralFragment,
} from '../generated/graphql';
import { idNumber } from '../persons/people';
import type { theSeedAgencies } from '../support/builders';
import type { TestHub } from '../support/hub';

/**
 * The random clients of the fault tests (torture.api.test.ts, crash.test.ts):
 * each loops over random actions, legal and illegal, by random agencies, on a
 * small shared set of persons, referrals and cases, over HTTP as any client
 * would. What a client knows of the world (the latest referrals, their
 * versions, the cases) is what the answers told it, so it is often stale.
 */

export type Agencies = Awaited<ReturnType<typeof theSeedAgencies>>;
export type AgencyKey = keyof Agencies;
export const AGENCY_KEYS: AgencyKey[] = ['station', 'police', 'hospital', 'welfareHome', 'originOffice', 'otherStation'];

/** Codes of the contract a client may be answered with; anything else (INTERNAL_SERVER_ERROR, HTTP 5xx) is a fault. */
export const CONTRACT_CODES = new Set(['FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'INVALID_TRANSITION', 'CONFLICT']);

/** mulberry32: small, fast and good enough to replay a run's choices from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Reply<R> {
  /** 0: no HTTP answer at all (connection refused or reset, timeout). */
  http: number;
  data?: R | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  /** Why there is no usable answer. */
  failure?: string;
}

/** One GraphQL request over HTTP; never throws. */
export async function post<R, V>(
  url: string,
  doc: TypedDocumentNode<R, V>,
  variables: V,
  token: string,
  timeoutMs = 30_000,
): Promise<Reply<R>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(doc), variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { http: 0, failure: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `network: ${e.cause?.code ?? e.message}` };
  }
  let text = '';
  try {
    text = await res.text();
    const body = JSON.parse(text) as Pick<Reply<R>, 'data' | 'errors'>;
    return { http: res.status, data: body.data, errors: body.errors };
  } catch (err) {
    return { http: res.status, failure: text ? `not JSON: ${text.slice(0, 200)}` : `body lost: ${(err as Error).message}` };
  }
}

/**
 * A hub reached only over HTTP (another process, or one whose database the test stops), as far as
 * test/support/builders.ts needs one: `ok` and the administrator token.
 */
export function remoteHub(url: string, adminToken: string): TestHub {
  const hub: Pick<TestHub, 'adminToken' | 'ok'> = {
    adminToken,
    async ok(doc, variables, token) {
      const res = await post(url, doc, variables!, token ?? adminToken);
      if (!res.data || res.errors?.length) throw new Error(`setup failed: ${JSON.stringify(res)}`);
      return res.data;
    },
  };
  return hub as TestHub;
}

export interface KnownReferral {
  id: string;
  kind: ReferralKind;
  requestedBy: AgencyKey;
  from: AgencyKey;
  to: AgencyKey;
  /** The latest version some answer showed, and the status it showed with it. */
  version: number;
  status: string;
  personId: string;
}

export interface KnownCase {
  id: string;
  station: AgencyKey;
  /** As the last answer about it said (a case never reopens). */
  open: boolean;
}

/** What a client acknowledged as done (HTTP 200 with data): crash.test.ts checks each survives a kill -9. */
export type Ack = { what: 'referral'; id: string; version: number; status: string } | { what: 'case'; id: string; status: string | null };

export type Action =
  | 'request'
  | 'accept'
  | 'reject'
  | 'cancel'
  | 'dispatch'
  | 'confirmReceipt'
  | 'openCase'
  | 'closeCase'
  | 'logEscortedPerson'
  | 'recordDiagnosis'
  | 'assignBed';

const ACTION_WEIGHTS: [Action, number][] = [
  ['request', 16],
  ['accept', 10],
  ['reject', 6],
  ['cancel', 7],
  ['dispatch', 12],
  ['confirmReceipt', 12],
  ['openCase', 8],
  ['closeCase', 10],
  ['logEscortedPerson', 6],
  ['recordDiagnosis', 3],
  ['assignBed', 3],
];

export interface Outcome {
  action: Action;
  agency: AgencyKey;
  http: number;
  /** The error codes of the answer ([] when it succeeded). */
  codes: string[];
  failure?: string;
  acks: Ack[];
  /** For the failure message of a fault. */
  variables: unknown;
  message?: string;
  /** How long the answer took. */
  ms: number;
}

const RECEIVER: Record<ReferralKind, AgencyKey> = {
  ESCORT_TO_STATION: 'station',
  PSYCHIATRIC_EVALUATION: 'hospital',
  RETURN_TO_ORIGIN: 'originOffice',
  WELFARE_PLACEMENT: 'welfareHome',
  RETURN_TO_STATION: 'station',
};
const KINDS = Object.keys(RECEIVER) as ReferralKind[];
const REJECTIONS: RejectionReason[] = [
  'IDENTITY_NOT_ESTABLISHED',
  'NEEDS_MEDICAL_TREATMENT',
  'NEEDS_PSYCHIATRIC_EVALUATION',
  'NOT_IN_JURISDICTION',
  'NO_CAPACITY',
  'OTHER',
];
const INTAKE: IntakeChannel[] = ['SELF_PRESENTED', 'STREET_OUTREACH', 'PUBLIC_REPORT'];
const OPEN = new Set(['REQUESTED', 'ACCEPTED', 'IN_TRANSIT']);

/** What a well-meaning client would try next on a referral in the status it last saw. */
const NEXT_STEP: Record<string, [Action, number][]> = {
  REQUESTED: [
    ['accept', 4],
    ['dispatch', 3],
    ['reject', 2],
    ['cancel', 1],
  ],
  ACCEPTED: [
    ['dispatch', 6],
    ['cancel', 1],
  ],
  IN_TRANSIT: [
    ['confirmReceipt', 6],
    ['cancel', 1],
    ['reject', 1],
  ],
};

/** What it would do about a person. */
const PERSON_ACTIONS: [Action, number][] = [
  ['request', 6],
  ['openCase', 2],
  ['closeCase', 3],
  ['logEscortedPerson', 1],
  ['recordDiagnosis', 1],
  ['assignBed', 1],
];

/** The shared knowledge of all clients: ids seen in answers, newest last. */
export class World {
  readonly persons: string[] = [];
  readonly referrals: KnownReferral[] = [];
  readonly cases: KnownCase[] = [];
  private readonly referralIndex = new Map<string, KnownReferral>();
  private readonly caseIndex = new Map<string, KnownCase>();
  private readonly keyById = new Map<string, AgencyKey>();

  constructor(readonly agencies: Agencies) {
    for (const key of AGENCY_KEYS) this.keyById.set(agencies[key].id, key);
  }

  keyOf(agencyId: string): AgencyKey {
    const key = this.keyById.get(agencyId);
    if (!key) throw new Error(`unknown agency ${agencyId}`);
    return key;
  }

  learnReferral(r: TortureReferralFragment): Ack[] {
    let known = this.referralIndex.get(r.id);
    if (!known) {
      known = {
        id: r.id,
        kind: r.kind,
        requestedBy: this.keyOf(r.requestedBy.id),
        from: this.keyOf(r.fromAgency.id),
        to: this.keyOf(r.toAgency.id),
        version: r.version,
        status: r.status,
        personId: r.person.id,
      };
      this.referralIndex.set(r.id, known);
      this.referrals.push(known);
    }
    if (r.version >= known.version) Object.assign(known, { version: r.version, status: r.status });
    const acks: Ack[] = [{ what: 'referral', id: r.id, version: r.version, status: r.status }];
    if (r.case) acks.push(this.learnCase(r.case.id, r.case.station.id, null));
    return acks;
  }

  learnCase(id: string, stationId: string, status: string | null): Ack {
    let known = this.caseIndex.get(id);
    if (!known) {
      known = { id, station: this.keyOf(stationId), open: true };
      this.caseIndex.set(id, known);
      this.cases.push(known);
    }
    if (status === 'CLOSED') known.open = false;
    return { what: 'case', id, status };
  }

  /** Referrals last seen open. */
  openReferrals(): KnownReferral[] {
    return this.referrals.filter((r) => OPEN.has(r.status));
  }

  /** Who probably holds the person, judging by the last referral seen: the one to ask for a referral. */
  likelyHolder(personId: string): AgencyKey {
    for (let i = this.referrals.length - 1; i >= 0; i--) {
      const r = this.referrals[i];
      if (r.personId === personId) return r.status === 'RECEIVED' ? r.to : r.from;
    }
    return 'station';
  }

  learnCaseOf(c: TortureCaseFragment): Ack[] {
    if (!this.persons.includes(c.person.id)) this.persons.push(c.person.id);
    return [this.learnCase(c.id, c.station.id, c.status)];
  }
}

/** A small set of persons: half walked into the station (custody: station), half escorted by the police (IN_TRANSIT). */
export async function seedWorld(url: string, agencies: Agencies, persons: number): Promise<World> {
  const world = new World(agencies);
  await Promise.all(
    Array.from({ length: persons }, async (_, i) => {
      const person = { gender: 'MALE' as const, birthYear: 1970 + i, originRegionCode: '430521', description: `torture person ${i}` };
      if (i % 2 === 0) {
        const res = await post(url, TtOpenCaseDocument, { input: { person, intakeChannel: 'SELF_PRESENTED' } }, agencies.station.token);
        if (!res.data) throw new Error(`seeding: ${JSON.stringify(res)}`);
        world.learnCaseOf(res.data.openCase);
      } else {
        const res = await post(
          url,
          TtLogEscortedPersonDocument,
          { input: { person, stationId: agencies.station.id, foundAt: '长湖路口', escortNames: ['李警官'] } },
          agencies.police.token,
        );
        if (!res.data) throw new Error(`seeding: ${JSON.stringify(res)}`);
        world.persons.push(res.data.logEscortedPerson.person.id);
        world.learnReferral(res.data.logEscortedPerson);
      }
    }),
  );
  return world;
}

/** One client's choices, from its own seeded generator. */
class Chooser {
  constructor(
    readonly random: () => number,
    private readonly world: World,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  weighted<T>(choices: readonly [T, number][]): T {
    let x = this.random() * choices.reduce((s, [, w]) => s + w, 0);
    for (const [choice, w] of choices) if ((x -= w) < 0) return choice;
    return choices[0][0];
  }
  /** Mostly the newest, sometimes any. */
  recent<T>(items: readonly T[]): T | undefined {
    if (items.length === 0) return undefined;
    if (this.chance(0.2)) return this.pick(items);
    const window = Math.min(items.length, Math.max(4, this.world.persons.length * 2));
    return items[items.length - 1 - this.int(window)];
  }
  /** Usually the agency the action belongs to, sometimes anyone. */
  who(right: AgencyKey): AgencyKey {
    return this.chance(0.8) ? right : this.pick(AGENCY_KEYS);
  }
  /** Omitted, the last version seen (perhaps stale), or nonsense. */
  expectedVersion(r: KnownReferral): number | undefined {
    const x = this.random();
    return x < 0.4 ? undefined : x < 0.85 ? r.version : this.int(8);
  }

  /**
   * Seven times in ten what a client that believes its (possibly stale)
   * knowledge would do next; otherwise anything at all, legal or not.
   */
  next(): { action: Action; referral?: KnownReferral } {
    if (this.chance(0.3)) return { action: this.weighted(ACTION_WEIGHTS), referral: this.recent(this.world.referrals) };
    const open = this.world.openReferrals();
    if (open.length > 0 && this.chance(0.6)) {
      const referral = this.pick(open);
      return { action: this.weighted(NEXT_STEP[referral.status]), referral };
    }
    const action = this.weighted(PERSON_ACTIONS);
    const received = this.world.referrals.filter((r) => r.status === 'RECEIVED');
    return { action, referral: received.length > 0 && this.chance(0.7) ? this.recent(received) : this.recent(this.world.referrals) };
  }

  /** Preferably a person with no referral seen open. */
  person(): string {
    const busy = new Set(this.world.openReferrals().map((r) => r.personId));
    const free = this.world.persons.filter((p) => !busy.has(p));
    return free.length > 0 && this.chance(0.8) ? this.pick(free) : this.pick(this.world.persons);
  }
}

type Performed = { agency: AgencyKey; variables: unknown; reply: Reply<unknown>; learn: (data: unknown) => Ack[] };

/** Sends the chosen action with random (mostly plausible) arguments, and tells what came back. */
async function act(url: string, world: World, c: Chooser, action: Action, r: KnownReferral | undefined): Promise<Performed | undefined> {
  const a = world.agencies;
  const send = async <R, V>(
    doc: TypedDocumentNode<R, V>,
    agency: AgencyKey,
    variables: V,
    learn: (data: R) => Ack[],
  ): Promise<Performed> => ({
    agency,
    variables,
    reply: await post(url, doc, variables, a[agency].token),
    learn: learn as (data: unknown) => Ack[],
  });
  if (!r && !['request', 'openCase', 'closeCase', 'logEscortedPerson'].includes(action)) return undefined;
  switch (action) {
    case 'request': {
      const kind = c.pick(KINDS);
      const personId = c.person();
      const requester = c.weighted<AgencyKey>([
        ['station', 4],
        [world.likelyHolder(personId), 4],
        [c.pick(AGENCY_KEYS), 2],
      ]);
      const to = c.chance(0.85) ? RECEIVER[kind] : c.pick(AGENCY_KEYS);
      const input = { personId, kind, toAgencyId: a[to].id, reason: '压力测试' };
      if (c.chance(0.1)) Object.assign(input, { idempotencyKey: `request-${c.int(20)}` });
      return send(TtRequestReferralDocument, requester, { input }, (d) => world.learnReferral(d.requestReferral));
    }
    case 'accept':
      return send(TtAcceptDocument, c.who(r!.to), { input: { referralId: r!.id, expectedVersion: c.expectedVersion(r!) } }, (d) =>
        world.learnReferral(d.acceptReferral),
      );
    case 'reject':
      return send(
        TtRejectDocument,
        c.who(r!.to),
        { input: { referralId: r!.id, expectedVersion: c.expectedVersion(r!), reason: c.pick(REJECTIONS) } },
        (d) => world.learnReferral(d.rejectReferral),
      );
    case 'cancel':
      return send(TtCancelDocument, c.who(r!.requestedBy), { input: { referralId: r!.id, expectedVersion: c.expectedVersion(r!) } }, (d) =>
        world.learnReferral(d.cancelReferral),
      );
    case 'dispatch':
      return send(
        TtDispatchDocument,
        c.who(r!.from),
        {
          input: {
            referralId: r!.id,
            expectedVersion: c.expectedVersion(r!),
            escortNames: ['护送员甲'],
            escortAgencyId: c.chance(0.1) ? a.police.id : undefined,
          },
        },
        (d) => world.learnReferral(d.dispatchReferral),
      );
    case 'confirmReceipt':
      return send(TtConfirmReceiptDocument, c.who(r!.to), { input: { referralId: r!.id, expectedVersion: c.expectedVersion(r!) } }, (d) =>
        world.learnReferral(d.confirmReceipt),
      );
    case 'recordDiagnosis':
      return send(
        TtRecordDiagnosisDocument,
        c.who('hospital'),
        { input: { referralId: r!.id, icd10Code: c.pick(['F20.9', 'J18.9', 'F32', 'not-a-code']) } },
        (d) => world.learnReferral(d.recordDiagnosis),
      );
    case 'assignBed':
      return send(TtAssignBedDocument, c.who(r!.to), { input: { referralId: r!.id, ward: '二病区', bed: String(1 + c.int(40)) } }, (d) =>
        world.learnReferral(d.assignBed),
      );
    case 'openCase': {
      const station = c.weighted<AgencyKey>([
        ['station', 15],
        ['otherStation', 3],
        [c.pick(AGENCY_KEYS), 2],
      ]);
      const input = { personId: c.person(), intakeChannel: c.pick(INTAKE) };
      if (c.chance(0.15)) Object.assign(input, { idempotencyKey: `open-${c.int(20)}` });
      return send(TtOpenCaseDocument, station, { input }, (d) => world.learnCaseOf(d.openCase));
    }
    case 'closeCase': {
      const open = world.cases.filter((k) => k.open);
      const rescueCase = open.length > 0 && c.chance(0.8) ? c.pick(open) : c.recent(world.cases);
      if (!rescueCase) return undefined;
      const outcome = c.weighted<CaseOutcome>([
        ['LEFT_VOLUNTARILY', 3],
        ['RETURNED_FUNDED', 3],
        ['RETURNED_FAMILY_PICKUP', 3],
        ['DECEASED', 1],
        ['RETURNED_ESCORTED', 1],
      ]);
      const input: CloseCaseInput = { caseId: rescueCase.id, outcome };
      if (outcome === 'RETURNED_FUNDED' && c.chance(0.9)) input.travelVoucher = { destination: '邵阳市', ticketNumber: 'K1234' };
      if (outcome === 'RETURNED_FAMILY_PICKUP' && c.chance(0.9)) {
        input.collector = { name: '张丽', relationship: '女儿', idNumber: idNumber('430521', '19900101', 'FEMALE') };
      }
      return send(TtCloseCaseDocument, c.who(rescueCase.station), { input }, (d) => world.learnCaseOf(d.closeCase));
    }
    case 'logEscortedPerson': {
      const input = {
        personId: c.person(),
        stationId:
          a[
            c.weighted<AgencyKey>([
              ['station', 8],
              ['otherStation', 2],
              ['hospital', 1],
            ])
          ].id,
        foundAt: '长湖路口',
        escortNames: ['李警官'],
      };
      if (c.chance(0.15)) Object.assign(input, { idempotencyKey: `escort-${c.int(20)}` });
      return send(TtLogEscortedPersonDocument, c.who('police'), { input }, (d) => world.learnReferral(d.logEscortedPerson));
    }
  }
}

export interface ClientsOptions {
  url: string;
  world: World;
  clients: number;
  seed: number;
  /** Checked before each action. */
  stop: () => boolean;
  onOutcome: (o: Outcome) => void;
}

/** `clients` loops, each sending one request at a time until `stop()`; resolves when all have finished. */
export async function runClients(opts: ClientsOptions): Promise<void> {
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, i) => {
      const chooser = new Chooser(seededRandom(opts.seed + i * 7919), opts.world);
      while (!opts.stop()) {
        const { action, referral } = chooser.next();
        const started = Date.now();
        const done = await act(opts.url, opts.world, chooser, action, referral);
        if (!done) continue;
        const { reply } = done;
        const codes = (reply.errors ?? []).map((e) => String(e.extensions?.code ?? 'NO_CODE'));
        let acks: Ack[] = [];
        if (reply.http === 200 && reply.data && codes.length === 0) acks = done.learn(reply.data);
        opts.onOutcome({
          action,
          agency: done.agency,
          http: reply.http,
          codes,
          failure: reply.failure,
          acks,
          variables: done.variables,
          message: reply.errors?.[0]?.message,
          ms: Date.now() - started,
        });
      }
    }),
  );
}

/** Whether an answer is one the contract allows: a success, or only contract codes, and no 5xx. */
export function isContractAnswer(o: Outcome): boolean {
  if (o.failure || o.http === 0 || o.http >= 500) return false;
  return o.codes.every((code) => CONTRACT_CODES.has(code));
}
