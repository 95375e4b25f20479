package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.VersionLines;

/** Which Dubbo versions quiesce handles, and how a version is read. */
final class DubboVersions {
  static final String ALIBABA = "alibaba-dubbo";
  static final String APACHE = "apache-dubbo";
  /**
   * The lines whose registries and QoS offline/online this adapter was written against (tested: Alibaba
   * 2.6.x; Apache 2.7.x, 3.2.x, 3.3.x).
   */
  static final VersionLines ALIBABA_LINES = new VersionLines("2.6");
  static final VersionLines APACHE_LINES = new VersionLines("2.7", "3.2", "3.3");

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

  /** Null when handled: a version of {@link #ALIBABA_LINES} or {@link #APACHE_LINES}. */
  static String unsupportedReason(String framework, String version) {
    if (version == null || version.isEmpty()) {
      return "the " + framework + " version could not be read; quiesce handles Dubbo " + ALIBABA_LINES + ", " + APACHE_LINES;
    }
    boolean ok = ALIBABA.equals(framework) ? ALIBABA_LINES.covers(version) : APACHE_LINES.covers(version);
    return ok ? null : framework + " " + version + " is not a version quiesce handles (" + ALIBABA_LINES + ", " + APACHE_LINES + ")";
  }

  static boolean isDubbo3(String version) {
    return version.startsWith("3.");
  }
}
