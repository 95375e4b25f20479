package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.core.traffic.goaway.Evictions;
import dev.quiesce.agent.core.traffic.goaway.Evictor;
import dev.quiesce.agent.core.traffic.goaway.KeepTimer;
import dev.quiesce.agent.proto.v1.Eviction;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * GoAway for Dubbo consumers ("dubbo"): every reference's invokers at the provider's ip:port stop
 * being chosen at once, and stay out for the TTL (or until the registry no longer lists them).
 *
 * <ul>
 *   <li>Apache Dubbo 3.1+ ({@code Directory.addDisabledInvoker}): every directory
 *       ({@code AbstractDirectory}: interface-level {@code RegistryDirectory}, application-level
 *       {@code ServiceDiscoveryRegistryDirectory}, {@code StaticDirectory}) disables its invokers at
 *       that address: {@code list()} no longer returns them, a registry refresh keeps them disabled,
 *       a registry removal forgets them. At the TTL's end {@code recoverDisabledInvoker} puts back
 *       those still there. The directories are found by a heap walk at {@link #warm()} (attach
 *       time), cached weakly; a GoAway walks again only when none is known (at most every
 *       {@value #REWALK_MS} ms).
 *   <li>Dubbo 2.6.x / 2.7.x (and 3.0): what the provider's read-only event does, done on the
 *       consumer side: the dubbo protocol's referred {@code DubboInvoker}s at that address
 *       ({@code DubboProtocol.getDubboProtocol().getInvokers()}, static: no heap walk) get the
 *       {@code channel.readonly} attribute on their exchange clients, so {@code isAvailable()} is
 *       false and the cluster reselects another provider (its {@code availablecheck}, on by
 *       default). At the TTL's end the attribute is removed from the clients we marked. A client
 *       the provider's own read-only event (sent by the same drain, at the same time) marked first
 *       counts as dropped too — the invoker is out of the cluster's choice — and is held for the
 *       TTL like the others (a reconnected channel, which has lost the mark, is marked again), but
 *       that mark is the provider's: it is not removed at the TTL's end.
 * </ul>
 *
 * A keeper thread of ours re-applies this every {@value #KEEP_TICK_MS} ms to invokers the registry
 * brings back for that address during the TTL, and stops once no reference lists it any more.
 */
public final class DubboEvictor implements Evictor {
  static final String FRAMEWORK = "dubbo";
  static final String READONLY_KEY = "channel.readonly";
  private static final String[] PACKAGES = {"org.apache.dubbo", "com.alibaba.dubbo"};
  private static final int LIMIT = 4096;
  private static final long REWALK_MS = 2_000;
  private static final long RESCAN_MS = 10_000;
  static final long KEEP_TICK_MS = 100;

  private final LiveObjects live;
  private long lastWalk;
  private long lastScan;
  private List<Consumers> scanned = Collections.emptyList();
  /** Dubbo 3.1+ directories found by the heap walk, weakly held. */
  private final List<WeakReference<Object>> directories = new ArrayList<WeakReference<Object>>();
  /** Guarded by this. */
  private final List<Keep> keeps = new ArrayList<Keep>();
  private final KeepTimer keeper = new KeepTimer("goaway-dubbo", KEEP_TICK_MS, new Runnable() {
    @Override
    public void run() {
      tick();
    }
  });

  public DubboEvictor(LiveObjects live) {
    this.live = live;
  }

  @Override
  public String framework() {
    return FRAMEWORK;
  }

  /** A provider kept out until its deadline: what we disabled / marked, to undo exactly that. */
  private static final class Keep {
    final EvictTarget target;
    final long deadline;
    /** directory -> invokers we disabled in it. */
    final Map<Object, List<Object>> disabled = new IdentityHashMap<Object, List<Object>>();
    /** Exchange clients we marked read-only (2.x). */
    final Map<Object, Boolean> marked = new IdentityHashMap<Object, Boolean>();
    /** 2.x: invokers at the address found read-only already (the provider's own event came first): held, not ours to unmark. */
    int alreadyReadOnly;
    /** 2.x: invokers at the address when the GoAway came. */
    int listed;
    int reapplied;

    Keep(EvictTarget target) {
      this.target = target;
      this.deadline = System.currentTimeMillis() + target.ttlMillis();
    }
  }

  /** One Dubbo consumer side in the JVM: its loader and package family. */
  private static final class Consumers {
    /** Weak: an undeployed application's loader must not be kept by the agent. */
    private final WeakReference<ClassLoader> loader;
    final String pkg;
    /** Directory.addDisabledInvoker exists (3.1+). */
    final boolean disables;

    Consumers(ClassLoader loader, String pkg, boolean disables) {
      this.loader = new WeakReference<ClassLoader>(loader);
      this.pkg = pkg;
      this.disables = disables;
    }

    ClassLoader loader() {
      return loader.get();
    }
  }

  @Override
  public synchronized List<Eviction> evict(EvictTarget target) throws Exception {
    List<Consumers> found = consumers();
    if (found.isEmpty()) {
      return Collections.emptyList();
    }
    long t0 = System.nanoTime();
    Keep keep = new Keep(target);
    for (Iterator<Keep> it = keeps.iterator(); it.hasNext();) {
      Keep k = it.next();
      if (k.target.provider().equals(target.provider())) {
        // A repeated GoAway: keep what the earlier one disabled, with the new deadline.
        keep.disabled.putAll(k.disabled);
        keep.marked.putAll(k.marked);
        it.remove();
      }
    }
    Evictions done = new Evictions(FRAMEWORK);
    int dirs = 0;
    boolean anyDisables = false;
    for (Consumers c : found) {
      anyDisables |= c.disables;
    }
    if (anyDisables) {
      List<Object> all = directories(true);
      dirs = all.size();
      for (Object directory : all) {
        try {
          disable(directory, keep, done);
        } catch (Exception e) {
          done.failed(service(directory), DubboRuntime.error("evict_failed", e));
        }
      }
    }
    for (Consumers c : found) {
      if (!c.disables) {
        try {
          keep.listed += mark(c, keep, done, true);
        } catch (Exception e) {
          done.failed(c.pkg, DubboRuntime.error("evict_failed", e));
        }
      }
    }
    if (!keep.disabled.isEmpty() || !keep.marked.isEmpty() || keep.alreadyReadOnly > 0) {
      keeps.add(keep);
      keeper.ensureRunning();
    }
    AgentLog.info("goaway: dubbo dropped " + target + " from " + done.removedByService() + " (" + keep.disabled.size() + " of " + dirs
        + " directories disabled it, " + keep.marked.size() + " client(s) marked read-only"
        + (anyDisables ? "" : ", " + keep.listed + " dubbo invoker(s) at that address, " + keep.alreadyReadOnly
            + " already read-only from the provider's own event")
        + ") in " + (System.nanoTime() - t0) / 1000 + " us; keeping it out for " + target.ttlMillis() / 1000 + " s");
    return done.report(target);
  }

  /**
   * Recovers the invokers the GoAway disabled and unmarks the clients it marked; the registry's
   * own notification (the provider registered again) does the rest.
   */
  @Override
  public synchronized List<Eviction> release(EvictTarget target) {
    Evictions done = new Evictions(FRAMEWORK);
    for (Iterator<Keep> it = keeps.iterator(); it.hasNext();) {
      Keep k = it.next();
      if (!k.target.provider().equals(target.provider())) {
        continue;
      }
      int[] n = undo(k);
      it.remove();
      if (n[0] + n[1] > 0) {
        for (String s : target.services().isEmpty() ? Collections.singletonList("") : target.services()) {
          done.released(s, n[0] + n[1]);
        }
      }
      AgentLog.info("goaway: dubbo gave " + target + " back (" + n[0] + " invoker(s) recovered, " + n[1] + " client(s) unmarked)");
    }
    if (keeps.isEmpty()) {
      keeper.stop();
    }
    return done.releaseReport();
  }

  @Override
  public synchronized void warm() {
    try {
      long t0 = System.nanoTime();
      boolean disables = false;
      for (Consumers c : consumers()) {
        disables |= c.disables;
      }
      if (disables) {
        int n = directories(false).size();
        AgentLog.info("goaway: dubbo found " + n + " directories in " + (System.nanoTime() - t0) / 1000 + " us");
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: dubbo warm-up", t);
    }
  }

  @Override
  public synchronized void close() {
    for (Keep k : keeps) {
      undo(k);
    }
    keeps.clear();
    keeper.stopNow();
  }

  /** On the keeper thread: re-applies to invokers that came back, ends expired or finished keeps. */
  synchronized void tick() {
    try {
      long now = System.currentTimeMillis();
      List<Consumers> found = consumers();
      for (Iterator<Keep> it = keeps.iterator(); it.hasNext();) {
        Keep k = it.next();
        if (now >= k.deadline) {
          int[] n = undo(k);
          AgentLog.info("goaway: dubbo no longer keeps " + k.target + " out (ttl ended; " + n[0] + " invoker(s) recovered, "
              + n[1] + " client(s) unmarked; applied again " + k.reapplied + " time(s))");
          it.remove();
          continue;
        }
        Evictions again = new Evictions(FRAMEWORK);
        int listed = 0;
        boolean disables = false;
        for (Consumers c : found) {
          disables |= c.disables;
        }
        for (Object directory : disables ? directories(false) : Collections.emptyList()) {
          try {
            listed += disable(directory, k, again);
          } catch (Exception e) {
            listed++; // unreadable: keep keeping
          }
        }
        for (Consumers c : found) {
          if (!c.disables) {
            try {
              listed += mark(c, k, again, false);
            } catch (Exception e) {
              listed++;
            }
          }
        }
        if (!again.noneRemoved()) {
          k.reapplied++;
          AgentLog.info("goaway: dubbo " + k.target + " came back in " + again.removedByService().keySet() + "; dropped it again");
        }
        if (listed == 0) {
          AgentLog.info("goaway: no Dubbo reference lists " + k.target + " any more; stop keeping it out");
          it.remove();
        }
      }
      if (keeps.isEmpty()) {
        keeper.stop();
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: dubbo keeper", t);
    }
  }

  /**
   * Disables the target's invokers in one directory; adds what it newly dropped to {@code removed}
   * (service -> 1). Returns how many of the directory's invokers are at that address.
   */
  private static int disable(Object directory, Keep keep, Evictions removed) throws Exception {
    if (Boolean.TRUE.equals(Reflect.call(directory, "isDestroyed"))) {
      return 0;
    }
    Object invokers = Reflect.call(directory, "getAllInvokers");
    if (!(invokers instanceof Collection)) {
      return 0;
    }
    int listed = 0;
    for (Object invoker : new ArrayList<Object>((Collection<?>) invokers)) {
      if (invoker == null || !isTarget(Reflect.call(invoker, "getUrl"), keep.target)) {
        continue;
      }
      listed++;
      List<Object> ours = keep.disabled.get(directory);
      if (ours != null && containsIdentity(ours, invoker)) {
        continue;
      }
      Reflect.call(directory, "addDisabledInvoker", invoker);
      if (ours == null) {
        ours = new ArrayList<Object>();
        keep.disabled.put(directory, ours);
      }
      ours.add(invoker);
      removed.dropped(service(directory));
    }
    return listed;
  }

  /**
   * 2.x: marks the exchange clients of the target's DubboInvokers read-only; how many such invokers
   * there are. An invoker is dropped (added to {@code removed}) when we marked one of its clients,
   * or, on the GoAway itself ({@code first}), when every connected client of it is read-only already
   * (the provider's own read-only event, sent by the same drain, came first).
   */
  private static int mark(Consumers c, Keep keep, Evictions removed, boolean first) throws Exception {
    ClassLoader loader = c.loader();
    Class<?> protocolType = loader == null ? null : Reflect.load(loader, c.pkg + ".rpc.protocol.dubbo.DubboProtocol");
    if (protocolType == null) {
      return 0;
    }
    Object protocol = Reflect.callStatic(protocolType, "getDubboProtocol");
    if (protocol == null) {
      return 0;
    }
    int listed = 0;
    for (Object invoker : new ArrayList<Object>((Collection<?>) Reflect.call(protocol, "getInvokers"))) {
      Field clientsField = invoker == null ? null : field(invoker.getClass(), "clients");
      if (clientsField == null || !isTarget(Reflect.call(invoker, "getUrl"), keep.target)) {
        continue;
      }
      listed++;
      Object clients = clientsField.get(invoker);
      if (!(clients instanceof Object[])) {
        continue;
      }
      boolean any = false;
      int theirs = 0;
      for (Object client : (Object[]) clients) {
        if (client == null || keep.marked.containsKey(client)) {
          continue;
        }
        if (!Boolean.TRUE.equals(Reflect.call(client, "hasAttribute", READONLY_KEY))) {
          Reflect.call(client, "setAttribute", READONLY_KEY, Boolean.TRUE);
          keep.marked.put(client, Boolean.TRUE);
          any = true;
        } else {
          theirs++;
        }
      }
      if (first && !any && theirs > 0) {
        keep.alreadyReadOnly++;
        any = true;
      }
      if (any) {
        Object type = Reflect.call(invoker, "getInterface");
        removed.dropped(type instanceof Class ? ((Class<?>) type).getName() : String.valueOf(type));
      }
    }
    return listed;
  }

  /** Puts back what a keep did: {recovered invokers, unmarked clients}. Never throws. */
  private static int[] undo(Keep k) {
    int recovered = 0;
    int unmarked = 0;
    for (Map.Entry<Object, List<Object>> e : k.disabled.entrySet()) {
      for (Object invoker : e.getValue()) {
        try {
          Reflect.call(e.getKey(), "recoverDisabledInvoker", invoker);
          recovered++;
        } catch (Throwable t) {
          AgentLog.warn("goaway: dubbo could not recover an invoker of " + k.target, t);
        }
      }
    }
    for (Object client : k.marked.keySet()) {
      try {
        Reflect.call(client, "removeAttribute", READONLY_KEY);
        unmarked++;
      } catch (Throwable t) {
        AgentLog.warn("goaway: dubbo could not unmark a client of " + k.target, t);
      }
    }
    return new int[] {recovered, unmarked};
  }

  private static boolean isTarget(Object url, EvictTarget target) throws Exception {
    if (url == null) {
      return false;
    }
    Object host = Reflect.call(url, "getHost");
    Object port = Reflect.call(url, "getPort");
    return host instanceof String && port instanceof Integer && target.matches((String) host, (Integer) port);
  }

  /** The interface a directory serves. */
  private static String service(Object directory) {
    try {
      Object type = Reflect.call(directory, "getInterface");
      return type instanceof Class ? ((Class<?>) type).getName() : String.valueOf(type);
    } catch (Throwable t) {
      return directory.getClass().getName();
    }
  }

  /**
   * The Dubbo consumer sides loaded: a loaded AbstractDirectory class is the landmark. Cached (a
   * scan reads every loaded class): looked for again at most every {@value #RESCAN_MS} ms.
   */
  private List<Consumers> consumers() {
    long now = System.currentTimeMillis();
    if (lastScan != 0 && now - lastScan < RESCAN_MS) {
      List<Consumers> live = new ArrayList<Consumers>();
      for (Consumers c : scanned) {
        if (c.loader() != null) {
          live.add(c);
        }
      }
      return live;
    }
    lastScan = now;
    scanned = scan();
    return new ArrayList<Consumers>(scanned);
  }

  private List<Consumers> scan() {
    List<Consumers> out = new ArrayList<Consumers>();
    for (String pkg : PACKAGES) {
      for (Class<?> c : live.classesNamed(pkg + ".rpc.cluster.directory.AbstractDirectory")) {
        ClassLoader loader = c.getClassLoader();
        if (loader == null) {
          continue;
        }
        if ("com.alibaba.dubbo".equals(pkg) && Reflect.load(loader, "com.alibaba.dubbo.common.Version") == null) {
          continue; // Apache Dubbo's compatibility shims: found as org.apache.dubbo
        }
        boolean disables = false;
        for (Method m : c.getMethods()) {
          if (m.getName().equals("addDisabledInvoker")) {
            disables = true;
          }
        }
        out.add(new Consumers(loader, pkg, disables));
      }
    }
    return out;
  }

  /**
   * The 3.1+ directories: cached; a heap walk when none is cached (at most every REWALK_MS when a
   * walk found none, or on {@code rewalkIfEmpty} the first time).
   */
  private List<Object> directories(boolean rewalkIfEmpty) throws Exception {
    List<Object> out = new ArrayList<Object>();
    for (WeakReference<Object> r : directories) {
      Object d = r.get();
      if (d != null) {
        out.add(d);
      }
    }
    long now = System.currentTimeMillis();
    boolean walk = lastWalk == 0 || (out.isEmpty() && rewalkIfEmpty && now - lastWalk >= REWALK_MS);
    if (!walk) {
      return out;
    }
    lastWalk = now;
    out.clear();
    directories.clear();
    for (Object d : live.instancesOf("org.apache.dubbo.rpc.cluster.directory.AbstractDirectory", LIMIT, true)) {
      out.add(d);
      directories.add(new WeakReference<Object>(d));
    }
    return out;
  }

  private static Field field(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      try {
        Field f = k.getDeclaredField(name);
        f.setAccessible(true);
        return f;
      } catch (NoSuchFieldException e) {
        // up
      } catch (RuntimeException inaccessible) {
        return null;
      }
    }
    return null;
  }

  private static boolean containsIdentity(List<Object> list, Object o) {
    for (Object x : list) {
      if (x == o) {
        return true;
      }
    }
    return false;
  }
}
