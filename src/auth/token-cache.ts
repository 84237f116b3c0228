import type { Actor } from './actor';

/** NOTIFY channel of revocations: the payload is the account's uuid (agency.service.ts sends it in the revoking transaction). */
export const ACCOUNT_REVOKED_CHANNEL = 'hub_account_revoked';

type AccountActor = Extract<Actor, { kind: 'account' }>;

/**
 * Tokens this process has recently seen authenticate, so that a request does
 * not pay a round trip to PostgreSQL before its real work (issue 7: one of
 * the three statements of a person read, and on this machine each round trip
 * is a write syscall costing ~0.1 ms of the hub's CPU).
 *
 * A revoked token must stop at once, so the cache is only used while it
 * hears of every revocation:
 * - the revoking process forgets the account when its transaction commits;
 * - every other process hears the revocation's NOTIFY (sent in the same
 *   transaction, delivered at its commit) on its listening connection, and
 *   forgets the account then: milliseconds after the commit;
 * - while that connection is down, or before it first listens, the cache is
 *   emptied and not used (every request looks its token up), since
 *   notifications may be missed;
 * - a lookup that raced a revocation (started before the notification, ended
 *   after it) is not kept;
 * - and whatever the notifications, an entry is kept at most `ttlMs`
 *   (HUB_TOKEN_CACHE): the bound should a listening connection die silently
 *   before its health check notices.
 * Unknown and revoked tokens are never kept: each try is looked up.
 */
export class TokenCache {
  private readonly entries = new Map<string, { actor: AccountActor; until: number }>();
  private generation = 0;
  private hearing = false;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Whether revocations reach this process now (its listening connection is up). */
  setHearing(hearing: boolean): void {
    this.hearing = hearing;
    this.generation++;
    this.entries.clear();
  }

  /** An account's token was revoked: its entries go, and lookups in flight are not kept. */
  forget(accountId: string): void {
    this.generation++;
    for (const [key, entry] of this.entries) if (entry.actor.accountId === accountId) this.entries.delete(key);
  }

  get(key: string): AccountActor | undefined {
    if (!this.hearing || this.ttlMs <= 0) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.actor;
  }

  /** Before a lookup: pass the answer to `keep` with it. */
  begin(): number {
    return this.generation;
  }

  keep(key: string, actor: AccountActor, generation: number): void {
    if (!this.hearing || this.ttlMs <= 0 || generation !== this.generation) return;
    this.entries.delete(key);
    this.entries.set(key, { actor, until: Date.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
