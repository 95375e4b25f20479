package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;

/** Which Dubbo versions quiesce handles, and how a version is read. */
final class DubboVersions {
  static final String ALIBABA = "alibaba-dubbo";
  static final String APACHE = "apache-dubbo";

  private DubboVersions() {}

  /** Version.getVersion() of that Dubbo (manifest or jar name), else its package's version, else "". */
  static String read(ClassLoader loader, String pkg) {
    Class<?> version = Reflect.load(loader, pkg + ".common.Version");
    if (version != null) {
      try {
        Object v = Reflect.callStatic(version, "getVersion");
        if (v != null && !String.valueOf(v).isEmpty()) {
          return String.valueOf(v);
        }
      } catch (Throwable ignored) {
        // fall through to the package
      }
      Package p = version.getPackage();
      if (p != null && p.getImplementationVersion() != null) {
        return p.getImplementationVersion();
      }
    }
    return "";
  }

  /**
   * Null when handled: Alibaba 2.6.x, Apache 2.7.x, 3.2.x and 3.3.x (the versions whose
   * registries and QoS offline/online this adapter was written against).
   */
  static String unsupportedReason(String framework, String version) {
    if (version.isEmpty()) {
      return "the " + framework + " version could not be read; quiesce handles Dubbo 2.6.x, 2.7.x, 3.2.x and 3.3.x";
    }
    boolean ok = ALIBABA.equals(framework)
        ? version.startsWith("2.6.")
        : version.startsWith("2.7.") || version.startsWith("3.2.") || version.startsWith("3.3.");
    return ok ? null : framework + " " + version + " is not a version quiesce handles (2.6.x, 2.7.x, 3.2.x, 3.3.x)";
  }

  static boolean isDubbo3(String version) {
    return version.startsWith("3.");
  }
}
