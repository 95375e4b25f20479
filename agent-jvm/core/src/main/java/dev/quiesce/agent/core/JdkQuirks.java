package dev.quiesce.agent.core;

import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.util.Collections;
import java.util.Map;
import java.util.Set;

/**
 * Warnings newer JDKs print on the application's stderr because of what the agent's own code does,
 * and how the agent avoids them. Applied before any shaded class is loaded. Never throws.
 */
final class JdkQuirks {
  private JdkQuirks() {}

  static void apply(Instrumentation inst) {
    // JDK 24+ (JEP 498) Unsafe warnings: avoided by hiding sun.misc.Unsafe from our class loader
    // (bootstrap's IsolatedParentLoader), so every shaded library takes its non-Unsafe path.
    if (featureVersion() >= 24) {
      // JDK 24+ (JEP 472) prints "WARNING: A restricted method in java.lang.System has been called"
      // the first time code of an unnamed module calls System.load/loadLibrary without native access.
      // netty (epoll) and HeapLookup (libquiesce_jvmti) both do. The JDK keeps that permission for all
      // unnamed modules at once (Module.moduleForNativeAccess), so this is what
      // --enable-native-access=ALL-UNNAMED does: it silences the application's own first JNI warning
      // too, and changes nothing else. Reached by opening java.lang to our module through
      // Instrumentation, then calling Module.implAddEnableNativeAccessToAllUnnamed (JDK 24, 25).
      try {
        enableNativeAccess(inst);
      } catch (Throwable t) {
        AgentLog.warn("cannot enable native access for unnamed modules", t);
      }
    }
  }

  private static void enableNativeAccess(Instrumentation inst) throws Exception {
    Method getModule = Class.class.getMethod("getModule");
    Object ours = getModule.invoke(JdkQuirks.class);
    Object base = getModule.invoke(Object.class);
    Class<?> moduleClass = Class.forName("java.lang.Module");
    Method redefine = Instrumentation.class.getMethod("redefineModule",
        moduleClass, Set.class, Map.class, Map.class, Set.class, Map.class);
    redefine.invoke(inst, base, Collections.emptySet(), Collections.emptyMap(),
        Collections.singletonMap("java.lang", Collections.singleton(ours)),
        Collections.emptySet(), Collections.emptyMap());
    Method enable = moduleClass.getDeclaredMethod("implAddEnableNativeAccessToAllUnnamed");
    enable.setAccessible(true);
    enable.invoke(null);
  }

  /** 8 for "1.8", 17 for "17", ...; 8 if unreadable. */
  static int featureVersion() {
    try {
      String v = System.getProperty("java.specification.version", "1.8");
      return v.startsWith("1.") ? Integer.parseInt(v.substring(2)) : Integer.parseInt(v);
    } catch (Throwable t) {
      return 8;
    }
  }
}
