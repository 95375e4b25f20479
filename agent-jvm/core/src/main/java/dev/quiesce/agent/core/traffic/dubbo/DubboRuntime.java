package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.RegistryInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.lang.ref.WeakReference;
import java.util.List;

/**
 * One Dubbo found in the JVM (one class loader, one package family) and what quiesce removed
 * from its registries. Subclasses do the version-specific walking.
 */
abstract class DubboRuntime {
  final String framework;
  final String version;
  /** Weak: an undeployed application's loader must not be kept by the agent (only what Isolate holds keeps it). */
  private final WeakReference<ClassLoader> loader;
  /** Null when this version is handled. */
  final String unsupportedReason;
  /** Held by Isolate until Restore, even when nothing was there to remove. */
  boolean isolated;

  DubboRuntime(String framework, String version, ClassLoader loader) {
    this.framework = framework;
    this.version = version;
    this.loader = new WeakReference<ClassLoader>(loader);
    this.unsupportedReason = DubboVersions.unsupportedReason(framework, version);
  }

  abstract List<RegistryInventory> registries() throws Exception;

  abstract List<TrafficChange> isolate() throws Exception;

  abstract List<TrafficChange> restore() throws Exception;

  FrameworkInventory inventory() {
    FrameworkInventory.Builder b = FrameworkInventory.newBuilder()
        .setTraffic(DubboAdapter.TRAFFIC)
        .setFramework(framework)
        .setVersion(version)
        .setSupported(unsupportedReason == null)
        .setIsolated(isolated);
    if (unsupportedReason != null) {
      return b.setUnsupportedReason(unsupportedReason).build();
    }
    ClassLoader previous = enter();
    try {
      b.addAllRegistries(registries());
    } catch (Throwable t) {
      // Inventory is a report: a failure to read shows as a registry entry, never as an exception.
      b.addRegistries(RegistryInventory.newBuilder().setRegistry("(unreadable: " + t + ")"));
    } finally {
      leave(previous);
    }
    return b.build();
  }

  TrafficChange.Builder change(String registry, String kind) {
    return TrafficChange.newBuilder()
        .setTraffic(DubboAdapter.TRAFFIC)
        .setFramework(framework)
        .setVersion(version)
        .setRegistry(registry)
        .setKind(kind);
  }

  /** The loader Dubbo's classes come from; null once it was collected. */
  ClassLoader loader() {
    return loader.get();
  }

  /** Dubbo's own code may look at the context loader (extensions, Curator): make it Dubbo's. */
  ClassLoader enter() {
    Thread t = Thread.currentThread();
    ClassLoader previous = t.getContextClassLoader();
    ClassLoader dubbo = loader();
    if (dubbo != null) {
      t.setContextClassLoader(dubbo);
    }
    return previous;
  }

  static void leave(ClassLoader previous) {
    Thread.currentThread().setContextClassLoader(previous);
  }

  static String error(String code, Throwable t) {
    String m = t.getMessage();
    return code + ": " + t.getClass().getName() + (m == null ? "" : ": " + m);
  }
}
