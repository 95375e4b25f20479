package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.proto.v1.RegistryInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Apache Dubbo 3.2.x / 3.3.x: registries per ApplicationModel in its RegistryManager; a
 * {@code zookeeper://} registry is used twice, interface-level ({@code ZookeeperRegistry}, nodes
 * under {@code /dubbo/<iface>/providers}) and application-level ({@code ServiceDiscoveryRegistry},
 * an instance under {@code /services/<app>/}).
 *
 * <p>Mirrors Dubbo 3's QoS {@code offline}/{@code online} ({@code BaseOffline}/{@code BaseOnline}):
 * for every {@code ProviderModel} stated URL that is registered, {@code registry.unregister(url)}
 * through the application's RegistryFactory and {@code setRegistered(false)}. For the
 * service-discovery registry that only removes the service from the instance's metadata; the
 * instance itself goes when {@code ServiceDiscovery.update()} sees the empty revision, which Dubbo
 * runs every metadata-publish-delay (1 s): quiesce runs it at once. Restore registers the URLs back
 * into the metadata and runs {@code update()} again, which registers the instance under its new,
 * non-empty revision ({@code ServiceDiscovery.unregister()} then {@code register()} would not: same
 * revision, nothing done). {@code RegistryManager.destroyAll()} is never used: it cannot be undone.
 */
final class Dubbo3Registries extends DubboRuntime {
  /** What quiesce removed: registry name|kind|full URL -> the stated URL and where it was. */
  private final Map<String, Held> held = new LinkedHashMap<String, Held>();

  private static final class Held {
    final Object stated;
    final Object providerUrl;
    final Object registryUrl;
    final Object registry;
    final String name;
    final String kind;
    final String full;

    Held(Object stated, Object providerUrl, Object registryUrl, Object registry, String name, String kind, String full) {
      this.stated = stated;
      this.providerUrl = providerUrl;
      this.registryUrl = registryUrl;
      this.registry = registry;
      this.name = name;
      this.kind = kind;
      this.full = full;
    }
  }

  Dubbo3Registries(String version, ClassLoader loader) {
    super(DubboVersions.APACHE, version, loader);
  }

  private List<Object> frameworkModels() throws Exception {
    Class<?> fm = Reflect.load(loader(), "org.apache.dubbo.rpc.model.FrameworkModel");
    if (fm == null) {
      return new ArrayList<Object>();
    }
    return new ArrayList<Object>((Collection<?>) Reflect.callStatic(fm, "getAllInstances"));
  }

  private List<Object> applicationModels() throws Exception {
    List<Object> out = new ArrayList<Object>();
    for (Object framework : frameworkModels()) {
      out.addAll((Collection<?>) Reflect.call(framework, "getApplicationModels"));
    }
    return out;
  }

  private List<Object> statedUrls() throws Exception {
    List<Object> out = new ArrayList<Object>();
    for (Object framework : frameworkModels()) {
      Object repository = Reflect.call(framework, "getServiceRepository");
      for (Object provider : new ArrayList<Object>((Collection<?>) Reflect.call(repository, "allProviderModels"))) {
        out.addAll(new ArrayList<Object>((Collection<?>) Reflect.call(provider, "getStatedUrl")));
      }
    }
    return out;
  }

  private Object registryManager(Object application) throws Exception {
    Class<?> rm = Reflect.load(loader(), "org.apache.dubbo.registry.support.RegistryManager");
    return Reflect.callStatic(rm, "getInstance", application);
  }

  /** As BaseOffline.doUnexport: the registry the application's RegistryFactory gives for that URL. */
  private Object registryFor(Object registryUrl) throws Exception {
    Object application = Reflect.call(registryUrl, "getOrDefaultApplicationModel");
    Class<?> factoryType = Reflect.load(loader(), "org.apache.dubbo.registry.RegistryFactory");
    Object factory = Reflect.call(Reflect.call(application, "getExtensionLoader", factoryType), "getAdaptiveExtension");
    return Reflect.call(factory, "getRegistry", registryUrl);
  }

