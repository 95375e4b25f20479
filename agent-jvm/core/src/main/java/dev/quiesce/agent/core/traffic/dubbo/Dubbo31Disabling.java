package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.goaway.Evictions;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * GoAway on Apache Dubbo 3.1+ consumers ({@code Directory.addDisabledInvoker}, the gate): every directory
 * ({@code AbstractDirectory}: interface-level {@code RegistryDirectory}, application-level
 * {@code ServiceDiscoveryRegistryDirectory}, {@code StaticDirectory}) disables its invokers at the
 * provider's address: {@code list()} no longer returns them, a registry refresh keeps them disabled, a
 * registry removal forgets them. At the TTL's end {@code recoverDisabledInvoker} puts back those still
 * there. The directories are found by a heap walk at warm-up (attach time), cached weakly; a GoAway walks
 * again only when none is known (at most every {@value #REWALK_MS} ms). Not thread-safe: DubboEvictor
 * calls it under its lock.
 */
final class Dubbo31Disabling {
  private static final String DIRECTORY = "org.apache.dubbo.rpc.cluster.directory.AbstractDirectory";
  private static final int LIMIT = 4096;
  private static final long REWALK_MS = 2_000;

  private final LiveObjects live;
  private long lastWalk;
  /** Directories found by the heap walk, weakly held. */
  private final List<WeakReference<Object>> directories = new ArrayList<WeakReference<Object>>();

  Dubbo31Disabling(LiveObjects live) {
    this.live = live;
  }

  /**
   * Disables the target's invokers in every directory; what it newly dropped goes to {@code removed}
   * (service -> 1), a directory that failed too. Returns how many directories there are.
   */
  int disableAll(DubboKeep keep, Evictions removed) throws Exception {
    List<Object> all = directories(true);
    for (Object directory : all) {
      try {
        disable(directory, keep, removed);
      } catch (Exception e) {
        removed.failed(service(directory), DubboRuntime.error("evict_failed", e));
      }
    }
    return all.size();
  }

  /** Again, on a keeper tick: how many invokers at the address the directories list (an unreadable one counts). */
  int reapply(DubboKeep keep, Evictions again) throws Exception {
    int listed = 0;
    for (Object directory : directories(false)) {
      try {
        listed += disable(directory, keep, again);
      } catch (Exception e) {
        listed++; // unreadable: keep keeping
      }
    }
    return listed;
  }

  /** How many directories are known now (walks the heap the first time). */
  int warm() throws Exception {
    return directories(false).size();
  }

  /** Recovers the invokers a keep disabled; how many. Never throws. */
  static int recover(DubboKeep k) {
    int recovered = 0;
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
    return recovered;
  }

  /**
   * Disables the target's invokers in one directory; adds what it newly dropped to {@code removed}
   * (service -> 1). Returns how many of the directory's invokers are at that address.
   */
  private static int disable(Object directory, DubboKeep keep, Evictions removed) throws Exception {
    if (Boolean.TRUE.equals(Reflect.call(directory, "isDestroyed"))) {
      return 0;
    }
    Object invokers = Reflect.call(directory, "getAllInvokers");
    if (!(invokers instanceof Collection)) {
      return 0;
    }
    int listed = 0;
    for (Object invoker : new ArrayList<Object>((Collection<?>) invokers)) {
      if (invoker == null || !DubboEvictor.isTarget(Reflect.call(invoker, "getUrl"), keep.target)) {
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
   * The directories: cached; a heap walk when none is cached (at most every REWALK_MS when a walk found
   * none, or on {@code rewalkIfEmpty} the first time).
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
    for (Object d : live.instancesOf(DIRECTORY, LIMIT, true)) {
      out.add(d);
      directories.add(new WeakReference<Object>(d));
    }
    return out;
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
