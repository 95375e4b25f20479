package dev.quiesce.agent.core.traffic.springcloud;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.core.traffic.goaway.Evictions;
import dev.quiesce.agent.core.traffic.goaway.Keep;
import dev.quiesce.agent.core.traffic.goaway.KeepingEvictor;
import dev.quiesce.agent.core.traffic.goaway.Keeps;
import dev.quiesce.agent.core.traffic.goaway.LatestByProvider;
import dev.quiesce.agent.proto.v1.Eviction;
import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * GoAway for Spring Cloud LoadBalancer ("springcloud-loadbalancer"): the instance lists a
 * {@code CachingServiceInstanceListSupplier} serves from the {@code LoadBalancerCacheManager} bean's
 * cache {@code CachingServiceInstanceListSupplierCache} (keyed by serviceId, 35 s by default).
 *
 * <p>Every list holding the provider's host:port is replaced at once by the same list without it
 * ({@code Cache.put}; the supplier reads the cache on every call, so the very next choice no longer
 * sees it), or evicted when nothing would be left. Then, for the TTL, a thread of ours looks at
 * those caches every {@value #KEEP_TICK_MS} ms: a list fetched again from the registry that still
 * holds the provider (a registry that has not caught up) is filtered again; once every list we
 * replaced has been fetched again without it, the registry no longer lists it and we stop.
 *
 * <p>The cache managers are found once through {@link LiveObjects} (a heap walk, cached): the
 * first GoAway walks if nothing is cached, later ones do not (again at most every
 * {@value #REWALK_MS} ms while none is found). Ribbon is {@link RibbonEvictor}.
 */
public final class LoadBalancerEvictor extends KeepingEvictor {
  static final String FRAMEWORK = "springcloud-loadbalancer";
  static final String CACHE_NAME = "CachingServiceInstanceListSupplierCache";
  /** The LoadBalancerCacheManager implementations of spring-cloud-loadbalancer 3.1.x / 4.1.x. */
  static final String[] MANAGERS = {
    "org.springframework.cloud.loadbalancer.cache.DefaultLoadBalancerCacheManager",
    "org.springframework.cloud.loadbalancer.cache.CaffeineBasedLoadBalancerCacheManager",
  };
  static final String SPRING_CACHE = "org.springframework.cache.Cache";
  static final String CACHE_MANAGER = "org.springframework.cache.CacheManager";
  private static final int LIMIT = 64;
  private static final long REWALK_MS = 2_000;
  static final long KEEP_TICK_MS = 100;
  /** Sentinel in Keep.ours: we evicted that key (nothing was left). */
  private static final Object EVICTED = new Object();

  private final LiveObjects live;
  private long lastWalk;
  /** The cache managers found (weakly held): later GoAways neither walk nor scan classes. */
  private final List<WeakReference<Object>> managers = new ArrayList<WeakReference<Object>>();
  /** Guarded by this. */
  private final Keeps<CacheKeep> keeps = new Keeps<CacheKeep>();
  /**
   * The latest GoAway per provider, kept after it ended (bounded): a release after the keep ended
   * (the registry had dropped the provider) still knows which cached lists to reset.
   */
  private final LatestByProvider<CacheKeep> latest = new LatestByProvider<CacheKeep>();

  public LoadBalancerEvictor(LiveObjects live) {
    super(FRAMEWORK, "goaway-springcloud", KEEP_TICK_MS, Clock.SYSTEM);
    this.live = live;
  }

  /** A provider kept out of some caches until its deadline. */
  private static final class CacheKeep extends Keep {
    final List<Object> caches;
    /** Key → the list we put (or EVICTED), to tell our own value from a refetch. */
    final Map<Object, Object> ours = new LinkedHashMap<Object, Object>();
    final Set<Object> refetched = new LinkedHashSet<Object>();

    CacheKeep(EvictTarget target, long now, List<Object> caches) {
      super(target, now);
      this.caches = caches;
    }
  }

  @Override
  public synchronized List<Eviction> evict(EvictTarget target) throws Exception {
    List<Object> caches = caches();
    if (caches.isEmpty()) {
      return Collections.emptyList();
    }
    CacheKeep keep = new CacheKeep(target, now(), caches);
    Evictions done = new Evictions(FRAMEWORK);
    for (Object cache : caches) {
      for (Object key : keys(cache)) {
        try {
          int n = filter(cache, key, keep);
          if (n > 0) {
            done.removed(String.valueOf(key), n);
          }
        } catch (Exception e) {
          done.failed(String.valueOf(key), Reflect.describe("evict_failed", e));
        }
      }
    }
    keeps.add(keep);
    latest.put(target.provider(), keep);
    keeping();
    AgentLog.info("goaway: springcloud-loadbalancer dropped " + target + " from " + done.removedByService() + " in "
        + caches.size() + " cache(s); keeping it out for " + target.ttlMillis() / 1000 + " s");
    return done.report(target);
  }

  /**
   * Every list the GoAway had filtered is evicted from its cache, so the very next choice fetches
   * the instances from the registry again, the provider among them, instead of at the cache's TTL.
   */
  @Override
  public synchronized List<Eviction> release(EvictTarget target) throws Exception {
    keeps.remove(target.provider());
    CacheKeep keep = latest.remove(target.provider());
    if (keep == null) {
      return Collections.emptyList();
    }
    Evictions done = new Evictions(FRAMEWORK);
    for (Object cache : keep.caches) {
      for (Object key : keep.ours.keySet()) {
        try {
          call(cache, SPRING_CACHE, "evict", new Class<?>[] {Object.class}, key);
          done.released(String.valueOf(key), 1);
        } catch (Exception e) {
          done.failed(String.valueOf(key), Reflect.describe("release_failed", e));
        }
      }
    }
    AgentLog.info("goaway: springcloud-loadbalancer gave " + target + " back: " + keep.ours.keySet()
        + " will be fetched from the registry on their next use");
    return done.releaseReport();
  }

  @Override
  public synchronized void warm() {
    try {
      long t0 = System.nanoTime();
      int n = caches().size();
      if (n > 0) {
        AgentLog.info("goaway: springcloud-loadbalancer found " + n + " instance cache(s) in "
            + (System.nanoTime() - t0) / 1000 + " us");
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: springcloud-loadbalancer warm-up", t);
    }
  }

  @Override
  protected void undoAll() {
    keeps.clear();
    latest.clear();
  }

  /** On the keeper thread: filters lists refetched with the provider still in, ends finished keeps. */
  @Override
  protected boolean keepOut(long now) throws Exception {
    for (CacheKeep k : keeps.expire(now)) {
      AgentLog.info("goaway: springcloud-loadbalancer no longer keeps " + k.target + " out (ttl ended; filtered again "
          + k.reapplied + " time(s))");
    }
    for (Iterator<CacheKeep> it = keeps.iterator(); it.hasNext();) {
      CacheKeep k = it.next();
      for (Object cache : k.caches) {
        for (Object key : keys(cache)) {
          Object list = value(cache, key);
          if (!(list instanceof List) || list == k.ours.get(key)) {
            continue;
          }
          int n = filter(cache, key, k);
          if (n > 0) {
            k.reapplied++;
            AgentLog.info("goaway: " + key + " was fetched again with " + k.target + " still listed; filtered it out again");
          } else if (k.ours.containsKey(key)) {
            k.refetched.add(key);
          }
        }
      }
      if (!k.ours.isEmpty() && k.refetched.containsAll(k.ours.keySet())) {
        AgentLog.info("goaway: the registry no longer lists " + k.target + " in " + k.ours.keySet() + "; stop keeping it out");
        it.remove();
      }
    }
    return !keeps.isEmpty();
  }

  /** Drops the target from one cached list; how many instances went. */
  private int filter(Object cache, Object key, CacheKeep keep) throws Exception {
    Object value = value(cache, key);
    if (!(value instanceof List)) {
      return 0;
    }
    List<?> list = (List<?>) value;
    List<Object> kept = new ArrayList<Object>(list.size());
    int n = 0;
    for (Object instance : list.toArray()) {
      if (instance != null && isTarget(instance, keep.target)) {
        n++;
      } else {
        kept.add(instance);
      }
    }
    if (n == 0) {
      return 0;
    }
    if (kept.isEmpty()) {
      call(cache, SPRING_CACHE, "evict", new Class<?>[] {Object.class}, key);
      keep.ours.put(key, EVICTED);
    } else {
      call(cache, SPRING_CACHE, "put", new Class<?>[] {Object.class, Object.class}, key, kept);
      keep.ours.put(key, kept);
    }
    keep.refetched.remove(key);
    return n;
  }

  private static boolean isTarget(Object instance, EvictTarget target) throws Exception {
    Object host = call(instance, SpringCloudAdapter.SERVICE_INSTANCE, "getHost", new Class<?>[0]);
    Object port = call(instance, SpringCloudAdapter.SERVICE_INSTANCE, "getPort", new Class<?>[0]);
    return host instanceof String && port instanceof Integer && target.matches((String) host, (Integer) port);
  }

  /** The cached value of a key (Cache.get(key).get()), or null. */
  private static Object value(Object cache, Object key) throws Exception {
    Object wrapper = call(cache, SPRING_CACHE, "get", new Class<?>[] {Object.class}, key);
    if (wrapper == null) {
      return null;
    }
    Method get = wrapper.getClass().getMethod("get");
    get.setAccessible(true);
    return Reflect.invoke(get, wrapper);
  }

  /** The keys of a cache: its native cache is a ConcurrentMap (default) or a Caffeine cache (asMap()). */
  private static List<Object> keys(Object cache) throws Exception {
    Object nat = call(cache, SPRING_CACHE, "getNativeCache", new Class<?>[0]);
    if (!(nat instanceof Map) && nat != null) {
      try {
        Method asMap = nat.getClass().getMethod("asMap");
        asMap.setAccessible(true);
        nat = Reflect.invoke(asMap, nat);
      } catch (NoSuchMethodException e) {
        return Collections.emptyList();
      }
    }
    return nat instanceof Map ? new ArrayList<Object>(((Map<?, ?>) nat).keySet()) : Collections.emptyList();
  }

  /** Every CachingServiceInstanceListSupplierCache of every live LoadBalancerCacheManager. */
  private List<Object> caches() throws Exception {
    List<Object> managers = new ArrayList<Object>();
    for (WeakReference<Object> r : this.managers) {
      Object m = r.get();
      if (m != null) {
        managers.add(m);
      }
    }
    if (managers.isEmpty()) {
      managers = findManagers();
      this.managers.clear();
      for (Object m : managers) {
        this.managers.add(new WeakReference<Object>(m));
      }
    }
    Map<Object, Boolean> seen = new IdentityHashMap<Object, Boolean>();
    List<Object> caches = new ArrayList<Object>();
    for (Object m : managers) {
      Object cache = call(m, CACHE_MANAGER, "getCache", new Class<?>[] {String.class}, CACHE_NAME);
      if (cache != null && seen.put(cache, Boolean.TRUE) == null) {
        caches.add(cache);
      }
    }
    return caches;
  }

  /** Through LiveObjects: its cache, or a heap walk (the first time, then at most every REWALK_MS). */
  private List<Object> findManagers() throws Exception {
    List<Object> managers = new ArrayList<Object>();
    boolean loaded = false;
    for (String name : MANAGERS) {
      if (!live.classesNamed(name).isEmpty()) {
        loaded = true;
        managers.addAll(live.instancesOf(name, LIMIT, false));
      }
    }
    if (!loaded) {
      return Collections.emptyList();
    }
    long now = System.currentTimeMillis();
    if (lastWalk == 0) {
      lastWalk = now;
    } else if (managers.isEmpty() && now - lastWalk >= REWALK_MS) {
      // The load balancer may have been created after the first walk.
      lastWalk = now;
      for (String name : MANAGERS) {
        if (!live.classesNamed(name).isEmpty()) {
          managers.addAll(live.instancesOf(name, LIMIT, true));
        }
      }
    }
    return managers;
  }

  /** Calls a method of a public framework interface the target implements (found in its own loader). */
  private static Object call(Object target, String iface, String name, Class<?>[] params, Object... args) throws Exception {
    Class<?> type = interfaceNamed(target.getClass(), iface);
    Method m = type != null ? type.getMethod(name, params) : Reflect.method(target.getClass(), name, params);
    m.setAccessible(true);
    return Reflect.invoke(m, target, args);
  }

  private static Class<?> interfaceNamed(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      if (k.getName().equals(name)) {
        return k;
      }
      for (Class<?> i : k.getInterfaces()) {
        Class<?> found = interfaceNamed(i, name);
        if (found != null) {
          return found;
        }
      }
    }
    return null;
  }
}
