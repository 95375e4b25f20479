package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.proto.v1.AnnounceReport;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AnnounceReadOnly, provider side: on every channel of every dubbo-protocol server of every Dubbo
 * in the JVM, the read-only event ({@code R}) that {@code HeaderExchangeServer} itself only sends
 * when it closes (its private {@code sendChannelReadOnlyEvent()}): connected consumers mark the
 * channel {@code channel.readonly}, {@code DubboInvoker.isAvailable()} turns false and their
 * cluster stops choosing this provider at once. Built here as Dubbo builds it: a one-way event
 * {@code Request} sent with {@code channel.send(request, true)}.
 *
 * <p>{@code writeable} sends {@code W}, which consumers from 3.2.1 on understand (Dubbo's own
 * {@code GracefulShutdown.writeable()}); older Dubbo has no such event (Alibaba Dubbo 2.6.x's
 * {@code HeaderExchangeHandler.handlerEvent} only knows {@code R}): nothing is sent there, and the
 * report's {@code skipped} says so — its consumers clear the mark only when they reconnect.
 *
 * <p>Servers: {@code DubboProtocol.getDubboProtocol().getServers()} (2.6.x / 2.7.x, static), per
 * {@code FrameworkModel} {@code DubboProtocol.getDubboProtocol(frameworkModel).getServers()} (3.x).
 * A 2.7.5+ / 3.x server is a {@code ProtocolServer} whose {@code getRemotingServer()} is the
 * exchange server. Found by class name among the loaded classes: no heap walk.
 */
public final class ReadOnlyAnnouncer {
  static final String READONLY_EVENT = "R";
  static final String WRITEABLE_EVENT = "W";
  /** Package families whose dubbo protocol may be loaded. */
  private static final String[] PACKAGES = {"org.apache.dubbo", "com.alibaba.dubbo"};

  private static final long RESCAN_MS = 10_000;
  private final LiveObjects live;
  private long lastScan;
  private List<Found> found = new ArrayList<Found>();

  public ReadOnlyAnnouncer(LiveObjects live) {
    this.live = live;
  }

  /** One Dubbo (class loader + package family) whose dubbo protocol is loaded. */
  private static final class Found {
    private final WeakReference<ClassLoader> loader;
    final String pkg;
    final String framework;
    final String version;
    /** Weak, like the loader. */
    private final WeakReference<Class<?>> protocol;

    Found(ClassLoader loader, String pkg, String framework, String version, Class<?> protocol) {
      this.loader = new WeakReference<ClassLoader>(loader);
      this.pkg = pkg;
      this.framework = framework;
      this.version = version;
      this.protocol = new WeakReference<Class<?>>(protocol);
    }

    ClassLoader loader() {
      return loader.get();
    }
  }

  public AnnounceReport announce(boolean writeable) throws TrafficException {
    List<Found> all = find();
    if (all.isEmpty()) {
      throw new TrafficException("no_framework", "no Dubbo protocol (org.apache.dubbo / com.alibaba.dubbo DubboProtocol) is loaded in this JVM");
    }
    long t0 = System.nanoTime();
    int channels = 0;
    Set<String> frameworks = new LinkedHashSet<String>();
    Set<String> versions = new LinkedHashSet<String>();
    List<String> errors = new ArrayList<String>();
    List<String> skipped = new ArrayList<String>();
    for (Found f : all) {
      frameworks.add(f.framework);
      versions.add(f.version);
      String event = writeable ? WRITEABLE_EVENT : READONLY_EVENT;
      if (writeable && !hasWriteableEvent(f, f.loader())) {
        skipped.add(f.framework + " " + f.version + " has no writeable event (Dubbo 3.2.1+):"
            + " its consumers clear the read-only mark when they reconnect");
        continue;
      }
      ClassLoader loader = f.loader();
      if (loader == null) {
        continue;
      }
      Thread t = Thread.currentThread();
      ClassLoader previous = t.getContextClassLoader();
      t.setContextClassLoader(loader);
      try {
        channels += send(f, loader, event, errors);
      } catch (Throwable e) {
        errors.add(DubboRuntime.error("announce_failed", e));
      } finally {
        t.setContextClassLoader(previous);
      }
    }
    AnnounceReport.Builder b = AnnounceReport.newBuilder()
        .setChannels(channels)
        .setFramework(join(frameworks))
        .setVersion(join(versions));
    if (!errors.isEmpty()) {
      b.setError(join(errors));
    }
    if (!skipped.isEmpty()) {
      b.setSkipped(join(skipped));
    }
    AgentLog.info("dubbo: " + (writeable ? "writeable" : "read-only") + " event sent on " + channels + " channel(s) of "
        + join(frameworks) + " " + join(versions) + " in " + (System.nanoTime() - t0) / 1000 + " us"
        + (skipped.isEmpty() ? "" : "; skipped: " + join(skipped))
        + (errors.isEmpty() ? "" : "; " + join(errors)));
    return b.build();
  }

