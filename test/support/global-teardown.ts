import type { EmbeddedDatabase } from '../../src/db/embedded';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __hubTestPg?: EmbeddedDatabase }).__hubTestPg?.stop();
}
