import type { Request, RequestHandler, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { Actor } from '../auth/actor';
import { ErrorCode } from '../shared/errors';
import { sendError } from './limits';

export interface RateDecision {
  allowed: boolean;
  /** The bucket's size: how many requests may come at once. */
  limit: number;
  /** Whole requests left in the bucket after this one. */
  remaining: number;
  /** Unix time (seconds) at which the bucket is full again. */
  resetAt: number;
  /** When refused: seconds until one request is allowed again (at least 1). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per caller, in this process's memory: `burst` requests at
 * once, refilled at `perMinute`. Several hub processes each keep their own,
 * so behind a load balancer a caller gets up to that many times the rate;
 * the limit is against floods and runaway clients, not a billing quota.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private lastSweepMs: number;

  constructor(
    readonly perMinute: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    this.lastSweepMs = now();
  }

  take(key: string): RateDecision {
    const now = this.now();
    this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.burst, updatedMs: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.updatedMs) * this.perMs);
    b.updatedMs = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.set(key, b);
    return {
      allowed,
      limit: this.burst,
      remaining: Math.floor(b.tokens),
      resetAt: Math.ceil((now + (this.burst - b.tokens) / this.perMs) / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)),
    };
  }

  /** A bucket that has refilled holds nothing worth keeping: forget it, so idle callers cost no memory. */
  private sweep(now: number): void {
    if (now - this.lastSweepMs < 60_000) return;
    this.lastSweepMs = now;
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.updatedMs) * this.perMs >= this.burst) this.buckets.delete(key);
    }
  }
}

/**
 * Whose bucket a request draws from: the account, the administrator, or —
 * for no token and for tokens that do not authenticate — the client address,
 * so that inventing tokens does not buy fresh buckets.
 */
export function rateLimitKey(actor: Actor | undefined, ip: string | undefined): string {
  if (actor?.kind === 'account') return `account:${actor.accountId}`;
  if (actor?.kind === 'admin') return 'admin';
  return `ip:${ip ?? 'unknown'}`;
}

export function rateLimited(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`Too many requests; retry in ${retryAfterSeconds} s.`, {
    extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds },
  });
}

/**
 * Express, before the body is parsed: GitHub-style `x-ratelimit-*` headers
 * on every answer; past the limit, HTTP 429 with RATE_LIMITED and
 * `retry-after`. `identify` resolves the caller (it never sees the body).
 */
export function rateLimitMiddleware(limiter: RateLimiter, identify: (req: Request, res: Response) => Promise<string>): RequestHandler {
  return async (req, res, next) => {
    const decision = limiter.take(await identify(req, res));
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
    if (decision.allowed) return next();
    sendError(res, 429, rateLimited(decision.retryAfterSeconds));
  };
}

/** The headers of a decision, on every answer of both HTTP paths (app.ts, graphql-http.ts); `retry-after` when refused. */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(decision.resetAt),
  };
  if (!decision.allowed) headers['retry-after'] = String(decision.retryAfterSeconds);
  return headers;
}
