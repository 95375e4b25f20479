package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficAdapter;
import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Dubbo providers in and out of their registries. One {@link DubboRuntime} per Dubbo found (per
 * class loader and package family), chosen by version: {@link Dubbo2Registries} for Alibaba 2.6.x
 * and Apache 2.7.x, {@link Dubbo3Registries} for Apache 3.2.x / 3.3.x. Found by class name among
 * the loaded classes (no heap walk: every entry point is static in Dubbo).
 */
public final class DubboAdapter implements TrafficAdapter {
  static final String TRAFFIC = "dubbo";

  /**
   * Landmarks, any of which means a Dubbo is there: its config API (every version), the registry
   * factory (loaded once a registry exists) and Dubbo 3's FrameworkModel (3.0+).
   */
  private static final String[][] LANDMARKS = {
    {"com.alibaba.dubbo.config.ServiceConfig", "com.alibaba.dubbo"},
    {"com.alibaba.dubbo.config.ReferenceConfig", "com.alibaba.dubbo"},
    {"com.alibaba.dubbo.registry.support.AbstractRegistryFactory", "com.alibaba.dubbo"},
    {"org.apache.dubbo.config.ServiceConfig", "org.apache.dubbo"},
    {"org.apache.dubbo.config.ReferenceConfig", "org.apache.dubbo"},
    {"org.apache.dubbo.registry.support.AbstractRegistryFactory", "org.apache.dubbo"},
    {"org.apache.dubbo.rpc.model.FrameworkModel", "org.apache.dubbo"},
  };

  private final LiveObjects live;
  /** Landmarks are looked for again at most this often (a scan reads every loaded class). */
  private static final long RESCAN_MILLIS = 10_000L;

  /**
   * class loader (weakly; ClassLoader equality is identity) -> package family -> runtime, kept so
   * that what was removed is remembered. Null runtime: a loader with only compatibility classes.
   */
  private final Map<ClassLoader, Map<String, DubboRuntime>> known = new WeakHashMap<ClassLoader, Map<String, DubboRuntime>>();
  private long lastScan;

  public DubboAdapter(LiveObjects live) {
    this.live = live;
  }

  @Override
  public String traffic() {
    return TRAFFIC;
  }

  @Override
  public List<FrameworkInventory> inventory() {
    List<FrameworkInventory> out = new ArrayList<FrameworkInventory>();
    for (DubboRuntime r : runtimes()) {
      out.add(r.inventory());
    }
    return out;
  }

  @Override
  public List<TrafficChange> isolate() throws Exception {
    List<DubboRuntime> all = runtimes();
    if (all.isEmpty()) {
      throw new TrafficException("no_framework", "no Dubbo found in this JVM");
    }
    List<TrafficChange> changes = new ArrayList<TrafficChange>();
    StringBuilder unsupported = new StringBuilder();
    boolean any = false;
    for (DubboRuntime r : all) {
      if (r.unsupportedReason != null) {
        unsupported.append(unsupported.length() == 0 ? "" : "; ").append(r.unsupportedReason);
        continue;
      }
      any = true;
      changes.addAll(r.isolate());
    }
    if (!any) {
      throw new TrafficException("unsupported_version", unsupported.toString());
    }
    return changes;
  }

  @Override
  public List<TrafficChange> restore() throws Exception {
    List<TrafficChange> changes = new ArrayList<TrafficChange>();
    for (DubboRuntime r : runtimes()) {
      if (r.isolated) {
        changes.addAll(r.restore());
      }
    }
    return changes;
  }

  @Override
  public boolean isolated() {
    for (Map<String, DubboRuntime> byFamily : known.values()) {
      for (DubboRuntime r : byFamily.values()) {
        if (r.isolated) {
          return true;
        }
      }
    }
    return false;
  }

  private List<DubboRuntime> runtimes() {
    long now = System.currentTimeMillis();
    if (known.isEmpty() || now - lastScan >= RESCAN_MILLIS) {
      lastScan = now;
      scan();
    }
    List<DubboRuntime> out = new ArrayList<DubboRuntime>();
    for (Map<String, DubboRuntime> byFamily : known.values()) {
      for (DubboRuntime r : byFamily.values()) {
        if (r != null) {
          out.add(r);
        }
      }
    }
    return out;
  }

  private void scan() {
    for (String[] landmark : LANDMARKS) {
      for (Class<?> c : live.classesNamed(landmark[0])) {
        ClassLoader loader = c.getClassLoader();
        if (loader == null) {
          continue;
        }
        Map<String, DubboRuntime> byFamily = known.get(loader);
        if (byFamily == null) {
          byFamily = new LinkedHashMap<String, DubboRuntime>();
          known.put(loader, byFamily);
        }
        if (!byFamily.containsKey(landmark[1])) {
          byFamily.put(landmark[1], create(landmark[1], loader));
        }
      }
    }
  }

  /** Null (remembered as nothing) for Apache Dubbo's com.alibaba.dubbo compatibility classes. */
  private static DubboRuntime create(String pkg, ClassLoader loader) {
    if ("com.alibaba.dubbo".equals(pkg)) {
      // Apache Dubbo 2.7+ ships com.alibaba.dubbo.* API shims, without com.alibaba.dubbo.common.Version;
      // the org.apache.dubbo landmarks find that Dubbo.
      if (Reflect.load(loader, "com.alibaba.dubbo.common.Version") == null) {
        return null;
      }
      return new Dubbo2Registries(DubboVersions.ALIBABA, pkg, DubboVersions.read(loader, pkg), loader);
    }
    String version = DubboVersions.read(loader, pkg);
    boolean three = version.isEmpty()
        ? Reflect.load(loader, "org.apache.dubbo.rpc.model.FrameworkModel") != null
        : DubboVersions.isDubbo3(version);
    return three ? new Dubbo3Registries(version, loader) : new Dubbo2Registries(DubboVersions.APACHE, pkg, version, loader);
  }
}
