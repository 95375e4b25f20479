package dev.quiesce.agent.bootstrap.inbound;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;

/**
 * In-flight inbound requests, counted by the code the agent injects into the application's entry
 * points (HttpServlet.service, Dubbo's HeaderExchangeHandler.handleRequest, Spring WebFlux's
 * HttpWebHandlerAdapter.handle). It lives in the agent
 * jar on the system class path so the application's loaders can see it (see agent-jvm/README.md),
 * and it stays loaded after the agent stops: a later agent reads the same counters.
 *
 * <p>Everything here runs on application threads: every method catches Throwable, takes and returns
 * only JDK types, and the counting path allocates nothing once a thread has its State. The agent's
 * core reads it reflectively ({@link #snapshot()}, {@link #peers(boolean)}).
 *
 * <p>This class holds the entry points the woven code calls (their names and descriptors are in
 * core/inbound/EntryWeaver) and the counters; who the peer is comes from {@link InboundPeers}, what ends
 * a request that outlives its entry point from {@link InboundCallbacks}.
 */
public final class InboundCounters {
  public static final int SERVLET = 0;
  public static final int DUBBO = 1;
  public static final int WEBFLUX = 2;
  static final int KINDS = 3;

  /** At most this many distinct peers are kept between two reads. */
  public static final int MAX_PEERS = 1024;
  public static final String NODE_HEADER = "X-Quiesce-Node";
  public static final String NODE_ATTACHMENT = "quiesce.node";

  /** Decremented by InboundCallbacks too, when a handed-off request completes. */
  static final LongAdder[] IN_FLIGHT = adders();
  private static final LongAdder[] TOTAL = adders();
  private static final AtomicLong LAST_REQUEST = new AtomicLong();

  /** Per thread: how deep inside each kind of entry point, and whether the outermost handed off. */
  private static final ThreadLocal<State> STATE = new ThreadLocal<State>() {
    @Override
    protected State initialValue() {
      return new State();
    }
  };

  private InboundCounters() {}

  /**
   * At the start of an entry point. Only the outermost entry of a kind on a thread counts (a servlet
   * forward re-enters service). {@code a}, {@code b}: servlet (request, null); dubbo (channel, request);
   * webflux (ServerHttpRequest, null).
   */
  public static void enter(int kind, Object a, Object b) {
    try {
      State s = STATE.get();
      if (s.depth[kind]++ != 0) {
        return;
      }
      s.handedOff[kind] = false;
      s.skipped[kind] = false;
      if (kind == SERVLET && InboundCallbacks.asyncDispatch(a)) {
        // The second half of an async request, already in flight since its first service() call.
        s.skipped[kind] = true;
        return;
      }
      IN_FLIGHT[kind].increment();
      TOTAL[kind].increment();
      LAST_REQUEST.lazySet(System.currentTimeMillis());
      if (kind == SERVLET) {
        InboundPeers.servletPeer(a);
      } else if (kind == DUBBO) {
        InboundPeers.dubboPeer(a, b);
      } else if (kind == WEBFLUX) {
        InboundPeers.reactivePeer(a);
      }
    } catch (Throwable ignored) {
      // the application comes first
    }
  }

  /** At every exit of an entry point, normal or exceptional. */
  public static void exit(int kind) {
    try {
      State s = STATE.get();
      if (s.depth[kind] == 0 || --s.depth[kind] != 0) {
        return;
      }
      if (s.handedOff[kind] || s.skipped[kind]) {
        s.handedOff[kind] = false;
        s.skipped[kind] = false;
        return;
      }
      IN_FLIGHT[kind].decrement();
    } catch (Throwable ignored) {
      // the application comes first
    }
  }

  /**
   * The entry point got a reply that completes later (Dubbo 2.7+: ExchangeHandler.reply returns a
   * CompletableFuture): the request stays in flight until it completes, not until the method returns.
   */
  public static void handOff(Object reply, int kind) {
    try {
      if (!(reply instanceof CompletableFuture)) {
        return;
      }
      CompletableFuture<?> future = (CompletableFuture<?>) reply;
      State s = STATE.get();
      if (s.depth[kind] != 1 || s.handedOff[kind] || future.isDone()) {
        return;
      }
      s.handedOff[kind] = true;
      @SuppressWarnings("unchecked")
      BiConsumer<Object, Throwable> done = InboundCallbacks.DONE[kind];
      ((CompletableFuture<Object>) future).whenComplete(done);
    } catch (Throwable ignored) {
      // the application comes first
    }
  }

