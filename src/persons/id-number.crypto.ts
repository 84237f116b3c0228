import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * How resident ID numbers are kept (decided for issue 3):
 * - `hash` = HMAC-SHA256(key, number): deterministic, so the unique index and
 *   exact matching work, but useless without the key (a bare SHA-256 of an
 *   18-digit number with a known structure is brute-forced in minutes);
 * - `cipher` = AES-256-GCM(key, number) with a random IV: the only way to get
 *   the number back, for the agencies allowed to see it whole.
 * The key (HUB_ID_NUMBER_KEY) lives outside the database, so a stolen dump
 * holds no ID number in any readable form, in no table and no index.
 */
export function idNumberHash(key: Buffer, normalized: string): Buffer {
  return createHmac('sha256', key).update(`idnumber:${normalized}`).digest();
}

export function encryptIdNumber(key: Buffer, normalized: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(normalized, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function decryptIdNumber(key: Buffer, blob: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
  decipher.setAuthTag(blob.subarray(12, 28));
  return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
}
