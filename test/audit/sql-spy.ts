import { Client } from 'pg';

/**
 * Records the text of every statement that any pg Client of this process
 * sends while `work` runs. The hub under test runs in-process, so this sees
 * exactly what it asks PostgreSQL (TypeORM's pool is made of pg Clients).
 */
export async function statementsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : (q as { text?: string } | null)?.text;
    if (typeof text === 'string') seen.push(text.trim());
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    proto.query = original;
  }
  return seen;
}
