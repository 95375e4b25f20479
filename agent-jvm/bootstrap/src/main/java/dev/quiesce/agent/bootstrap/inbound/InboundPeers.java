package dev.quiesce.agent.bootstrap.inbound;

import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.DUBBO;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.MAX_PEERS;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.NODE_ATTACHMENT;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.NODE_HEADER;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.SERVLET;
import static dev.quiesce.agent.bootstrap.inbound.InboundCounters.WEBFLUX;
import static dev.quiesce.agent.bootstrap.inbound.PublicMethods.find;

import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Who sent the inbound requests: the remote address, the local port and the node a peer names itself
 * with ({@value InboundCounters#NODE_HEADER} header, {@value InboundCounters#NODE_ATTACHMENT} Dubbo
 * attachment), read reflectively from the framework's request (no framework class is visible here), and
 * the bounded map of peers seen between two reads. Called from {@link InboundCounters}' entry points on
 * application threads: the extraction methods may throw, their caller catches.
 */
final class InboundPeers {
  private static final AtomicLong DROPPED = new AtomicLong();
  private static final ConcurrentHashMap<String, Peer> PEERS = new ConcurrentHashMap<String, Peer>();

  private InboundPeers() {}

  private static final ClassValue<Method[]> SERVLET_METHODS = new ClassValue<Method[]>() {
    @Override
    protected Method[] computeValue(Class<?> type) {
      return new Method[] {find(type, "getRemoteAddr"), find(type, "getLocalPort"), find(type, "getHeader", String.class)};
    }
  };

  private static final ClassValue<Method[]> CHANNEL_METHODS = new ClassValue<Method[]>() {
    @Override
    protected Method[] computeValue(Class<?> type) {
      return new Method[] {find(type, "getRemoteAddress"), find(type, "getLocalAddress")};
    }
  };

  private static final ClassValue<Method> REQUEST_DATA = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "getData");
    }
  };

  private static final ClassValue<Method> ATTACHMENT = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "getAttachment", String.class);
    }
  };

  private static final ClassValue<Method[]> REACTIVE_REQUEST_METHODS = new ClassValue<Method[]>() {
    @Override
    protected Method[] computeValue(Class<?> type) {
      return new Method[] {find(type, "getRemoteAddress"), find(type, "getLocalAddress"), find(type, "getHeaders")};
    }
  };

  private static final ClassValue<Method> HEADER_FIRST = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "getFirst", String.class);
    }
  };

  static void servletPeer(Object request) throws Exception {
    if (request == null) {
      return;
    }
    Method[] m = SERVLET_METHODS.get(request.getClass());
    if (m[0] == null) {
      return;
    }
    String address = (String) m[0].invoke(request);
    int port = m[1] == null ? 0 : ((Integer) m[1].invoke(request)).intValue();
    String node = m[2] == null ? null : (String) m[2].invoke(request, NODE_HEADER);
    peer(SERVLET, address, port, node);
  }

  static void dubboPeer(Object channel, Object request) throws Exception {
    if (channel == null) {
      return;
    }
    Method[] m = CHANNEL_METHODS.get(channel.getClass());
    if (m[0] == null) {
      return;
    }
    Object remote = m[0].invoke(channel);
    if (!(remote instanceof InetSocketAddress)) {
      return;
    }
    InetSocketAddress r = (InetSocketAddress) remote;
    String address = r.getAddress() != null ? r.getAddress().getHostAddress() : r.getHostString();
    int port = 0;
    if (m[1] != null) {
      Object local = m[1].invoke(channel);
      if (local instanceof InetSocketAddress) {
        port = ((InetSocketAddress) local).getPort();
      }
    }
    String node = null;
    if (request != null) {
      Method getData = REQUEST_DATA.get(request.getClass());
      Object data = getData == null ? null : getData.invoke(request);
      Method attachment = data == null ? null : ATTACHMENT.get(data.getClass());
      Object value = attachment == null ? null : attachment.invoke(data, NODE_ATTACHMENT);
      node = value instanceof String ? (String) value : null;
    }
    peer(DUBBO, address, port, node);
  }

  /** Spring's ServerHttpRequest: remote and local InetSocketAddress (local since Spring 5.2.3), headers. */
  static void reactivePeer(Object request) throws Exception {
    if (request == null) {
      return;
    }
    Method[] m = REACTIVE_REQUEST_METHODS.get(request.getClass());
    Object remote = m[0] == null ? null : m[0].invoke(request);
    if (!(remote instanceof InetSocketAddress)) {
      return;
    }
    InetSocketAddress r = (InetSocketAddress) remote;
    String address = r.getAddress() != null ? r.getAddress().getHostAddress() : r.getHostString();
    int port = 0;
    Object local = m[1] == null ? null : m[1].invoke(request);
    if (local instanceof InetSocketAddress) {
      port = ((InetSocketAddress) local).getPort();
    }
    String node = null;
    Object headers = m[2] == null ? null : m[2].invoke(request);
    Method first = headers == null ? null : HEADER_FIRST.get(headers.getClass());
    Object value = first == null ? null : first.invoke(headers, NODE_HEADER);
    node = value instanceof String ? (String) value : null;
    peer(WEBFLUX, address, port, node);
  }

  /** Records one request from a peer; never throws. */
  static void peer(int kind, String address, int localPort, String node) {
    try {
      if (address == null) {
        return;
      }
      String key = node == null ? address + '|' + localPort : address + '|' + localPort + '|' + node;
      Peer p = PEERS.get(key);
      if (p == null) {
        if (PEERS.size() >= MAX_PEERS) {
          DROPPED.incrementAndGet();
          return;
        }
        Peer fresh = new Peer(kind, address, localPort, node);
        p = PEERS.putIfAbsent(key, fresh);
        if (p == null) {
          p = fresh;
        }
      }
      p.requests.increment();
      p.lastSeen = System.currentTimeMillis();
    } catch (Throwable ignored) {
      // the application comes first
    }
  }

  /**
   * Peers seen: {address, localPort, requests, node, lastSeenMillis, kind} rows (String, Integer,
   * Long, String or null, Long, Integer). With {@code drain} they are forgotten as they are read.
   */
  static Object[][] peers(boolean drain) {
    List<Object[]> rows = new ArrayList<Object[]>();
    for (Map.Entry<String, Peer> e : PEERS.entrySet()) {
      Peer p = e.getValue();
      if (drain && !PEERS.remove(e.getKey(), p)) {
        continue;
      }
      rows.add(new Object[] {p.address, Integer.valueOf(p.localPort), Long.valueOf(p.requests.sum()), p.node,
          Long.valueOf(p.lastSeen), Integer.valueOf(p.kind)});
    }
    return rows.toArray(new Object[0][]);
  }

  /** Peers not recorded because the map was full. */
  static long dropped() {
    return DROPPED.get();
  }

  private static final class Peer {
    final int kind;
    final String address;
    final int localPort;
    final String node;
    final LongAdder requests = new LongAdder();
    volatile long lastSeen;

    Peer(int kind, String address, int localPort, String node) {
      this.kind = kind;
      this.address = address;
      this.localPort = localPort;
      this.node = node;
    }
  }
}