  private static String kind(Object registryUrl) throws Exception {
    return DubboUrls.isServiceDiscovery(registryUrl) ? "instance" : "interface";
  }

  @Override
  List<RegistryInventory> registries() throws Exception {
    Map<String, RegistryInventory.Builder> out = new LinkedHashMap<String, RegistryInventory.Builder>();
    for (Object application : applicationModels()) {
      for (Object registry : new ArrayList<Object>((Collection<?>) Reflect.call(registryManager(application), "getRegistries"))) {
        Object url = Reflect.call(registry, "getUrl");
        entry(out, DubboUrls.registryName(url), kind(url));
      }
    }
    for (Object stated : statedUrls()) {
      Object registryUrl = Reflect.call(stated, "getRegistryUrl");
      RegistryInventory.Builder b = entry(out, DubboUrls.registryName(registryUrl), kind(registryUrl));
      if (Boolean.TRUE.equals(Reflect.call(stated, "isRegistered"))) {
        b.addRegistered(DubboUrls.full(Reflect.call(stated, "getProviderUrl")));
      }
    }
    for (Held h : held.values()) {
      entry(out, h.name, h.kind).addRemoved(h.full);
    }
    List<RegistryInventory> list = new ArrayList<RegistryInventory>();
    for (RegistryInventory.Builder b : out.values()) {
      list.add(b.build());
    }
    return list;
  }

  private static RegistryInventory.Builder entry(Map<String, RegistryInventory.Builder> all, String name, String kind) {
    String key = name + "|" + kind;
    RegistryInventory.Builder b = all.get(key);
    if (b == null) {
      b = RegistryInventory.newBuilder().setRegistry(name).setKind(kind);
      all.put(key, b);
    }
    return b;
  }

  private TrafficChange.Builder entry(Map<String, TrafficChange.Builder> all, String name, String kind, boolean create) {
    String key = name + "|" + kind;
    TrafficChange.Builder b = all.get(key);
    if (b == null && create) {
      b = change(name, kind);
      all.put(key, b);
    }
    return b;
  }

  @Override
  List<TrafficChange> isolate() throws Exception {
    ClassLoader previous = enter();
    try {
      boolean again = isolated;
      isolated = true;
      Map<String, TrafficChange.Builder> changes = new LinkedHashMap<String, TrafficChange.Builder>();
      List<Object> applications = applicationModels();
      for (Object application : applications) {
        for (Object registry : new ArrayList<Object>((Collection<?>) Reflect.call(registryManager(application), "getRegistries"))) {
          Object url = Reflect.call(registry, "getUrl");
          entry(changes, DubboUrls.registryName(url), kind(url), true);
        }
      }
      for (Object stated : statedUrls()) {
        if (!Boolean.TRUE.equals(Reflect.call(stated, "isRegistered"))) {
          continue;
        }
        Object registryUrl = Reflect.call(stated, "getRegistryUrl");
        Object providerUrl = Reflect.call(stated, "getProviderUrl");
        String name = DubboUrls.registryName(registryUrl);
        String kind = kind(registryUrl);
        String full = DubboUrls.full(providerUrl);
        TrafficChange.Builder change = entry(changes, name, kind, true);
        try {
          Object registry = registryFor(registryUrl);
          held.put(name + "|" + kind + "|" + full, new Held(stated, providerUrl, registryUrl, registry, name, kind, full));
          Reflect.call(registry, "unregister", providerUrl);
          Reflect.call(stated, "setRegistered", false);
          change.addDeregistered(full);
          if (again) {
            change.setReapplied(change.getReapplied() + 1);
          }
        } catch (Throwable t) {
          change.setError(error("unregister_failed", t));
        }
      }
      // An interface-level URL can also come back without its stated flag (e.g. a failed
      // unregister that FailbackRegistry keeps retrying, or a register by other code).
      for (Held h : held.values()) {
        if (!"interface".equals(h.kind)) {
          continue;
        }
        TrafficChange.Builder change = entry(changes, h.name, h.kind, true);
        try {
          Set<?> registered = registeredOf(h.registry);
          if (registered != null && containsUrl(registered, h.full)) {
            Reflect.call(h.registry, "unregister", h.providerUrl);
            change.addDeregistered(h.full);
            change.setReapplied(change.getReapplied() + 1);
          }
        } catch (Throwable t) {
          change.setError(error("unregister_failed", t));
        }
      }
      refreshInstances(applications, changes);
      return built(changes);
    } finally {
      leave(previous);
    }
  }

