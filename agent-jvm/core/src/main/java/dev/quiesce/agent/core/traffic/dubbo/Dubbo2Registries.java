package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.proto.v1.RegistryInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Dubbo 2.6.x (com.alibaba.dubbo) and 2.7.x (org.apache.dubbo): interface-level registries only.
 *
 * <p>Registries come from the static {@code AbstractRegistryFactory.getRegistries()} (public in
 * every 2.x). Each one's {@code getRegistered()} holds provider and consumer URLs; the provider
 * URLs are unregistered and kept here. {@code unregister} also drops the URL from
 * {@code getRegistered()}, so the {@code recover()} that follows a ZooKeeper session expiry does not
 * bring it back. Dubbo's own bookkeeping is kept as its QoS offline/online keeps it: the
 * {@code ProviderConsumerRegTable} wrappers' {@code reg} flag (2.6.x to 2.7.4) or the
 * {@code ProviderModel} stated URLs' {@code registered} flag (2.7.5+).
 */
final class Dubbo2Registries extends DubboRuntime {
  private final String pkg;
  /** registry object -> (full URL -> URL object) that quiesce removed from it. */
  private final Map<Object, Map<String, Object>> removed = new IdentityHashMap<Object, Map<String, Object>>();

  Dubbo2Registries(String framework, String pkg, String version, ClassLoader loader) {
    super(framework, version, loader);
    this.pkg = pkg;
  }

  private Collection<?> liveRegistries() throws Exception {
    Class<?> factory = Reflect.load(loader(), pkg + ".registry.support.AbstractRegistryFactory");
    if (factory == null) {
      return new ArrayList<Object>();
    }
    return new ArrayList<Object>((Collection<?>) Reflect.callStatic(factory, "getRegistries"));
  }

  private static List<Object> registeredProviders(Object registry) throws Exception {
    List<Object> out = new ArrayList<Object>();
    for (Object url : new ArrayList<Object>((Set<?>) Reflect.call(registry, "getRegistered"))) {
      if (DubboUrls.isProvider(url)) {
        out.add(url);
      }
    }
    return out;
  }

  private static String name(Object registry) throws Exception {
    return DubboUrls.registryName(Reflect.call(registry, "getUrl"));
  }

  @Override
  List<RegistryInventory> registries() throws Exception {
    List<RegistryInventory> out = new ArrayList<RegistryInventory>();
    Collection<?> live = liveRegistries();
    for (Object registry : live) {
      RegistryInventory.Builder b = RegistryInventory.newBuilder().setRegistry(name(registry)).setKind("interface");
      for (Object url : registeredProviders(registry)) {
        b.addRegistered(DubboUrls.full(url));
      }
      Map<String, Object> gone = removed.get(registry);
      if (gone != null) {
        b.addAllRemoved(gone.keySet());
      }
      out.add(b.build());
    }
    for (Map.Entry<Object, Map<String, Object>> e : removed.entrySet()) {
      if (!containsIdentity(live, e.getKey())) {
        // A registry Dubbo has since destroyed: still shown, since Restore will try it.
        out.add(RegistryInventory.newBuilder().setRegistry(name(e.getKey())).setKind("interface").addAllRemoved(e.getValue().keySet()).build());
      }
    }
    return out;
  }

  @Override
  List<TrafficChange> isolate() throws Exception {
    ClassLoader previous = enter();
    try {
      boolean held = isolated;
      isolated = true;
      List<TrafficChange> changes = new ArrayList<TrafficChange>();
      List<Object> done = new ArrayList<Object>();
      for (Object registry : liveRegistries()) {
        TrafficChange.Builder change = change(safeName(registry), "interface");
        List<Object> providers;
        try {
          providers = registeredProviders(registry);
        } catch (Throwable t) {
          changes.add(change.setError(error("registry_unreadable", t)).build());
          continue;
        }
        for (Object url : providers) {
          String full;
          try {
            full = DubboUrls.full(url);
          } catch (Throwable t) {
            change.setError(error("registry_unreadable", t));
            continue;
          }
          Map<String, Object> gone = removed.get(registry);
          if (gone == null) {
            gone = new LinkedHashMap<String, Object>();
            removed.put(registry, gone);
          }
          // Kept before the call: AbstractRegistry drops it from getRegistered() first, even when
          // the registry itself then fails, and Restore must put it back.
          gone.put(full, url);
          done.add(url);
          if (held) {
            change.setReapplied(change.getReapplied() + 1);
          }
          try {
            Reflect.call(registry, "unregister", url);
            change.addDeregistered(full);
          } catch (Throwable t) {
            // FailbackRegistry with check=true rethrows (e.g. ZooKeeper unreachable); without
            // check it retries by itself. Either way the URL is out of getRegistered().
            change.addDeregistered(full).setError(error("unregister_failed", t));
          }
        }
        changes.add(change.build());
      }
      setRegistered(done, false);
      return changes;
    } finally {
      leave(previous);
    }
  }

