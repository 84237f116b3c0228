import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes; the prefix makes leaked tokens easy to find by secret scanners. */
export function generateToken(): string {
  return `hub_${randomBytes(32).toString('base64url')}`;
}

/**
 * Tokens are high-entropy, so a plain SHA-256 (not a slow password hash) is
 * enough to make a stolen database useless for logging in, and it lets the
 * lookup be one indexed equality.
 */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const configuredHashes = new Map<string, Buffer>();

/**
 * The hash of a token the hub is configured with (the administrator's): computed once, not at every request,
 * where it was two of the three SHA-256 a request cost (issue 7 profile: 3.8% of the hand-off's CPU).
 */
export function configuredTokenHash(token: string): Buffer {
  let hash = configuredHashes.get(token);
  if (!hash) {
    hash = hashToken(token);
    if (configuredHashes.size < 16) configuredHashes.set(token, hash);
  }
  return hash;
}

/** `Authorization: Bearer <token>` (HTTP) or the same string in connectionParams (WebSocket). */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
