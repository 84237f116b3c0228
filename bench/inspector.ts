import WebSocket from 'ws';

/**
 * A full garbage collection in another Node process, through its inspector (`--inspect=127.0.0.1:0`; the URL it
 * prints on stderr): HeapProfiler.collectGarbage, twice, so that what a weak reference or a finalizer let go of in
 * the first is gone too. For memory figures that count what a process holds, not the garbage its young
 * generation has not collected yet.
 */
export async function collectGarbage(inspectorUrl: string): Promise<void> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    let id = 0;
    const call = (method: string) =>
      new Promise<void>((resolve, reject) => {
        const mine = ++id;
        const onMessage = (data: WebSocket.RawData) => {
          const msg = JSON.parse(data.toString('utf8')) as { id?: number; error?: { message: string } };
          if (msg.id !== mine) return;
          ws.off('message', onMessage);
          if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
          else resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id: mine, method }));
      });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
  } finally {
    ws.close();
  }
}
