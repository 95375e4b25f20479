/**
 * Hosts for tests that cross a network: each host is a network namespace with one veth into a
 * bridge in the test's own namespace, on a /24 of its own (10.213.<n>.0/24; the bridge — the
 * "switch", where shared servers such as ZooKeeper listen — is .254). Made with iproute2, torn
 * down by close(). Needs root (CAP_NET_ADMIN) and fails loudly without it.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export interface TestHost {
  /** The network namespace's name (for `ip netns exec`). */
  readonly netns: string;
  readonly address: string;
}

export interface TestNetwork {
  readonly subnet: number;
  /** The bridge's address, reachable from every host and from the test process. */
  readonly switchAddress: string;
  readonly hosts: readonly TestHost[];
  close(): void;
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(
      `ip ${args.join(' ')} failed: ${err.stderr?.toString().trim() || err.message} (the network tests need root and iproute2)`,
    );
  }
}

function subnetInUse(n: number): boolean {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  return out.includes(`10.213.${n}.`);
}

/** Creates `count` hosts joined by a bridge. */
export function createNetwork(count: number): TestNetwork {
  let subnet = randomInt(1, 250);
  for (let i = 0; i < 20 && subnetInUse(subnet); i++) subnet = randomInt(1, 250);
  const tag = `q${subnet}p${process.pid % 10000}`;
  const bridge = `${tag}br`;
  const hosts: TestHost[] = [];
  const cleanup: Array<() => void> = [];
  const close = (): void => {
    for (const c of cleanup.reverse()) {
      try {
        c();
      } catch {
        // already gone
      }
    }
    cleanup.length = 0;
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    cleanup.push(() => ip('link', 'del', bridge));
    ip('addr', 'add', `10.213.${subnet}.254/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 1; i <= count; i++) {
      const netns = `${tag}h${i}`;
      const outside = `${tag}v${i}`;
      const inside = `${tag}i${i}`;
      ip('netns', 'add', netns);
      cleanup.push(() => ip('netns', 'del', netns));
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      cleanup.push(() => ip('link', 'del', outside));
      ip('link', 'set', inside, 'netns', netns);
      ip('link', 'set', outside, 'master', bridge);
      ip('link', 'set', outside, 'up');
      const address = `10.213.${subnet}.${i}`;
      ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${address}/24`, 'dev', inside);
      ip('netns', 'exec', netns, 'ip', 'link', 'set', inside, 'up');
      ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
      hosts.push({ netns, address });
    }
  } catch (e) {
    close();
    throw e;
  }
  process.once('exit', close);
  return { subnet, switchAddress: `10.213.${subnet}.254`, hosts, close };
}