  /** The event on every connected channel of every dubbo-protocol server of that Dubbo; how many channels got it. */
  private static int send(Found f, ClassLoader loader, String event, List<String> errors) throws Exception {
    Object request = request(f, loader, event);
    int sent = 0;
    Map<Object, Boolean> seen = new IdentityHashMap<Object, Boolean>();
    for (Object protocol : protocols(f, loader)) {
      for (Object server : new ArrayList<Object>((Collection<?>) Reflect.call(protocol, "getServers"))) {
        Object remoting = server;
        try {
          remoting = Reflect.call(server, "getRemotingServer");
        } catch (NoSuchMethodException before275) {
          // 2.6 / 2.7.0-2.7.4: getServers() lists the ExchangeServers themselves
        }
        if (remoting == null || seen.put(remoting, Boolean.TRUE) != null) {
          continue;
        }
        for (Object channel : new ArrayList<Object>((Collection<?>) Reflect.call(remoting, "getChannels"))) {
          try {
            if (Boolean.TRUE.equals(Reflect.call(channel, "isConnected"))) {
              Reflect.call(channel, "send", request, Boolean.TRUE);
              sent++;
            }
          } catch (Exception e) {
            // A consumer that just went: the others still get it.
            errors.add(DubboRuntime.error("send_failed", e) + " (" + channel + ")");
          }
        }
      }
    }
    return sent;
  }

  /** A one-way event Request, as HeaderExchangeServer.sendChannelReadOnlyEvent builds it. */
  private static Object request(Found f, ClassLoader loader, String event) throws Exception {
    Class<?> type = Class.forName(f.pkg + ".remoting.exchange.Request", true, loader);
    Object request = type.getConstructor().newInstance();
    Reflect.call(request, "setEvent", event);
    Reflect.call(request, "setTwoWay", Boolean.FALSE);
    Class<?> version = Class.forName(f.pkg + ".common.Version", true, loader);
    Reflect.call(request, "setVersion", Reflect.callStatic(version, "getProtocolVersion"));
    return request;
  }

  /** The DubboProtocol instance(s): one static in 2.x, one per FrameworkModel in 3.x. */
  private static List<Object> protocols(Found f, ClassLoader loader) throws Exception {
    Class<?> protocol = f.protocol.get();
    if (protocol == null) {
      return new ArrayList<Object>();
    }
    List<Object> out = new ArrayList<Object>();
    Class<?> fm = "org.apache.dubbo".equals(f.pkg) ? Reflect.load(loader, "org.apache.dubbo.rpc.model.FrameworkModel") : null;
    if (fm == null) {
      Object p = Reflect.callStatic(protocol, "getDubboProtocol");
      if (p != null) {
        out.add(p);
      }
      return out;
    }
    Class<?> scope = Reflect.load(loader, "org.apache.dubbo.rpc.model.ScopeModel");
    for (Object model : new ArrayList<Object>((Collection<?>) Reflect.callStatic(fm, "getAllInstances"))) {
      if (Boolean.TRUE.equals(Reflect.call(model, "isDestroyed"))) {
        continue;
      }
      Object p = scope == null ? null : Reflect.callStatic(protocol, "getDubboProtocol", model);
      if (p != null && !containsIdentity(out, p)) {
        out.add(p);
      }
    }
    return out;
  }

  private static boolean hasWriteableEvent(Found f, ClassLoader loader) {
    if (loader == null) {
      return false;
    }
    Class<?> constants = Reflect.load(loader, f.pkg + ".common.constants.CommonConstants");
    if (constants == null) {
      return false;
    }
    try {
      constants.getField("WRITEABLE_EVENT");
      return true;
    } catch (NoSuchFieldException e) {
      return false;
    }
  }

  /** Cached: a scan reads every loaded class. Again when nothing was found, at most every RESCAN_MS. */
  private synchronized List<Found> find() {
    long now = System.currentTimeMillis();
    List<Found> live = new ArrayList<Found>();
    for (Found f : found) {
      if (f.loader() != null) {
        live.add(f);
      }
    }
    if (lastScan != 0 && (now - lastScan < RESCAN_MS || !live.isEmpty())) {
      return live;
    }
    lastScan = now;
    found = scan();
    return new ArrayList<Found>(found);
  }

  /** Finds the Dubbo runtimes ahead of the first AnnounceReadOnly (at attach time). Never throws. */
  public void warm() {
    try {
      find();
    } catch (Throwable ignored) {
      // announce looks again
    }
  }

  private List<Found> scan() {
    List<Found> out = new ArrayList<Found>();
    for (String pkg : PACKAGES) {
      for (Class<?> c : live.classesNamed(pkg + ".rpc.protocol.dubbo.DubboProtocol")) {
        ClassLoader loader = c.getClassLoader();
        if (loader == null) {
          continue;
        }
        if ("com.alibaba.dubbo".equals(pkg) && Reflect.load(loader, "com.alibaba.dubbo.common.Version") == null) {
          continue; // Apache Dubbo's compatibility shims: found as org.apache.dubbo
        }
        String framework = "com.alibaba.dubbo".equals(pkg) ? DubboVersions.ALIBABA : DubboVersions.APACHE;
        out.add(new Found(loader, pkg, framework, DubboVersions.read(loader, pkg), c));
      }
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

  private static String join(Collection<String> parts) {
    StringBuilder b = new StringBuilder();
    for (String p : parts) {
      if (b.length() > 0) {
        b.append("; ");
      }
      b.append(p);
    }
    return b.toString();
  }
}
