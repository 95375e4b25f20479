package dev.quiesce.agent.bootstrap.inbound;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The counters are static (one set per JVM, as in an application): each test drains the peers first and
 * compares counts before and after.
 */
class InboundCountersTest {
  /** The methods InboundPeers reads from a servlet request. */
  public static final class FakeServletRequest {
    private final String remote;
    private final int localPort;
    private final String node;

    FakeServletRequest(String remote, int localPort, String node) {
      this.remote = remote;
      this.localPort = localPort;
      this.node = node;
    }

    public String getRemoteAddr() {
      return remote;
    }

    public int getLocalPort() {
      return localPort;
    }

    public String getHeader(String name) {
      return InboundCounters.NODE_HEADER.equals(name) ? node : null;
    }
  }

  /** Dubbo's Channel (remote and local InetSocketAddress). */
  public static final class FakeChannel {
    public InetSocketAddress getRemoteAddress() {
      return new InetSocketAddress("127.0.0.7", 40000);
    }

    public InetSocketAddress getLocalAddress() {
      return new InetSocketAddress("127.0.0.1", 20880);
    }
  }

  /** Dubbo's Request: getData() is the Invocation, whose attachment names the node. */
  public static final class FakeDubboRequest {
    public FakeInvocation getData() {
      return new FakeInvocation();
    }
  }

  public static final class FakeInvocation {
    private final Map<String, String> attachments = new HashMap<String, String>();

    FakeInvocation() {
      attachments.put(InboundCounters.NODE_ATTACHMENT, "node-b");
    }

    public String getAttachment(String key) {
      return attachments.get(key);
    }
  }

  /** A Mono: doFinally returns a new Mono that runs the callback when it ends. */
  public static final class FakeMono {
    Consumer<Object> onEnd;

    public FakeMono doFinally(Consumer<Object> callback) {
      FakeMono m = new FakeMono();
      m.onEnd = callback;
      return m;
    }
  }

  @BeforeEach
  void forgetPeers() {
    InboundCounters.peers(true);
  }

  private static long inFlight(int kind) {
    return InboundCounters.snapshot()[kind * 2];
  }

  private static long total(int kind) {
    return InboundCounters.snapshot()[kind * 2 + 1];
  }

  @Test
  void onlyTheOutermostEntryCounts() {
    int k = InboundCounters.DUBBO;
    long before = inFlight(k);
    long totalBefore = total(k);
    long t0 = System.currentTimeMillis();
    InboundCounters.enter(k, null, null);
    InboundCounters.enter(k, null, null);
    assertEquals(before + 1, inFlight(k));
    InboundCounters.exit(k);
    assertEquals(before + 1, inFlight(k));
    InboundCounters.exit(k);
    assertEquals(before, inFlight(k));
    assertEquals(totalBefore + 1, total(k));
    assertTrue(InboundCounters.snapshot()[6] >= t0, "last request time");
    InboundCounters.exit(k); // an exit without an entry (woven mid-request) changes nothing
    assertEquals(before, inFlight(k));
  }

  @Test
  void aHandedOffReplyStaysInFlightUntilItCompletes() {
    int k = InboundCounters.DUBBO;
    long before = inFlight(k);
    CompletableFuture<Object> reply = new CompletableFuture<Object>();
    InboundCounters.enter(k, null, null);
    InboundCounters.handOff(reply, k);
    InboundCounters.exit(k);
    assertEquals(before + 1, inFlight(k));
    reply.complete("done");
    assertEquals(before, inFlight(k));

    InboundCounters.enter(k, null, null);
    InboundCounters.handOff(CompletableFuture.completedFuture("now"), k);
    InboundCounters.exit(k);
    assertEquals(before, inFlight(k));
  }

  @Test
  void aMonoEndsTheRequestOnceWhenItTerminates() {
    int k = InboundCounters.WEBFLUX;
    long before = inFlight(k);
    FakeMono mono = new FakeMono();
    InboundCounters.enter(k, null, null);
    Object wrapped = InboundCounters.handOffMono(mono, k);
    InboundCounters.exit(k);
    assertNotSame(mono, wrapped);
    assertEquals(before + 1, inFlight(k));
    ((FakeMono) wrapped).onEnd.accept("onComplete");
    ((FakeMono) wrapped).onEnd.accept("onComplete"); // subscribed twice
    assertEquals(before, inFlight(k));

    Object notAMono = "plain";
    InboundCounters.enter(k, null, null);
    assertSame(notAMono, InboundCounters.handOffMono(notAMono, k));
    InboundCounters.exit(k);
    assertEquals(before, inFlight(k));
    assertNull(InboundCounters.handOffMono(null, k));
  }

  @Test
  void peersAreRecordedAndDrained() {
    InboundCounters.enter(InboundCounters.SERVLET, new FakeServletRequest("10.1.1.1", 8080, "node-a"), null);
    InboundCounters.exit(InboundCounters.SERVLET);
    InboundCounters.enter(InboundCounters.SERVLET, new FakeServletRequest("10.1.1.1", 8080, "node-a"), null);
    InboundCounters.exit(InboundCounters.SERVLET);
    InboundCounters.enter(InboundCounters.DUBBO, new FakeChannel(), new FakeDubboRequest());
    InboundCounters.exit(InboundCounters.DUBBO);

    Object[][] rows = InboundCounters.peers(false);
    assertEquals(2, rows.length);
    Map<String, Object[]> byAddress = new HashMap<String, Object[]>();
    for (Object[] r : rows) {
      byAddress.put((String) r[0], r);
    }
    Object[] servlet = byAddress.get("10.1.1.1");
    assertArrayEquals(new Object[] {"10.1.1.1", 8080, 2L, "node-a"}, new Object[] {servlet[0], servlet[1], servlet[2], servlet[3]});
    assertEquals(InboundCounters.SERVLET, servlet[5]);
    Object[] dubbo = byAddress.get("127.0.0.7");
    assertArrayEquals(new Object[] {"127.0.0.7", 20880, 1L, "node-b"}, new Object[] {dubbo[0], dubbo[1], dubbo[2], dubbo[3]});
    assertEquals(InboundCounters.DUBBO, dubbo[5]);
    assertTrue((Long) dubbo[4] > 0);

    assertEquals(2, InboundCounters.peers(true).length);
    assertEquals(0, InboundCounters.peers(false).length);
  }

  @Test
  void peersAreBounded() {
    long dropped = InboundCounters.snapshot()[7];
    for (int i = 0; i < InboundCounters.MAX_PEERS + 10; i++) {
      InboundCounters.peer(InboundCounters.SERVLET, "10.2.0." + i, 80, null);
    }
    assertEquals(InboundCounters.MAX_PEERS, InboundCounters.peers(true).length);
    assertEquals(dropped + 10, InboundCounters.snapshot()[7]);
  }

  @Test
  void entryPointsNeverThrow() {
    InboundCounters.enter(99, null, null);
    InboundCounters.exit(99);
    InboundCounters.handOff(new CompletableFuture<Object>(), 99);
    InboundCounters.handOffAsync(new Object(), 99);
    assertEquals("x", InboundCounters.handOffMono("x", 99));
    InboundCounters.peer(99, null, 0, null);
    // a request without a remote address: counted, no peer
    long before = total(InboundCounters.SERVLET);
    InboundCounters.enter(InboundCounters.SERVLET, new FakeServletRequest(null, 0, null), null);
    InboundCounters.exit(InboundCounters.SERVLET);
    assertEquals(before + 1, total(InboundCounters.SERVLET));
    assertEquals(0, InboundCounters.peers(true).length);
  }
}
