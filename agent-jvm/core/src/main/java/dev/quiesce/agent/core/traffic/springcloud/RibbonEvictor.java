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
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * GoAway for Netflix Ribbon ("ribbon"): every {@code DynamicServerListLoadBalancer} (Spring Cloud
 * Netflix's {@code ZoneAwareLoadBalancer} per client) that lists the provider.
 *
 * <p>{@code markServerDown} is not enough: the default {@code ZoneAvoidanceRule} chooses among
 * {@code getAllServers()}, alive or not. So the provider is taken out of the list itself
 * ({@code setServersList} without it, the very next choice no longer sees it), and, so that the next
 * refresh from the registry (every 30 s by default) does not put it back while the registry still
 * lists it, the balancer's {@code ServerListFilter} is wrapped by one of ours (a {@link Proxy} of the
 * application's own interface) that drops it after the original filter ran. Once a refresh comes
 * back without the provider (the registry no longer lists it) or the TTL ends, the original filter
 * is put back: nothing of ours stays in the application.
 *
 * <p>Our filter runs on Ribbon's refresh thread: it never throws anything of its own; an exception
 * of the original filter goes on as it would have. A thread of ours looks at the balancers every
 * {@value #KEEP_TICK_MS} ms while anything is kept out, to take the provider out again should a
 * refresh that started before the filter was in place have put it back.
 *
 * <p>Balancers are found through Spring Cloud's {@code SpringClientFactory} (one heap walk, cached;
 * its named contexts give every client's balancer, also those created later), or, for Ribbon
 * without Spring, by a heap walk for the balancers themselves (cached; again at most every
 * {@value #REWALK_MS} ms while none is found).
 */
public final class RibbonEvictor extends KeepingEvictor {
  static final String FRAMEWORK = "ribbon";
  static final String BALANCER = "com.netflix.loadbalancer.DynamicServerListLoadBalancer";
  static final String FILTER = "com.netflix.loadbalancer.ServerListFilter";
  static final String CLIENT_FACTORY = "org.springframework.cloud.netflix.ribbon.SpringClientFactory";
  static final long KEEP_TICK_MS = 100;
  private static final long REWALK_MS = 2_000;
  private static final int LIMIT = 256;

  private final LiveObjects live;
  private long lastWalk;
  private final List<WeakReference<Object>> factories = new ArrayList<WeakReference<Object>>();
  private final List<WeakReference<Object>> walked = new ArrayList<WeakReference<Object>>();
  /** Balancer → our filter in it. Guarded by this; emptied as keeps end, so no balancer is held long. */
  private final Map<Object, Guard> guards = new IdentityHashMap<Object, Guard>();
  /** Per provider (bounded), the balancers its latest GoAway took it out of, weakly: a release refreshes them. */
  private final LatestByProvider<List<WeakReference<Object>>> latest = new LatestByProvider<List<WeakReference<Object>>>();

  public RibbonEvictor(LiveObjects live) {
    super(FRAMEWORK, "goaway-ribbon", KEEP_TICK_MS, Clock.SYSTEM);
    this.live = live;
  }

  /** A provider kept out of one balancer until its deadline or until a refresh no longer lists it. */
  private static final class BalancerKeep extends Keep {
    /** Set on Ribbon's refresh thread: a list from the registry came without the provider. */
    volatile boolean unlisted;

    BalancerKeep(EvictTarget target, long now) {
      super(target, now);
    }
  }

  /** Our filter in one balancer: the original it wraps, and what it keeps out. */
  private static final class Guard implements InvocationHandler {
    final String name;
    final Object original;
    Object proxy;
    /** Read on Ribbon's refresh thread: guarded by itself. */
    final Keeps<BalancerKeep> keeps = new Keeps<BalancerKeep>();
    int refiltered;

    Guard(String name, Object original) {
      this.name = name;
      this.original = original;
    }

    List<BalancerKeep> snapshot() {
      synchronized (keeps) {
        List<BalancerKeep> out = new ArrayList<BalancerKeep>(keeps.size());
        for (BalancerKeep k : keeps) {
          out.add(k);
        }
        return out;
      }
    }

    @Override
    public Object invoke(Object self, Method method, Object[] args) throws Throwable {
      String m = method.getName();
      if (m.equals("getFilteredListOfServers") && args != null && args.length == 1) {
        Object in = args[0];
        Object out = in;
        if (original != null) {
          try {
            out = method.invoke(original, args);
          } catch (InvocationTargetException e) {
            // The application's own filter failed: exactly what it would have thrown without us.
            throw e.getCause();
          }
        }
        return dropKept(in, out);
      }
      if (m.equals("equals") && args != null && args.length == 1) {
        return self == args[0];
      }
      if (m.equals("hashCode") && (args == null || args.length == 0)) {
        return System.identityHashCode(self);
      }
      if (m.equals("toString") && (args == null || args.length == 0)) {
        return "quiesce GoAway filter over " + original;
      }
      // Any other method of the application's filter type: the original answers.
      if (original == null) {
        return null;
      }
      try {
        return method.invoke(original, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    }

    /** The filtered list without the kept providers; never throws (the input list on a failure of ours). */
    private Object dropKept(Object in, Object out) {
      try {
        if (!(out instanceof List)) {
          return out;
        }
        List<BalancerKeep> now = snapshot();
        if (now.isEmpty()) {
          return out;
        }
        if (in instanceof Collection) {
          for (BalancerKeep k : now) {
            if (count((Collection<?>) in, k.target) == 0) {
              k.unlisted = true;
            }
          }
        }
        List<Object> kept = without((List<?>) out, now);
        return kept.size() == ((List<?>) out).size() ? out : kept;
      } catch (Throwable t) {
        AgentLog.warn("goaway: ribbon filter for " + name + " (left the list as the application's filter made it)", t);
        return out;
      }
    }
  }

  @Override
  public synchronized List<Eviction> evict(EvictTarget target) throws Exception {
    Evictions done = new Evictions(FRAMEWORK);
    List<Object> balancers = balancers();
    List<WeakReference<Object>> touched = new ArrayList<WeakReference<Object>>();
    for (Object lb : balancers) {
      String name = name(lb);
      try {
        List<?> servers = allServers(lb);
        int n = count(servers, target);
        if (n == 0) {
          continue;
        }
        Guard g = guard(lb, name);
        BalancerKeep keep = new BalancerKeep(target, now());
        synchronized (g.keeps) {
          g.keeps.add(keep);
        }
        setServers(lb, without(servers, Collections.singletonList(keep)));
        touched.add(new WeakReference<Object>(lb));
        done.removed(name, n);
      } catch (Exception e) {
        done.failed(name, Reflect.describe("evict_failed", e));
      }
    }
    if (balancers.isEmpty()) {
      return Collections.emptyList();
    }
    if (!touched.isEmpty()) {
      latest.put(target.provider(), touched);
    }
    if (!guards.isEmpty()) {
      keeping();
    }
    AgentLog.info("goaway: ribbon dropped " + target + " from " + done.removedByService() + " of " + balancers.size()
        + " load balancer(s); keeping it out for " + target.ttlMillis() / 1000 + " s");
    return done.report(target);
  }

  /**
   * Stops keeping the provider out (the application's own filter back where nothing else is kept
   * out), and refreshes the balancers it was taken out of now ({@code updateListOfServers}: one
   * registry read each), so they list it again without waiting for their next refresh.
   */
  @Override
  public synchronized List<Eviction> release(EvictTarget target) throws Exception {
    for (Iterator<Map.Entry<Object, Guard>> it = guards.entrySet().iterator(); it.hasNext();) {
      Map.Entry<Object, Guard> e = it.next();
      Guard g = e.getValue();
      boolean empty;
      synchronized (g.keeps) {
        g.keeps.remove(target.provider());
        empty = g.keeps.isEmpty();
      }
      if (empty) {
        unwrap(e.getKey(), g);
        it.remove();
      }
    }
    List<WeakReference<Object>> touched = latest.remove(target.provider());
    if (touched == null) {
      return Collections.emptyList();
    }
    Evictions done = new Evictions(FRAMEWORK);
    for (WeakReference<Object> r : touched) {
      Object lb = r.get();
      if (lb == null) {
        continue;
      }
      String name = name(lb);
      try {
        Reflect.callDeclared(lb, "updateListOfServers");
        done.released(name, 1);
      } catch (Exception e) {
        done.failed(name, Reflect.describe("release_failed", e));
      }
    }
    AgentLog.info("goaway: ribbon gave " + target + " back: refreshed " + touched.size() + " load balancer(s) from the registry");
    return done.releaseReport();
  }

  @Override
  public synchronized void warm() {
    try {
      long t0 = System.nanoTime();
      int n = balancers().size();
      if (n > 0) {
        AgentLog.info("goaway: ribbon found " + n + " load balancer(s) in " + (System.nanoTime() - t0) / 1000 + " us");
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: ribbon warm-up", t);
    }
  }

  @Override
  protected void undoAll() {
    for (Map.Entry<Object, Guard> e : guards.entrySet()) {
      unwrap(e.getKey(), e.getValue());
    }
    guards.clear();
    latest.clear();
  }

  /** On the keeper thread: ends finished keeps, takes out a provider a refresh put back, unwraps idle balancers. */
  @Override
  protected boolean keepOut(long now) throws Exception {
    for (Iterator<Map.Entry<Object, Guard>> it = guards.entrySet().iterator(); it.hasNext();) {
      Map.Entry<Object, Guard> e = it.next();
      Object lb = e.getKey();
      Guard g = e.getValue();
      List<BalancerKeep> active;
      synchronized (g.keeps) {
        for (Iterator<BalancerKeep> k = g.keeps.iterator(); k.hasNext();) {
          BalancerKeep keep = k.next();
          if (keep.unlisted || keep.expired(now)) {
            AgentLog.info("goaway: ribbon no longer keeps " + keep.target + " out of " + g.name
                + (keep.unlisted ? " (the registry no longer lists it)" : " (ttl ended)"));
            k.remove();
          }
        }
        active = g.snapshot();
      }
      if (active.isEmpty()) {
        unwrap(lb, g);
        it.remove();
        continue;
      }
      List<?> servers = allServers(lb);
      List<Object> kept = without(servers, active);
      if (kept.size() != servers.size()) {
        setServers(lb, kept);
        g.refiltered++;
        AgentLog.info("goaway: " + g.name + " listed a kept-out provider again; took it out again");
      }
    }
    return !guards.isEmpty();
  }

  /** Our filter in this balancer, put in now if it is not there yet. */
  private Guard guard(Object lb, String name) throws Exception {
    Guard g = guards.get(lb);
    if (g != null) {
      return g;
    }
    Class<?> filterType = Class.forName(FILTER, false, lb.getClass().getClassLoader());
    Object original = Reflect.invoke(Reflect.method(lb.getClass(), "getFilter"), lb);
    g = new Guard(name, original);
    // The proxy class is defined for the application's loader (it implements the application's
    // interface); its handler is ours and goes with the proxy once the original is back.
    g.proxy = Proxy.newProxyInstance(filterType.getClassLoader(), new Class<?>[] {filterType}, g);
    Reflect.invoke(Reflect.method(lb.getClass(), "setFilter", filterType), lb, g.proxy);
    guards.put(lb, g);
    return g;
  }

  /** Puts the original filter back, unless the application replaced ours meanwhile. Never throws. */
  private static void unwrap(Object lb, Guard g) {
    try {
      Object current = Reflect.invoke(Reflect.method(lb.getClass(), "getFilter"), lb);
      if (current == g.proxy) {
        Class<?> filterType = Class.forName(FILTER, false, lb.getClass().getClassLoader());
        Reflect.invoke(Reflect.method(lb.getClass(), "setFilter", filterType), lb, g.original);
      }
      AgentLog.info("goaway: ribbon put back " + g.name + "'s own server list filter (took a provider out again "
          + g.refiltered + " time(s))");
    } catch (Throwable t) {
      AgentLog.warn("goaway: ribbon could not put back " + g.name + "'s server list filter", t);
    }
  }

  private static String name(Object lb) {
    try {
      Object n = Reflect.callDeclared(lb, "getName");
      return n == null ? "" : String.valueOf(n);
    } catch (Exception e) {
      return "";
    }
  }

  private static List<?> allServers(Object lb) throws Exception {
    Object all = Reflect.callDeclared(lb, "getAllServers");
    return all instanceof List ? (List<?>) all : Collections.emptyList();
  }

  private static void setServers(Object lb, List<Object> servers) throws Exception {
    Reflect.invoke(Reflect.method(lb.getClass(), "setServersList", List.class), lb, servers);
  }

  static int count(Collection<?> servers, EvictTarget target) throws Exception {
    int n = 0;
    for (Object s : servers.toArray()) {
      if (s != null && isTarget(s, target)) {
        n++;
      }
    }
    return n;
  }

  static List<Object> without(List<?> servers, List<? extends Keep> keeps) throws Exception {
    List<Object> kept = new ArrayList<Object>(servers.size());
    outer:
    for (Object s : servers.toArray()) {
      if (s != null) {
        for (Keep k : keeps) {
          if (isTarget(s, k.target)) {
            continue outer;
          }
        }
      }
      kept.add(s);
    }
    return kept;
  }

  /** A com.netflix.loadbalancer.Server at the target's host:port. */
  private static boolean isTarget(Object server, EvictTarget target) throws Exception {
    Object host = Reflect.callDeclared(server, "getHost");
    Object port = Reflect.callDeclared(server, "getPort");
    return host instanceof String && port instanceof Integer && target.matches((String) host, (Integer) port);
  }

  /** Every live balancer: through SpringClientFactory's named contexts, or a heap walk without Spring. */
  private List<Object> balancers() throws Exception {
    if (live.classesNamed(BALANCER).isEmpty()) {
      return Collections.emptyList();
    }
    List<Object> out = new ArrayList<Object>();
    Map<Object, Boolean> seen = new IdentityHashMap<Object, Boolean>();
    for (Object f : factories()) {
      Object names = Reflect.callDeclared(f, "getContextNames");
      if (!(names instanceof Collection)) {
        continue;
      }
      for (Object name : ((Collection<?>) names).toArray()) {
        // Only names with a context already: getLoadBalancer would create a missing one.
        Object lb = Reflect.invoke(Reflect.method(f.getClass(), "getLoadBalancer", String.class), f, name);
        if (lb != null && Reflect.isA(lb.getClass(), BALANCER) && seen.put(lb, Boolean.TRUE) == null) {
          out.add(lb);
        }
      }
    }
    if (!out.isEmpty() || !live.classesNamed(CLIENT_FACTORY).isEmpty()) {
      return out;
    }
    for (WeakReference<Object> r : walked) {
      Object lb = r.get();
      if (lb != null) {
        out.add(lb);
      }
    }
    long now = System.currentTimeMillis();
    if (out.isEmpty() && (lastWalk == 0 || now - lastWalk >= REWALK_MS)) {
      // Ribbon without Spring: the balancers themselves, created whenever the application asks.
      boolean refresh = lastWalk != 0;
      lastWalk = now;
      walked.clear();
      for (Object lb : live.instancesOf(BALANCER, LIMIT, refresh)) {
        walked.add(new WeakReference<Object>(lb));
        out.add(lb);
      }
    }
    return out;
  }

  private List<Object> factories() throws Exception {
    List<Object> out = new ArrayList<Object>();
    for (WeakReference<Object> r : factories) {
      Object f = r.get();
      if (f != null) {
        out.add(f);
      }
    }
    if (!out.isEmpty() || live.classesNamed(CLIENT_FACTORY).isEmpty()) {
      return out;
    }
    long now = System.currentTimeMillis();
    if (lastWalk != 0 && now - lastWalk < REWALK_MS) {
      return out;
    }
    boolean refresh = lastWalk != 0;
    lastWalk = now;
    for (Object f : live.instancesOf(CLIENT_FACTORY, 16, refresh)) {
      factories.add(new WeakReference<Object>(f));
      out.add(f);
    }
    return out;
  }
}
