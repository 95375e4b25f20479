// The stand-in hosts of the cross-network tests: separate network namespaces that reach each other.
import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetwork, type TestNetwork } from '../../testkit/hosts.js';

let net: TestNetwork | undefined;
afterAll(() => net?.close());

/** Connects from inside a host to address:port and returns what the server said. */
function fetchFrom(netns: string, address: string, port: number): string {
  const code = `const s=require('net').connect(${port},'${address}');let d='';s.on('data',c=>d+=c);s.on('end',()=>{process.stdout.write(d)});s.on('error',e=>{process.stdout.write('ERR '+e.code)})`;
  return execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000 });
}

describe('test hosts', () => {
  it('two hosts reach each other, the test process reaches both, and nothing is left after close', async () => {
    net = createNetwork(2);
    const [a, b] = net.hosts;
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        b!.netns,
        process.execPath,
        '-e',
        `require('net').createServer(s=>s.end('from-b')).listen(9000,'${b!.address}',()=>console.log('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((r) => server.stdout.once('data', () => r()));
    try {
      expect(fetchFrom(a!.netns, b!.address, 9000)).toBe('from-b');
      expect(fetchFrom(a!.netns, '127.0.0.1', 9000)).toMatch(/^ERR/);
      const direct = await new Promise<string>((resolve) => {
        const s = connect(9000, b!.address);
        let d = '';
        s.on('data', (c: Buffer) => (d += c.toString()));
        s.on('end', () => resolve(d));
      });
      expect(direct).toBe('from-b');
    } finally {
      server.kill('SIGKILL');
    }
    net.close();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(a!.netns);
  });
});
