package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.proto.v1.Evict;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** The provider an Evict names: its address and port, the services it serves, how long to keep it out. */
public final class EvictTarget {
  /** No ttl_seconds in the command: keep it out this long. */
  static final int DEFAULT_TTL_SECONDS = 60;

  private final String provider;
  private final String host;
  private final int port;
  private final List<String> services;
  private final long ttlMillis;

  EvictTarget(String provider, String host, int port, List<String> services, long ttlMillis) {
    this.provider = provider;
    this.host = host;
    this.port = port;
    this.services = Collections.unmodifiableList(new ArrayList<String>(services));
    this.ttlMillis = ttlMillis;
  }

  /** Parses "ip:port" or "[ipv6]:port"; bad_request otherwise. */
  public static EvictTarget of(Evict e) throws TrafficException {
    String p = e.getProvider().trim();
    int colon = p.lastIndexOf(':');
    if (colon <= 0 || colon == p.length() - 1) {
      throw new TrafficException("bad_request", "Evict.provider must be \"ip:port\", got \"" + p + "\"");
    }
    String h = p.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(p.substring(colon + 1));
    } catch (NumberFormatException x) {
      throw new TrafficException("bad_request", "Evict.provider must be \"ip:port\", got \"" + p + "\"");
    }
    if (port <= 0 || port > 65535) {
      throw new TrafficException("bad_request", "Evict.provider port out of range: \"" + p + "\"");
    }
    int ttl = e.getTtlSeconds() == 0 ? DEFAULT_TTL_SECONDS : e.getTtlSeconds();
    return new EvictTarget(p, normalize(h), port, e.getServicesList(), ttl * 1000L);
  }

  /** Without brackets, lower case, an IPv4-mapped IPv6 address as IPv4. */
  static String normalize(String host) {
    String h = host.trim();
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    h = h.toLowerCase(Locale.ROOT);
    if (h.startsWith("::ffff:") && h.indexOf('.') > 0) {
      h = h.substring("::ffff:".length());
    }
    return h;
  }

  /** "ip:port" as the daemon sent it. */
  public String provider() {
    return provider;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** The services the provider serves, when the sender knows them (may be empty). */
  public List<String> services() {
    return services;
  }

  public long ttlMillis() {
    return ttlMillis;
  }

  /**
   * True when an instance registered as host:port is this provider. Addresses are compared as
   * literals (IPv6 in any spelling); a host name never matches (no DNS lookup on this path).
   */
  public boolean matches(String otherHost, int otherPort) {
    if (otherHost == null || otherPort != port) {
      return false;
    }
    String o = normalize(otherHost);
    if (o.equals(host)) {
      return true;
    }
    if (o.indexOf(':') >= 0 && host.indexOf(':') >= 0) {
      try {
        // Both are IPv6 literals: getByName parses them without a lookup.
        return InetAddress.getByName(o).equals(InetAddress.getByName(host));
      } catch (Exception notLiteral) {
        return false;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return provider;
  }
}
