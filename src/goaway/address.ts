/** Addresses as GoAway and caller identification compare them. */
import { isIPv4, isIPv6 } from 'node:net';

/** "host:port" or "[v6]:port" → [host, port]; throws on anything else. */
export function splitHostPort(s: string): [string, number] {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`not host:port: ${s}`);
  return [m[1]!, Number(m[2])];
}

/** host + port → "host:port", bracketing an IPv6 host. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An address as the kernel may report it for an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d) → a.b.c.d. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** The host of "host:port", normalized as a sender address is (no brackets, IPv4-mapped IPv6 as IPv4). */
export function hostOf(hostPort: string): string {
  const m = /^\[(.+)\]:\d+$/.exec(hostPort) ?? /^([^:]+):\d+$/.exec(hostPort);
  return normalizeAddress(m?.[1] ?? hostPort);
}

/**
 * An IP literal in one spelling (IPv4-mapped IPv6 as IPv4, IPv6 compressed and lower-case), or
 * null for anything that is not an IP address: names are never resolved or compared.
 */
export function canonicalIp(a: string): string | null {
  const n = normalizeAddress(a);
  if (isIPv4(n)) return n;
  if (!isIPv6(n)) return null;
  let c: string;
  try {
    c = new URL(`http://[${n}]/`).hostname.slice(1, -1);
  } catch {
    return null; // e.g. a zone index ("fe80::1%eth0"): never a consumer's address here
  }
  // The URL parser writes an IPv4-mapped address in hex (::ffff:102:304).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return c;
}

/** "ip:port" or "[ip6]:port" with a port from 1 to 65535 → its parts (the ip canonical), else null. */
export function parseIpPort(s: string): { host: string; port: number } | null {
  if (s.length > 64) return null;
  const m = /^\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})$/.exec(s) ?? /^([0-9.]+):([0-9]{1,5})$/.exec(s);
  if (!m) return null;
  const host = canonicalIp(m[1]!);
  const port = Number(m[2]);
  if (host === null || port < 1 || port > 65535) return null;
  return { host, port };
}
