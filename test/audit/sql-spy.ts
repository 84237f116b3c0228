import net from 'node:net';
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

/**
 * Statements the hub sends in the background, whatever request is running: the event feed's reads and wake-ups
 * (src/events), the referral expiry sweep and a token lookup (cached per process afterwards).
 */
const BACKGROUND = /^WITH snap AS|pg_notify|^WITH expired AS|^SELECT a\.id AS account_id/;

/** statementsDuring without the hub's background statements: what the request itself asked of PostgreSQL. */
export async function requestStatementsDuring(work: () => Promise<unknown>): Promise<string[]> {
  return (await statementsDuring(work)).filter((t) => !BACKGROUND.test(t));
}

/**
 * statementsDuring, each statement with how many socket writes this process had made when it was sent: statements
 * with the same number left PostgreSQL's way in one write (nothing was written between them, so they went out
 * together), and each different number is one more round trip. Any socket counts, so a write elsewhere between two
 * statements makes them look apart, never together.
 */
export async function statementsAndWritesDuring(work: () => Promise<unknown>): Promise<{ text: string; write: number }[]> {
  const seen: { text: string; write: number }[] = [];
  let writes = 0;
  const socket = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = { write: socket._write, writev: socket._writev, query: proto.query };
  socket._write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return original.write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    writes++;
    return original.writev.apply(this, args);
  };
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : (q as { text?: string } | null)?.text;
    if (typeof text === 'string') seen.push({ text: text.trim(), write: writes });
    return original.query.apply(this, args);
  };
  try {
    await work();
  } finally {
    socket._write = original.write;
    socket._writev = original.writev;
    proto.query = original.query;
  }
  return seen;
}
