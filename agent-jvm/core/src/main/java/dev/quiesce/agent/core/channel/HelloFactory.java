package dev.quiesce.agent.core.channel;

import dev.quiesce.agent.core.Agent;
import dev.quiesce.agent.core.Frameworks;
import dev.quiesce.agent.proto.v1.Hello;
import java.lang.instrument.Instrumentation;
import java.lang.management.ManagementFactory;
import java.lang.management.RuntimeMXBean;

/** Builds the Hello that opens every stream. */
final class HelloFactory {
  private final Instrumentation inst;
  private final String instanceId;

  HelloFactory(Instrumentation inst, String instanceId) {
    this.inst = inst;
    this.instanceId = instanceId;
  }

  Hello hello(int reconnects) {
    Hello.Builder b = Hello.newBuilder()
        .setJdkVersion(property("java.version"))
        .setJdkVendor(property("java.vendor"))
        .setVmName(property("java.vm.name"))
        .setAgentVersion(Agent.VERSION)
        .setAgentInstanceId(instanceId)
        .setReconnects(reconnects);
    try {
      RuntimeMXBean rt = ManagementFactory.getRuntimeMXBean();
      b.setPid(pidOf(rt.getName()));
      b.setJvmStartTimeMillis(rt.getStartTime());
    } catch (Throwable ignored) {
      // left at 0: the daemon knows the pid it attached to anyway
    }
    try {
      b.addAllFrameworks(Frameworks.detect(inst.getAllLoadedClasses()));
    } catch (Throwable ignored) {
      // no frameworks reported
    }
    return b.build();
  }

  /** "pid@host" on HotSpot (ProcessHandle is Java 9+, this code is Java 8); 0 if not in that form. */
  static long pidOf(String runtimeName) {
    if (runtimeName == null) {
      return 0;
    }
    int at = runtimeName.indexOf('@');
    try {
      return Long.parseLong(at > 0 ? runtimeName.substring(0, at) : runtimeName);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static String property(String key) {
    try {
      String v = System.getProperty(key);
      return v == null ? "" : v;
    } catch (Throwable t) {
      return "";
    }
  }
}
