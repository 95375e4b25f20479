/** Addresses as GoAway and caller identification compare them. */

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