  @Override
  List<TrafficChange> restore() throws Exception {
    ClassLoader previous = enter();
    try {
      List<TrafficChange> changes = new ArrayList<TrafficChange>();
      List<Object> done = new ArrayList<Object>();
      for (Map.Entry<Object, Map<String, Object>> e : removed.entrySet()) {
        Object registry = e.getKey();
        TrafficChange.Builder change = change(safeName(registry), "interface");
        for (Map.Entry<String, Object> url : e.getValue().entrySet()) {
          try {
            Reflect.call(registry, "register", url.getValue());
            done.add(url.getValue());
            change.addRestored(url.getKey());
          } catch (Throwable t) {
            // FailbackRegistry has already put it in getRegistered(): its retry and recover()
            // will register it, so it is not kept here.
            done.add(url.getValue());
            change.setError(error("register_failed", t));
          }
        }
        changes.add(change.build());
      }
      setRegistered(done, true);
      removed.clear();
      isolated = false;
      return changes;
    } finally {
      leave(previous);
    }
  }

  /**
   * Dubbo's bookkeeping of what is registered, as its QoS offline/online keeps it, so that a later
   * QoS online (or Dubbo's own shutdown) sees the truth. Best effort: the registries are what count.
   */
  private void setRegistered(List<Object> urls, boolean registered) {
    if (urls.isEmpty()) {
      return;
    }
    List<String> wanted = new ArrayList<String>();
    try {
      for (Object url : urls) {
        wanted.add(DubboUrls.full(url));
      }
      // 2.6.x to 2.7.4: ProviderConsumerRegTable.providerInvokers -> ProviderInvokerWrapper.setReg.
      Class<?> table = Reflect.load(loader(), pkg + ".registry.support.ProviderConsumerRegTable");
      if (table != null) {
        Map<?, ?> invokers = (Map<?, ?>) Reflect.staticField(table, "providerInvokers");
        for (Object wrappers : new ArrayList<Object>(invokers.values())) {
          for (Object wrapper : new ArrayList<Object>((Collection<?>) wrappers)) {
            if (wanted.contains(DubboUrls.full(Reflect.call(wrapper, "getProviderUrl")))) {
              Reflect.call(wrapper, "setReg", registered);
            }
          }
        }
        return;
      }
      // 2.7.5+: ApplicationModel.getServiceRepository().getExportedServices() -> stated URLs.
      Class<?> model = Reflect.load(loader(), pkg + ".rpc.model.ApplicationModel");
      if (model != null) {
        Object repository = Reflect.callStatic(model, "getServiceRepository");
        for (Object provider : new ArrayList<Object>((Collection<?>) Reflect.call(repository, "getExportedServices"))) {
          for (Object stated : new ArrayList<Object>((Collection<?>) Reflect.call(provider, "getStatedUrl"))) {
            if (wanted.contains(DubboUrls.full(Reflect.call(stated, "getProviderUrl")))) {
              Reflect.call(stated, "setRegistered", registered);
            }
          }
        }
      }
    } catch (Throwable ignored) {
      // Bookkeeping only (what QoS "ls" shows); the registries themselves were changed.
    }
  }

  private static String safeName(Object registry) {
    try {
      return name(registry);
    } catch (Throwable t) {
      return String.valueOf(registry);
    }
  }

  private static boolean containsIdentity(Collection<?> all, Object o) {
    for (Object x : all) {
      if (x == o) {
        return true;
      }
    }
    return false;
  }
}
