package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.core.traffic.goaway.Evictions;
import dev.quiesce.agent.core.traffic.goaway.KeepingEvictor;
import dev.quiesce.agent.core.traffic.goaway.Keeps;
import dev.quiesce.agent.proto.v1.Eviction;
import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * GoAway for Dubbo consumers ("dubbo"): every reference's invokers at the provider's ip:port stop
 * being chosen at once, and stay out for the TTL (or until the registry no longer lists them).
 *
 * <p>Each Dubbo consumer side in the JVM (a loader and its package family) is handled by the strategy of
 * its version line, chosen by what its {@code AbstractDirectory} can do:
 * <ul>
 *   <li>Apache Dubbo 3.1+ ({@code addDisabledInvoker}): {@link Dubbo31Disabling};
 *   <li>Dubbo 2.6.x / 2.7.x (and 3.0): {@link Dubbo26Marking}.
 * </ul>
 * This class holds what both share: finding the consumer sides, the keeps and the keeper loop, which
 * re-applies the strategy every {@value #KEEP_TICK_MS} ms to invokers the registry brings back for that
 * address during the TTL, and stops once no reference lists it any more.
 */
public final class DubboEvictor extends KeepingEvictor {
  static final String FRAMEWORK = "dubbo";
  private static final String[] PACKAGES = {"org.apache.dubbo", "com.alibaba.dubbo"};
  private static final long RESCAN_MS = 10_000;
  static final long KEEP_TICK_MS = 100;

  private final LiveObjects live;
  private final Dubbo31Disabling disabling;
  private long lastScan;
  private List<Consumers> scanned = Collections.emptyList();
  /** Guarded by this. */
  private final Keeps<DubboKeep> keeps = new Keeps<DubboKeep>();

  public DubboEvictor(LiveObjects live) {
    super(FRAMEWORK, "goaway-dubbo", KEEP_TICK_MS, Clock.SYSTEM);
    this.live = live;
    this.disabling = new Dubbo31Disabling(live);
  }

  /** One Dubbo consumer side in the JVM: its loader and package family. */
  static final class Consumers {
    /** Weak: an undeployed application's loader must not be kept by the agent. */
    private final WeakReference<ClassLoader> loader;
    final String pkg;
    /** Directory.addDisabledInvoker exists (3.1+): the gate between the two strategies. */
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
    DubboKeep keep = new DubboKeep(target, now());
    for (DubboKeep earlier : keeps.remove(target.provider())) {
      keep.takeOver(earlier);
    }
    Evictions done = new Evictions(FRAMEWORK);
    int dirs = 0;
    boolean anyDisables = anyDisables(found);
    if (anyDisables) {
      dirs = disabling.disableAll(keep, done);
    }
    for (Consumers c : found) {
      if (!c.disables) {
        try {
          keep.listed += Dubbo26Marking.mark(c, keep, done, true);
        } catch (Exception e) {
          done.failed(c.pkg, DubboRuntime.error("evict_failed", e));
        }
      }
    }
    if (keep.holdsAnything()) {
      keeps.add(keep);
      keeping();
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
    for (DubboKeep k : keeps.remove(target.provider())) {
      int[] n = undo(k);
      if (n[0] + n[1] > 0) {
        for (String s : target.services().isEmpty() ? Collections.singletonList("") : target.services()) {
          done.released(s, n[0] + n[1]);
        }
      }
      AgentLog.info("goaway: dubbo gave " + target + " back (" + n[0] + " invoker(s) recovered, " + n[1] + " client(s) unmarked)");
    }
    if (keeps.isEmpty()) {
      keepingNothing();
    }
    return done.releaseReport();
  }

  @Override
  public synchronized void warm() {
    try {
      long t0 = System.nanoTime();
      if (anyDisables(consumers())) {
        int n = disabling.warm();
        AgentLog.info("goaway: dubbo found " + n + " directories in " + (System.nanoTime() - t0) / 1000 + " us");
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: dubbo warm-up", t);
    }
  }

  @Override
  protected void undoAll() {
    for (DubboKeep k : keeps.clear()) {
      undo(k);
    }
  }

  /** On the keeper thread: re-applies to invokers that came back, ends expired or finished keeps. */
  @Override
  protected boolean keepOut(long now) throws Exception {
    List<Consumers> found = consumers();
    for (DubboKeep k : keeps.expire(now)) {
      int[] n = undo(k);
      AgentLog.info("goaway: dubbo no longer keeps " + k.target + " out (ttl ended; " + n[0] + " invoker(s) recovered, "
          + n[1] + " client(s) unmarked; applied again " + k.reapplied + " time(s))");
    }
    boolean disables = anyDisables(found);
    for (Iterator<DubboKeep> it = keeps.iterator(); it.hasNext();) {
      DubboKeep k = it.next();
      Evictions again = new Evictions(FRAMEWORK);
      int listed = disables ? disabling.reapply(k, again) : 0;
      for (Consumers c : found) {
        if (!c.disables) {
          try {
            listed += Dubbo26Marking.mark(c, k, again, false);
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
    return !keeps.isEmpty();
  }

  /** Puts back what a keep did: {recovered invokers, unmarked clients}. Never throws. */
  private static int[] undo(DubboKeep k) {
    return new int[] {Dubbo31Disabling.recover(k), Dubbo26Marking.unmark(k)};
  }

  /** Whether a Dubbo URL (either family) is at the target's ip:port. */
  static boolean isTarget(Object url, EvictTarget target) throws Exception {
    if (url == null) {
      return false;
    }
    Object host = Reflect.call(url, "getHost");
    Object port = Reflect.call(url, "getPort");
    return host instanceof String && port instanceof Integer && target.matches((String) host, (Integer) port);
  }

  private static boolean anyDisables(List<Consumers> found) {
    for (Consumers c : found) {
      if (c.disables) {
        return true;
      }
    }
    return false;
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
}
