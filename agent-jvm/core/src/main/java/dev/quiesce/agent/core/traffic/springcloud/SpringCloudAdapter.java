package dev.quiesce.agent.core.traffic.springcloud;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficAdapter;
import dev.quiesce.agent.core.traffic.VersionLines;
import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.RegistryInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Spring Cloud service registration ("springcloud"): the live
 * {@code AbstractAutoServiceRegistration} beans (ZookeeperAutoServiceRegistration, ...), their
 * {@code getServiceRegistry()} and {@code getRegistration()}, and
 * {@code serviceRegistry.deregister(registration)} / {@code register(registration)}.
 *
 * <p>Never {@code stop()}: it also calls {@code serviceRegistry.close()} (Spring Cloud Zookeeper
 * then closes Curator's service discovery, and nothing ever registers again). With ZooKeeper,
 * {@code deregister} is Curator's {@code ServiceDiscoveryImpl.unregisterService}, which drops the
 * instance from the services Curator re-registers on reconnect, so a session expiry does not bring
 * it back; a later Isolate still checks the node and removes it again if anything did.
 *
 * <p>Restore registers the very registration object it deregistered: same instance id, same
 * payload.
 */
public final class SpringCloudAdapter implements TrafficAdapter {
  static final String ASR = "org.springframework.cloud.client.serviceregistry.AbstractAutoServiceRegistration";
  static final String SERVICE_INSTANCE = "org.springframework.cloud.client.ServiceInstance";
  static final String FRAMEWORK = "spring-cloud-commons";
  /** At most this many AbstractAutoServiceRegistration beans per JVM (one per application context). */
  private static final int LIMIT = 64;
  /** No registration found: walk the heap again (stop-the-world) at most this often. */
  private static final long REWALK_MS = 2_000;

  private final LiveObjects live;
  private long lastWalk;
  /** What Isolate removed and Restore puts back, in order. */
  private final List<Held> held = new ArrayList<Held>();

  public SpringCloudAdapter(LiveObjects live) {
    this.live = live;
  }

  /**
   * spring-cloud-commons lines this adapter is tested on: 2.2.x (Spring Cloud Hoxton, Boot 2.2 /
   * 2.3, the last with Ribbon), 3.1.x (Spring Cloud 2021.0, Boot 2.7) and 4.1.x (Spring Cloud
   * 2023.0, Boot 3.2 / 3.3).
   */
  static final VersionLines LINES = new VersionLines("2.2", "3.1", "4.1");

  /** Null for a version of {@link #LINES}. */
  static String unsupportedReason(String version) {
    if (version == null || version.isEmpty()) {
      return "spring-cloud-commons version unreadable (no Implementation-Version)";
    }
    if (LINES.covers(version)) {
      return null;
    }
    return "spring-cloud-commons " + version + " is not a version quiesce knows (" + LINES + ")";
  }

  @Override
  public String traffic() {
    return "springcloud";
  }

  @Override
  public boolean isolated() {
    return !held.isEmpty();
  }

  // ---------------------------------------------------------------------------------------------

  /** One AbstractAutoServiceRegistration bean as found now. */
  private static final class Found {
    Object asr;
    String version;
    String unsupported;
    Registry registry;
    boolean running;
    /** getRegistration(), and getManagementRegistration() when it registers one. */
    final List<Object> registrations = new ArrayList<Object>();
  }

  /** A registration quiesce deregistered. */
  private static final class Held {
    final Found found;
    final Object registration;
    final String item;
    /** Deregister threw: try again on the next Isolate. */
    boolean retry;

    Held(Found found, Object registration, String item) {
      this.found = found;
      this.registration = registration;
      this.item = item;
    }
  }

  private List<Found> find() throws Exception {
    List<Found> out = new ArrayList<Found>();
    if (live.classesNamed(ASR).isEmpty()) {
      return out;
    }
    long now = System.currentTimeMillis();
    boolean first = lastWalk == 0;
    List<Object> asrs = live.instancesOf(ASR, LIMIT, false);
    if (first) {
      lastWalk = now;
    } else if (asrs.isEmpty() && now - lastWalk >= REWALK_MS) {
      // The application may have started its registration after the agent attached.
      lastWalk = now;
      asrs = live.instancesOf(ASR, LIMIT, true);
    }
    for (Object asr : asrs) {
      Found f = describe(asr);
      if (f != null) {
        out.add(f);
      }
    }
    return out;
  }

  /** Reads one bean; null when it has no registry or registration (not a usable bean). */
  private Found describe(Object asr) {
    Found f = new Found();
    f.asr = asr;
    Class<?> base = Reflect.superclassNamed(asr.getClass(), ASR);
    Package pkg = base == null ? null : base.getPackage();
    f.version = pkg == null || pkg.getImplementationVersion() == null ? "" : pkg.getImplementationVersion();
    f.unsupported = unsupportedReason(f.version);
    try {
      Object registry = Reflect.callDeclared(asr, "getServiceRegistry");
      Object registration = Reflect.callDeclared(asr, "getRegistration");
      if (registry == null || registration == null) {
        return null;
      }
      f.registry = new Registry(registry, base.getClassLoader());
      f.running = Boolean.TRUE.equals(Reflect.callDeclared(asr, "isRunning"));
      f.registrations.add(registration);
      Object management = Reflect.callDeclared(asr, "getManagementRegistration");
      if (management != null && management != registration && Boolean.TRUE.equals(Reflect.callDeclared(asr, "shouldRegisterManagement"))) {
        f.registrations.add(management);
      }
    } catch (Exception e) {
      return null;
    }
    return f;
  }

  /** "<serviceId> <host>:<port>" */
  private static String item(Object registration) {
    try {
      return Reflect.callDeclared(registration, "getServiceId") + " " + Reflect.callDeclared(registration, "getHost") + ":" + Reflect.callDeclared(registration, "getPort");
    } catch (Exception e) {
      return registration.getClass().getName();
    }
  }

  private Held heldFor(Object registration) {
    for (Held h : held) {
      if (h.registration == registration) {
        return h;
      }
    }
    return null;
  }

  private static TrafficChange.Builder changeFor(Map<Object, TrafficChange.Builder> changes, Found f) {
    TrafficChange.Builder c = changes.get(f.registry.target);
    if (c == null) {
      c = TrafficChange.newBuilder()
          .setTraffic("springcloud")
          .setFramework(FRAMEWORK)
          .setVersion(f.version)
          .setRegistry(f.registry.name)
          .setKind("registration");
      changes.put(f.registry.target, c);
    }
    return c;
  }

  private static void addError(TrafficChange.Builder c, String error) {
    c.setError(c.getError().isEmpty() ? error : c.getError() + "; " + error);
  }

  private static List<TrafficChange> build(Map<Object, TrafficChange.Builder> changes) {
    List<TrafficChange> out = new ArrayList<TrafficChange>();
    for (TrafficChange.Builder c : changes.values()) {
      out.add(c.build());
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  @Override
  public List<FrameworkInventory> inventory() throws Exception {
    Map<String, FrameworkInventory.Builder> byVersion = new LinkedHashMap<String, FrameworkInventory.Builder>();
    Map<Object, RegistryInventory.Builder> byRegistry = new IdentityHashMap<Object, RegistryInventory.Builder>();
    List<Found> found = find();
    for (Found f : found) {
      RegistryInventory.Builder r = registryFor(byVersion, byRegistry, f);
      for (Object registration : f.registrations) {
        if (heldFor(registration) != null) {
          continue;
        }
        Boolean present = f.registry.present(registration);
        if (Boolean.TRUE.equals(present) || (present == null && f.running)) {
          r.addRegistered(item(registration));
        }
      }
    }
    for (Held h : held) {
      RegistryInventory.Builder r = registryFor(byVersion, byRegistry, h.found);
      r.addRemoved(h.item);
      if (Boolean.TRUE.equals(h.found.registry.present(h.registration))) {
        // Came back on its own: the next Isolate removes it again.
        r.addRegistered(h.item);
      }
    }
    List<FrameworkInventory> out = new ArrayList<FrameworkInventory>();
    for (FrameworkInventory.Builder b : byVersion.values()) {
      out.add(b.build());
    }
    return out;
  }

  private RegistryInventory.Builder registryFor(Map<String, FrameworkInventory.Builder> byVersion,
      Map<Object, RegistryInventory.Builder> byRegistry, Found f) {
    FrameworkInventory.Builder fw = byVersion.get(f.version);
    if (fw == null) {
      fw = FrameworkInventory.newBuilder()
          .setTraffic("springcloud")
          .setFramework(FRAMEWORK)
          .setVersion(f.version)
          .setSupported(f.unsupported == null)
          .setUnsupportedReason(f.unsupported == null ? "" : f.unsupported)
          .setIsolated(!held.isEmpty());
      byVersion.put(f.version, fw);
    }
    RegistryInventory.Builder r = byRegistry.get(f.registry.target);
    if (r == null) {
      r = fw.addRegistriesBuilder().setRegistry(f.registry.name).setKind("registration");
      byRegistry.put(f.registry.target, r);
    }
    return r;
  }

  @Override
  public List<TrafficChange> isolate() throws Exception {
    Map<Object, TrafficChange.Builder> changes = new LinkedHashMap<Object, TrafficChange.Builder>();
    for (Found f : find()) {
      if (f.unsupported != null) {
        continue;
      }
      TrafficChange.Builder c = changeFor(changes, f);
      for (Object registration : f.registrations) {
        Held h = heldFor(registration);
        if (h == null) {
          if (!f.running) {
            continue; // not registered: nothing to take away, nothing to put back
          }
          h = new Held(f, registration, item(registration));
          held.add(h);
          deregister(h, c, false);
        } else if (h.retry) {
          deregister(h, c, false);
        } else if (Boolean.TRUE.equals(f.registry.present(registration))) {
          deregister(h, c, true);
        }
      }
    }
    // Held registrations whose bean is no longer found (the heap walk is cached weakly): still checked.
    for (Held h : held) {
      if (!changes.containsKey(h.found.registry.target)) {
        TrafficChange.Builder c = changeFor(changes, h.found);
        if (h.retry) {
          deregister(h, c, false);
        } else if (Boolean.TRUE.equals(h.found.registry.present(h.registration))) {
          deregister(h, c, true);
        }
      }
    }
    return build(changes);
  }

  private static void deregister(Held h, TrafficChange.Builder c, boolean again) {
    try {
      if (again) {
        h.found.registry.removeAgain(h.registration);
      } else {
        h.found.registry.deregister(h.registration);
      }
      h.retry = false;
      if (again) {
        c.setReapplied(c.getReapplied() + 1);
      } else {
        c.addDeregistered(h.item);
      }
    } catch (Throwable t) {
      // Held all the same: Restore puts it back whatever state the registry was left in.
      h.retry = true;
      addError(c, Reflect.describe("deregister_failed", t) + " (" + h.item + ")");
    }
  }

  @Override
  public List<TrafficChange> restore() throws Exception {
    Map<Object, TrafficChange.Builder> changes = new LinkedHashMap<Object, TrafficChange.Builder>();
    for (Iterator<Held> it = held.iterator(); it.hasNext();) {
      Held h = it.next();
      TrafficChange.Builder c = changeFor(changes, h.found);
      boolean running;
      try {
        running = Boolean.TRUE.equals(Reflect.callDeclared(h.found.asr, "isRunning"));
      } catch (Exception e) {
        running = false;
      }
      if (!running) {
        // The application stopped its registration (context closed) since: registering now would
        // revive an instance that is shutting down.
        it.remove();
        addError(c, "not_running: the application stopped its registration since isolate; " + h.item + " not restored");
        continue;
      }
      try {
        h.found.registry.register(h.registration);
        c.addRestored(h.item);
        it.remove();
      } catch (Throwable t) {
        addError(c, Reflect.describe("register_failed", t) + " (" + h.item + ")");
      }
    }
    return build(changes);
  }
}
