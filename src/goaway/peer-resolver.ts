/**
 * Which quiesce daemon to tell about a consumer. A separate piece because it depends on
 * how quiesce is deployed: in host mode a consumer's daemon listens on the consumer's own
 * address on the standard port; Kubernetes mode will map pod IPs to node addresses instead.
 *
 * The node a consumer announced (`X-Quiesce-Node`, Dubbo's `quiesce.node`, as the provider's
 * agent recorded it) comes from any client of the provider, so it is untrusted: in host mode it
 * is used only as `ip:port` on the consumer's own address (it may name another port, nothing
 * else). Anything else is ignored — logged once, never dialled — and the address-based guess
 * stands; a consumer whose address is not an IP is skipped, never a reason for the step to fail.
 */
import { canonicalIp, joinHostPort, parseIpPort } from './address.js';
import { createLogger, type Logger } from '../log.js';

export interface ConsumerRef {
  address: string;
  consumerNode: string | null;
}

export interface PeerResolver {
  /** "host:port" of the consumer's daemon, or null when it cannot be known. */
  resolve(consumer: ConsumerRef): string | null;
}

/** How many distinct ignored claims are remembered for "logged once" before starting over. */
const MAX_REMEMBERED = 1024;

/** The announced node, rebuilt from its parsed parts, when it is on the consumer's own address; else null. */
export function trustedConsumerNode(claimed: string, consumerAddress: string): string | null {
  const node = parseIpPort(claimed);
  const own = canonicalIp(consumerAddress);
  if (!node || own === null || node.host !== own) return null;
  return joinHostPort(node.host, node.port);
}

export class HostModeResolver implements PeerResolver {
  private readonly ignored = new Set<string>();
  private log: Logger | undefined;

  /** Without a logger, one of the daemon's own kind is made the first time something is ignored. */
  constructor(
    private readonly peerPort: number,
    log?: Logger,
  ) {
    this.log = log;
  }

  resolve(c: ConsumerRef): string | null {
    const own = canonicalIp(c.address);
    if (own === null) {
      this.ignoreOnce(c, 'the consumer address is not an IP address: not dialled');
      return null;
    }
    if (c.consumerNode) {
      const node = trustedConsumerNode(c.consumerNode, own);
      if (node) return node;
      this.ignoreOnce(
        c,
        `the announced node is not ip:port on the consumer's own address: ${joinHostPort(own, this.peerPort)} is told instead`,
      );
    }
    return joinHostPort(own, this.peerPort);
  }

  private ignoreOnce(c: ConsumerRef, why: string): void {
    const key = `${c.address}\u0000${c.consumerNode ?? ''}`;
    if (this.ignored.has(key)) return;
    if (this.ignored.size >= MAX_REMEMBERED) this.ignored.clear();
    this.ignored.add(key);
    this.log ??= createLogger().child({ part: 'goaway' });
    // Both values came from a client: logged bounded, as data.
    this.log.warn(
      { consumer: c.address.slice(0, 80), consumerNode: c.consumerNode?.slice(0, 80) ?? null },
      `consumer node ignored: ${why}`,
    );
  }
}
