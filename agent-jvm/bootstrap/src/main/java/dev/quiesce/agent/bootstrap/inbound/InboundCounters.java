package dev.quiesce.agent.bootstrap.inbound;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

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

  private static final LongAdder[] IN_FLIGHT = adders();
  private static final LongAdder[] TOTAL = adders();
  private static final AtomicLong LAST_REQUEST = new AtomicLong();
  private static final AtomicLong PEERS_DROPPED = new AtomicLong();
  private static final ConcurrentHashMap<String, Peer> PEERS = new ConcurrentHashMap<String, Peer>();
  private static final BiConsumer<Object, Throwable>[] DONE = doneCallbacks();

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
      if (kind == SERVLET && asyncDispatch(a)) {
        // The second half of an async request, already in flight since its first service() call.
        s.skipped[kind] = true;
        return;
      }
      IN_FLIGHT[kind].increment();
      TOTAL[kind].increment();
      LAST_REQUEST.lazySet(System.currentTimeMillis());
      if (kind == SERVLET) {
        servletPeer(a);
      } else if (kind == DUBBO) {
        dubboPeer(a, b);
      } else if (kind == WEBFLUX) {
        reactivePeer(a);
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
      BiConsumer<Object, Throwable> done = DONE[kind];
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
      Method doFinally = DO_FINALLY.get(mono.getClass());
      if (doFinally == null) {
        return mono;
      }
      Object wrapped = doFinally.invoke(mono, new Finally(kind));
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
      Method[] m = ASYNC_METHODS.get(request.getClass());
      if (m[0] == null || m[1] == null || !Boolean.TRUE.equals(m[0].invoke(request))) {
        return;
      }
      if (listenTo(m[1].invoke(request), new AsyncEnd(kind))) {
        s.handedOff[kind] = true;
      }
    } catch (Throwable ignored) {
      // the application comes first: the request ends as service() returns
    }
  }

  /** Adds an AsyncListener proxy for {@code end} to an AsyncContext; false when it cannot. */
  static boolean listenTo(Object asyncContext, AsyncEnd end) throws Exception {
    if (asyncContext == null) {
      return false;
    }
    Method add = ADD_LISTENER.get(asyncContext.getClass());
    if (add == null) {
      return false;
    }
    if (end.proxy == null) {
      Class<?> listenerType = add.getParameterTypes()[0];
      end.proxy = Proxy.newProxyInstance(listenerType.getClassLoader(), new Class<?>[] {listenerType}, end);
    }
    add.invoke(asyncContext, end.proxy);
    return true;
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
    out[KINDS * 2 + 1] = PEERS_DROPPED.get();
    return out;
  }

  /**
   * Peers seen: {address, localPort, requests, node, lastSeenMillis, kind} rows (String, Integer,
   * Long, String or null, Long, Integer). With {@code drain} they are forgotten as they are read.
   */
  public static Object[][] peers(boolean drain) {
    java.util.List<Object[]> rows = new java.util.ArrayList<Object[]>();
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

  /** Records one request from a peer. Public for entry points that know the peer as plain values. */
  public static void peer(int kind, String address, int localPort, String node) {
    try {
      if (address == null) {
        return;
      }
      String key = node == null ? address + '|' + localPort : address + '|' + localPort + '|' + node;
      Peer p = PEERS.get(key);
      if (p == null) {
        if (PEERS.size() >= MAX_PEERS) {
          PEERS_DROPPED.incrementAndGet();
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

  // ---- peers, read reflectively (no framework class is visible here) ----------------------------

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

  private static final ClassValue<Method> DO_FINALLY = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "doFinally", Consumer.class);
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

  private static final ClassValue<Method[]> ASYNC_METHODS = new ClassValue<Method[]>() {
    @Override
    protected Method[] computeValue(Class<?> type) {
      return new Method[] {find(type, "isAsyncStarted"), find(type, "getAsyncContext"), find(type, "getDispatcherType")};
    }
  };

  /** AsyncContext.addListener(AsyncListener): its parameter type is the container's AsyncListener. */
  private static final ClassValue<Method> ADD_LISTENER = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      for (Method m : type.getMethods()) {
        if (m.getName().equals("addListener") && m.getParameterTypes().length == 1 && m.getParameterTypes()[0].isInterface()) {
          return find(type, "addListener", m.getParameterTypes()[0]);
        }
      }
      return null;
    }
  };

  private static final ClassValue<Method> EVENT_CONTEXT = new ClassValue<Method>() {
    @Override
    protected Method computeValue(Class<?> type) {
      return find(type, "getAsyncContext");
    }
  };

  /** A servlet request dispatched again to finish an async cycle (DispatcherType.ASYNC). */
  private static boolean asyncDispatch(Object request) {
    try {
      if (request == null) {
        return false;
      }
      Method m = ASYNC_METHODS.get(request.getClass())[2];
      Object type = m == null ? null : m.invoke(request);
      return type instanceof Enum && "ASYNC".equals(((Enum<?>) type).name());
    } catch (Throwable t) {
      return false;
    }
  }

  private static void servletPeer(Object request) throws Exception {
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

  private static void dubboPeer(Object channel, Object request) throws Exception {
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
  private static void reactivePeer(Object request) throws Exception {
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

  /** A public method, made callable even when its class is not public (an inner request facade). */
  static Method find(Class<?> type, String name, Class<?>... params) {
    try {
      Method m = type.getMethod(name, params);
      try {
        m.setAccessible(true);
      } catch (Throwable ignored) {
        // public method of a public class: callable anyway
      }
      return m;
    } catch (Throwable t) {
      return null;
    }
  }

  private static LongAdder[] adders() {
    LongAdder[] a = new LongAdder[KINDS];
    for (int i = 0; i < KINDS; i++) {
      a[i] = new LongAdder();
    }
    return a;
  }

  @SuppressWarnings("unchecked")
  private static BiConsumer<Object, Throwable>[] doneCallbacks() {
    BiConsumer<Object, Throwable>[] d = new BiConsumer[KINDS];
    for (int i = 0; i < KINDS; i++) {
      d[i] = new Done(i);
    }
    return d;
  }

  /** Ends a handed-off request when its reply completes. */
  private static final class Done implements BiConsumer<Object, Throwable> {
    private final int kind;

    Done(int kind) {
      this.kind = kind;
    }

    @Override
    public void accept(Object value, Throwable error) {
      try {
        IN_FLIGHT[kind].decrement();
      } catch (Throwable ignored) {
        // the application comes first
      }
    }
  }

  /**
   * Ends a request handed off to a Mono, once: doFinally runs once per subscription, and a result
   * subscribed twice must not end the request twice.
   */
  private static final class Finally implements Consumer<Object> {
    private static final AtomicIntegerFieldUpdater<Finally> DONE_ONCE =
        AtomicIntegerFieldUpdater.newUpdater(Finally.class, "done");
    private final int kind;
    private volatile int done;

    Finally(int kind) {
      this.kind = kind;
    }

    @Override
    public void accept(Object signal) {
      try {
        if (DONE_ONCE.compareAndSet(this, 0, 1)) {
          IN_FLIGHT[kind].decrement();
        }
      } catch (Throwable ignored) {
        // the application comes first
      }
    }
  }

  /**
   * The AsyncListener of one async request: ends it on onComplete (which also follows a timeout or
   * an error), once; a new async cycle (onStartAsync) clears the container's listeners, so it adds
   * itself again. Never throws into the container.
   */
  static final class AsyncEnd implements InvocationHandler {
    private static final AtomicIntegerFieldUpdater<AsyncEnd> DONE_ONCE =
        AtomicIntegerFieldUpdater.newUpdater(AsyncEnd.class, "done");
    private final int kind;
    private volatile int done;
    volatile Object proxy;

    AsyncEnd(int kind) {
      this.kind = kind;
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) {
      String name = method.getName();
      try {
        if (name.equals("onComplete")) {
          if (DONE_ONCE.compareAndSet(this, 0, 1)) {
            IN_FLIGHT[kind].decrement();
          }
        } else if (name.equals("onStartAsync") && args != null && args.length == 1 && args[0] != null) {
          Method context = EVENT_CONTEXT.get(args[0].getClass());
          listenTo(context == null ? null : context.invoke(args[0]), this);
        } else if (name.equals("equals") && args != null && args.length == 1) {
          return Boolean.valueOf(self == args[0]);
        } else if (name.equals("hashCode")) {
          return Integer.valueOf(System.identityHashCode(self));
        } else if (name.equals("toString")) {
          return "quiesce in-flight request listener";
        }
      } catch (Throwable ignored) {
        // the application comes first
      }
      return null;
    }
  }

  private static final class State {
    final int[] depth = new int[KINDS];
    final boolean[] handedOff = new boolean[KINDS];
    /** The outermost entry was not counted (an async dispatch): its exit does not end anything. */
    final boolean[] skipped = new boolean[KINDS];
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
