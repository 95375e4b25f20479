/**
 * A TCP proxy that can hold back what the server sends, to stand for a registry slower to tell
 * its clients than a direct notification is (in the test network ZooKeeper's watch reaches a
 * consumer within tens of milliseconds, as fast as the read-only event and the GoAway, so which
 * one acts first would be chance). Clients connect to the proxy instead of the server; while a
 * delay is set, every chunk from the server reaches the client that much later, in order.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface DelayProxy {
  /** "host:port" to give clients instead of the server's. */
  readonly connectString: string;
  /** Server-to-client delay from now on (0: none); data already held keeps its order. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startDelayProxy(host: string, target: { host: string; port: number }): Promise<DelayProxy> {
  let delay = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const queue: Array<{ due: number; data: Buffer }> = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = (): void => {
      timer = null;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) client.write(queue.shift()!.data);
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    };
    upstream.on('data', (data: Buffer) => {
      if (delay === 0 && queue.length === 0) {
        client.write(data);
        return;
      }
      // Never before what is already held: the client sees the server's bytes in order.
      queue.push({ due: Math.max(Date.now() + delay, queue.at(-1)?.due ?? 0), data });
      if (!timer) timer = setTimeout(flush, queue[0]!.due - Date.now());
    });
    client.pipe(upstream);
    const end = (): void => {
      if (timer) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('delay proxy: no address');
  return {
    connectString: `${host}:${address.port}`,
    setDelay: (ms) => {
      delay = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
