package dev.quiesce.agent.bootstrap;

import java.io.File;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.security.CodeSource;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The agent's entry point and the only class of quiesce on the application's class path
 * ({@code load instrument} appends the agent jar to the system class path).
 *
 * <p>It finds the core jar, loads it in an isolated class loader whose parent is not the
 * application's, and starts it on a daemon thread so {@code agentmain} returns at once. Every
 * Throwable is caught and never rethrown: the application comes first. Nothing is printed.
 * Modelled on OpenTelemetry's {@code OpenTelemetryAgent}.
 */
public final class AgentBootstrap {
  static final String CORE_CLASS = "dev.quiesce.agent.core.Agent";

  /** The running agent's class loader (or STARTING); null when no agent runs in this JVM. */
  private static final AtomicReference<Object> RUNNING = new AtomicReference<Object>();

  /** A placeholder while the core is being loaded, so a concurrent attach is refused too. */
  private static final Object STARTING = new Object();

  private AgentBootstrap() {}

  public static void premain(String args, Instrumentation inst) {
    agentmain(args, inst);
  }

  public static void agentmain(String args, Instrumentation inst) {
    try {
      start(args, inst);
    } catch (Throwable t) {
      AgentOptions.logQuietly(null, "bootstrap failed", t);
    }
  }

  /**
   * Called by the core (reflectively: it cannot see this class directly) when it has stopped,
   * so a later attach can start a new agent. Returns true if that loader was the running one.
   */
  public static boolean clearRunning(ClassLoader loader) {
    return loader != null && RUNNING.compareAndSet(loader, null);
  }

  /** True while an agent runs (or starts) in this JVM. */
  public static boolean isRunning() {
    return RUNNING.get() != null;
  }

  private static void start(String args, Instrumentation inst) throws Exception {
    final Map<String, String> options = AgentOptions.parse(args, agentJar());
    if (!RUNNING.compareAndSet(null, STARTING)) {
      AgentOptions.logQuietly(options.get("log"), "agent already running, attach ignored", null);
      return;
    }
    final URLClassLoader loader;
    try {
      URL core = new File(options.get("core")).toURI().toURL();
      loader = new URLClassLoader(new URL[] {core}, new IsolatedParentLoader(jdkLoader()));
      RUNNING.set(loader);
    } catch (Throwable t) {
      RUNNING.set(null);
      throw t instanceof Exception ? (Exception) t : new RuntimeException(t);
    }
    final Instrumentation instrumentation = inst;
    Thread starter = new Thread(new Runnable() {
      @Override
      public void run() {
        try {
          Class<?> agent = Class.forName(CORE_CLASS, true, loader);
          Method startMethod = agent.getMethod("start", Map.class, Instrumentation.class);
          startMethod.invoke(null, options, instrumentation);
        } catch (Throwable t) {
          clearRunning(loader);
          try {
            loader.close();
          } catch (Throwable ignored) {
            // nothing else to do
          }
          AgentOptions.logQuietly(options.get("log"), "core failed to start", t);
        }
      }
    }, "quiesce-agent-start");
    starter.setDaemon(true);
    starter.setContextClassLoader(loader);
    try {
      starter.start();
    } catch (Throwable t) {
      clearRunning(loader);
      loader.close();
      throw t instanceof Exception ? (Exception) t : new RuntimeException(t);
    }
  }

  /**
   * The JDK's own classes, never the application's. JDK 8: the bootstrap loader (null); JDK 9+: the
   * platform loader, so java.sql, java.logging etc. stay visible. Found reflectively because this
   * code is compiled for Java 8.
   */
  static ClassLoader jdkLoader() {
    try {
      Method m = ClassLoader.class.getMethod("getPlatformClassLoader");
      return (ClassLoader) m.invoke(null);
    } catch (Throwable notJava9) {
      return null;
    }
  }

  /** This jar, from our CodeSource; null if it cannot be found (options must then be absolute). */
  static File agentJar() {
    try {
      CodeSource cs = AgentBootstrap.class.getProtectionDomain().getCodeSource();
      if (cs == null || cs.getLocation() == null) {
        return null;
      }
      return new File(cs.getLocation().toURI());
    } catch (Throwable t) {
      return null;
    }
  }
}
