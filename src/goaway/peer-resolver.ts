/**
 * Which quiesce daemon to tell about a consumer. A separate piece because it depends on
 * how quiesce is deployed: in host mode a consumer's daemon listens on the consumer's own
 * address on the standard port (or the node the consumer's agent announced); Kubernetes
 * mode will map pod IPs to node addresses instead.
 */
import { joinHostPort } from './address.js';

export interface ConsumerRef {
  address: string;
  consumerNode: string | null;
}

export interface PeerResolver {
  /** "host:port" of the consumer's daemon, or null when it cannot be known. */
  resolve(consumer: ConsumerRef): string | null;
}

export class HostModeResolver implements PeerResolver {
  constructor(private readonly peerPort: number) {}

  resolve(c: ConsumerRef): string | null {
    if (c.consumerNode) return c.consumerNode;
    return joinHostPort(c.address, this.peerPort);
  }
}
