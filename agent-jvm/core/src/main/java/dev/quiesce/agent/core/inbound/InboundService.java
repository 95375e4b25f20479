package dev.quiesce.agent.core.inbound;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.proto.v1.InboundEntry;
import dev.quiesce.agent.proto.v1.InboundPeer;
import dev.quiesce.agent.proto.v1.InboundReport;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts inbound requests: weaves the entry points (EntryPoint.ALL) of classes already loaded
 * (retransformClasses) and of classes loaded later (a ClassFileTransformer), and reads the
 * counters the woven code updates (InboundCounters, in the bootstrap jar: see README).
 *
 * <p>{@link #uninstall()} removes the transformer and retransforms the woven classes back to their
 * original bytes. The counters class stays loaded: the next agent reads it again, from a baseline.
 */
public final class InboundService {
  static final String COUNTERS_CLASS = "dev.quiesce.agent.bootstrap.inbound.InboundCounters";
  static final String BOOTSTRAP_CLASS = "dev.quiesce.agent.bootstrap.AgentBootstrap";
  private static final int KINDS = EntryPoint.KIND_NAMES.length;

  private final Instrumentation inst;
  private final Class<?> counters;
  private final Method snapshot;
  private final Method peers;
  private final long[] baseline;
  private final Transformer transformer;
  /** Entry-point names woven in at least one class, in this agent. */
  private final Set<String> woven = Collections.newSetFromMap(new ConcurrentHashMap<String, Boolean>());
  private volatile boolean installed;

  private InboundService(Instrumentation inst, Class<?> counters) throws Exception {
    this.inst = inst;
    this.counters = counters;
    this.snapshot = counters.getMethod("snapshot");
    this.peers = counters.getMethod("peers", boolean.class);
    this.baseline = (long[]) snapshot.invoke(null);
    Map<String, List<EntryPoint>> byClass = new HashMap<String, List<EntryPoint>>();
    for (EntryPoint e : EntryPoint.ALL) {
      List<EntryPoint> list = byClass.get(e.className);
      if (list == null) {
        list = new ArrayList<EntryPoint>();
        byClass.put(e.className, list);
      }
      list.add(e);
    }
    this.transformer = new Transformer(byClass);
  }

  /** Weaves every entry point it can; never throws. Null if the counters class cannot be found. */
  public static InboundService install(Instrumentation inst) {
    try {
      if (!inst.isRetransformClassesSupported()) {
        AgentLog.info("inbound: retransformation not supported by this JVM, requests are not counted");
        return null;
      }
      Class<?> counters = findCounters(inst);
      if (counters == null) {
        AgentLog.info("inbound: " + COUNTERS_CLASS + " not found, requests are not counted");
        return null;
      }
      InboundService service = new InboundService(inst, counters);
      service.start();
      return service;
    } catch (Throwable t) {
      AgentLog.warn("inbound: install failed, requests are not counted", t);
      return null;
    }
  }

  private void start() {
    // Load ASM before the transformer is live, so it never loads classes while a class is defined.
    byte[] self = selfBytes();
    if (self != null) {
      EntryWeaver.weave(self, Collections.<EntryPoint>emptyList(), new ArrayList<String>());
    }
    installed = true;
    inst.addTransformer(transformer, true);
    List<Class<?>> loaded = targetsLoaded();
    for (Class<?> c : loaded) {
      retransform(c, "weave");
    }
    AgentLog.info("inbound: transformer added, " + loaded.size() + " loaded class(es) retransformed, woven " + woven);
  }

  /** Removes the transformer and puts back the original bytes of every class it wove. Never throws. */
  public void uninstall() {
    if (!installed) {
      return;
    }
    installed = false;
    try {
      boolean removed = inst.removeTransformer(transformer);
      List<Class<?>> loaded = targetsLoaded();
      for (Class<?> c : loaded) {
        retransform(c, "restore");
      }
      woven.clear();
      AgentLog.info("inbound: transformer removed (" + removed + "), " + loaded.size() + " class(es) restored, still woven: "
          + stillWoven(loaded));
    } catch (Throwable t) {
      AgentLog.warn("inbound: uninstall", t);
    }
  }

  /** Retransforms once more with a probe that only looks: the names of classes still referencing the counters. */
  private List<String> stillWoven(List<Class<?>> classes) {
    final List<String> out = new ArrayList<String>();
    ClassFileTransformer probe = new ClassFileTransformer() {
      @Override
      public byte[] transform(ClassLoader l, String name, Class<?> c, ProtectionDomain d, byte[] bytes) {
        try {
          if (byClassContains(name) && EntryWeaver.isWoven(new org.objectweb.asm.ClassReader(bytes))) {
            synchronized (out) {
              out.add(name);
            }
          }
        } catch (Throwable ignored) {
          // a probe only
        }
        return null;
      }
    };
    inst.addTransformer(probe, true);
    try {
      for (Class<?> c : classes) {
        retransform(c, "probe");
      }
    } finally {
      inst.removeTransformer(probe);
    }
    return out;
  }

  private boolean byClassContains(String name) {
    return name != null && transformer.byClass.containsKey(name);
  }

  public InboundReport report(boolean drainPeers) throws Exception {
    long[] now = (long[]) snapshot.invoke(null);
    InboundReport.Builder r = InboundReport.newBuilder();
    long inFlight = 0;
    long total = 0;
    // The counters class outlives agents: one loaded by an older agent may know fewer kinds.
    int kinds = Math.min(KINDS, (now.length - 2) / 2);
    for (int k = 0; k < kinds; k++) {
      long kindInFlight = now[k * 2];
      long kindTotal = Math.max(0, now[k * 2 + 1] - baseline[k * 2 + 1]);
      inFlight += kindInFlight;
      total += kindTotal;
      r.addEntries(InboundEntry.newBuilder().setKind(EntryPoint.KIND_NAMES[k]).setInFlight(kindInFlight).setTotal(kindTotal));
    }
    long last = now[kinds * 2];
    r.setInFlight(inFlight).setTotal(total).setLastRequestMillis(last > baseline[kinds * 2] ? last : 0);
    if (drainPeers) {
      for (Object[] p : (Object[][]) peers.invoke(null, Boolean.TRUE)) {
        InboundPeer.Builder b = InboundPeer.newBuilder()
            .setAddress((String) p[0])
            .setLocalPort(((Integer) p[1]).intValue())
            .setRequests(((Long) p[2]).longValue())
            .setLastSeenMillis(((Long) p[4]).longValue());
        if (p[3] != null) {
          b.setConsumerNode((String) p[3]);
        }
        r.addPeers(b);
      }
    }
    r.addAllInstrumented(new TreeSet<String>(woven));
    return r.build();
  }

  private List<Class<?>> targetsLoaded() {
    List<Class<?>> out = new ArrayList<Class<?>>();
    for (Class<?> c : inst.getAllLoadedClasses()) {
      String name = c.getName();
      if (transformer.byClass.containsKey(name.replace('.', '/')) && inst.isModifiableClass(c)) {
        out.add(c);
      }
    }
    return out;
  }

  /** One class at a time: a class that fails is logged and left alone, the others go on. */
  private void retransform(Class<?> c, String why) {
    try {
      inst.retransformClasses(c);
    } catch (Throwable t) {
      AgentLog.warn("inbound: " + why + " " + c.getName() + " (loader " + c.getClassLoader() + ") failed, class left as it was", t);
    }
  }

  /** Can code defined by {@code loader} link to InboundCounters? Only parent-first ancestry is trusted. */
  boolean countersVisibleFrom(ClassLoader loader) {
    ClassLoader ours = counters.getClassLoader();
    for (ClassLoader l = loader; l != null; l = l.getParent()) {
      if (l == ours) {
        return true;
      }
    }
    return ours == null;
  }

  /** On the system class path, where load instrument put the bootstrap jar (else beside AgentBootstrap). */
  private static Class<?> findCounters(Instrumentation inst) {
    try {
      return Class.forName(COUNTERS_CLASS, true, ClassLoader.getSystemClassLoader());
    } catch (Throwable notThere) {
      for (Class<?> c : inst.getAllLoadedClasses()) {
        if (BOOTSTRAP_CLASS.equals(c.getName())) {
          try {
            return Class.forName(COUNTERS_CLASS, true, c.getClassLoader());
          } catch (Throwable t) {
            return null;
          }
        }
      }
      return null;
    }
  }

  private static byte[] selfBytes() {
    try {
      java.io.InputStream in = InboundService.class.getResourceAsStream("InboundService.class");
      try {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        for (int n; (n = in.read(buf)) > 0; ) {
          out.write(buf, 0, n);
        }
        return out.toByteArray();
      } finally {
        in.close();
      }
    } catch (Throwable t) {
      return null;
    }
  }

  private final class Transformer implements ClassFileTransformer {
    final Map<String, List<EntryPoint>> byClass;
    private final Set<ClassLoader> refused = Collections.newSetFromMap(new java.util.WeakHashMap<ClassLoader, Boolean>());

    Transformer(Map<String, List<EntryPoint>> byClass) {
      this.byClass = byClass;
    }

    @Override
    public byte[] transform(ClassLoader loader, String className, Class<?> redefined, ProtectionDomain domain, byte[] bytes) {
      if (className == null || !installed) {
        return null;
      }
      List<EntryPoint> entries = byClass.get(className);
      if (entries == null) {
        return null;
      }
      try {
        if (!countersVisibleFrom(loader)) {
          synchronized (refused) {
            if (refused.add(loader)) {
              AgentLog.info("inbound: " + className + " in loader " + loader
                  + " cannot see the counters (no parent-first path to the system class path): left alone");
            }
          }
          return null;
        }
        List<String> names = new ArrayList<String>();
        byte[] out = EntryWeaver.weave(bytes, entries, names);
        if (out == null) {
          if (EntryWeaver.isWoven(new org.objectweb.asm.ClassReader(bytes))) {
            AgentLog.info("inbound: " + className + " is already woven (an earlier agent's transformer is still registered)");
          }
          return null;
        }
        woven.addAll(names);
        return out;
      } catch (Throwable t) {
        AgentLog.warn("inbound: weaving " + className + " failed, class left as it was", t);
        return null;
      }
    }
  }
}