  /**
   * The entry point returned a reactive result (Spring WebFlux: a Mono that completes when the
   * response is written): the request stays in flight until that Mono terminates or is cancelled.
   * Returns the Mono to hand back to the caller, {@code mono.doFinally(end)}, or {@code mono} itself
   * when it cannot be wrapped (then the request ends as the method returns, as before).
   */
  public static Object handOffMono(Object mono, int kind) {
    try {
      if (mono == null) {
        return null;
      }
      State s = STATE.get();
      if (s.depth[kind] != 1 || s.handedOff[kind]) {
        return mono;
      }
      Method doFinally = InboundCallbacks.DO_FINALLY.get(mono.getClass());
      if (doFinally == null) {
        return mono;
      }
      Object wrapped = doFinally.invoke(mono, new InboundCallbacks.Finally(kind));
      if (wrapped == null) {
        return mono;
      }
      s.handedOff[kind] = true;
      return wrapped;
    } catch (Throwable ignored) {
      // the application comes first: its own Mono, untouched
      return mono;
    }
  }

  /**
   * Before a servlet entry point returns: a request put in async mode (startAsync: Spring MVC's
   * DeferredResult, Callable, CompletableFuture) stays in flight until its AsyncContext completes.
   * The listener is a {@link Proxy} of the container's own AsyncListener interface.
   */
  public static void handOffAsync(Object request, int kind) {
    try {
      if (request == null) {
        return;
      }
      State s = STATE.get();
      if (s.depth[kind] != 1 || s.handedOff[kind] || s.skipped[kind]) {
        return;
      }
      Method[] m = InboundCallbacks.ASYNC_METHODS.get(request.getClass());
      if (m[0] == null || m[1] == null || !Boolean.TRUE.equals(m[0].invoke(request))) {
        return;
      }
      if (InboundCallbacks.listenTo(m[1].invoke(request), new InboundCallbacks.AsyncEnd(kind))) {
        s.handedOff[kind] = true;
      }
    } catch (Throwable ignored) {
      // the application comes first: the request ends as service() returns
    }
  }

  /**
   * {in_flight, total} per kind, then the last request's epoch ms, then peers dropped because the
   * map was full. Sums of LongAdders: exact when nothing moves, close enough while requests run.
   */
  public static long[] snapshot() {
    long[] out = new long[KINDS * 2 + 2];
    for (int k = 0; k < KINDS; k++) {
      out[k * 2] = Math.max(0, IN_FLIGHT[k].sum());
      out[k * 2 + 1] = TOTAL[k].sum();
    }
    out[KINDS * 2] = LAST_REQUEST.get();
    out[KINDS * 2 + 1] = InboundPeers.dropped();
    return out;
  }

  /**
   * Peers seen: {address, localPort, requests, node, lastSeenMillis, kind} rows (String, Integer,
   * Long, String or null, Long, Integer). With {@code drain} they are forgotten as they are read.
   */
  public static Object[][] peers(boolean drain) {
    return InboundPeers.peers(drain);
  }

  /** Records one request from a peer. Public for entry points that know the peer as plain values. */
  public static void peer(int kind, String address, int localPort, String node) {
    InboundPeers.peer(kind, address, localPort, node);
  }

  private static LongAdder[] adders() {
    LongAdder[] a = new LongAdder[KINDS];
    for (int i = 0; i < KINDS; i++) {
      a[i] = new LongAdder();
    }
    return a;
  }

  private static final class State {
    final int[] depth = new int[KINDS];
    final boolean[] handedOff = new boolean[KINDS];
    /** The outermost entry was not counted (an async dispatch): its exit does not end anything. */
    final boolean[] skipped = new boolean[KINDS];
  }
}