  @Override
  List<TrafficChange> restore() throws Exception {
    ClassLoader previous = enter();
    try {
      Map<String, TrafficChange.Builder> changes = new LinkedHashMap<String, TrafficChange.Builder>();
      List<Object> live = statedUrls();
      for (Held h : held.values()) {
        TrafficChange.Builder change = entry(changes, h.name, h.kind, true);
        if (!containsIdentity(live, h.stated)) {
          // Unexported meanwhile (a redeploy, a shutdown): putting its URL back would send
          // consumers to a service that is gone.
          continue;
        }
        try {
          Reflect.call(h.registry, "register", h.providerUrl);
          Reflect.call(h.stated, "setRegistered", true);
          change.addRestored(h.full);
        } catch (Throwable t) {
          change.setError(error("register_failed", t));
        }
      }
      held.clear();
      isolated = false;
      refreshInstances(applicationModels(), changes);
      return built(changes);
    } finally {
      leave(previous);
    }
  }

  /**
   * ServiceInstanceMetadataUtils.refreshMetadataAndInstance, now rather than at Dubbo's next
   * metadata publish: each ServiceDiscovery.update() (synchronized in Dubbo) re-registers or
   * removes the instance when the metadata revision changed, and does nothing otherwise.
   */
  private void refreshInstances(List<Object> applications, Map<String, TrafficChange.Builder> changes) {
    for (Object application : applications) {
      List<?> discoveries;
      try {
        discoveries = (List<?>) Reflect.call(registryManager(application), "getServiceDiscoveries");
      } catch (Throwable t) {
        continue;
      }
      for (Object discovery : discoveries) {
        try {
          Reflect.call(discovery, "update");
        } catch (Throwable t) {
          String name;
          try {
            name = DubboUrls.registryName(Reflect.call(discovery, "getUrl"));
          } catch (Throwable u) {
            name = String.valueOf(discovery);
          }
          entry(changes, name, "instance", true).setError(error("instance_update_failed", t));
        }
      }
    }
  }

  /** AbstractRegistry.getRegistered() behind Dubbo's ListenerRegistryWrapper; null when not one. */
  private static Set<?> registeredOf(Object registry) throws Exception {
    for (int depth = 0; registry != null && depth < 3; depth++) {
      try {
        return (Set<?>) Reflect.call(registry, "getRegistered");
      } catch (NoSuchMethodException notHere) {
        try {
          registry = Reflect.call(registry, "getRegistry");
        } catch (NoSuchMethodException notAWrapper) {
          return null;
        }
      }
    }
    return null;
  }

  private static boolean containsIdentity(List<Object> all, Object o) {
    for (Object x : all) {
      if (x == o) {
        return true;
      }
    }
    return false;
  }

  private static boolean containsUrl(Set<?> urls, String full) throws Exception {
    for (Object u : new ArrayList<Object>(urls)) {
      if (full.equals(DubboUrls.full(u))) {
        return true;
      }
    }
    return false;
  }

  private static List<TrafficChange> built(Map<String, TrafficChange.Builder> changes) {
    List<TrafficChange> out = new ArrayList<TrafficChange>();
    for (TrafficChange.Builder b : changes.values()) {
      out.add(b.build());
    }
    return out;
  }
}
