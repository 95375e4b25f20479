package dev.quiesce.agent.core;

import dev.quiesce.agent.core.channel.AgentSession;
import dev.quiesce.agent.core.command.CommandHandler;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.net.URLClassLoader;
import java.util.Map;
import java.util.UUID;

/**
 * The core's entry point, called reflectively by AgentBootstrap inside the agent's isolated class
 * loader. Options: socket (required), native, log, core (see AgentOptions in bootstrap).
 */
public final class Agent {
  public static final String VERSION = "0.1.0";
  static final String BOOTSTRAP_CLASS = "dev.quiesce.agent.bootstrap.AgentBootstrap";

  private Agent() {}

  /** Starts the agent; throws only to the bootstrap, which logs and clears its running state. */
  public static void start(Map<String, String> options, final Instrumentation inst) {
    AgentLog.open(options.get("log"));
    JdkQuirks.apply(inst);
    String socket = options.get("socket");
    if (socket == null || socket.isEmpty()) {
      AgentLog.info("no socket option: agent not started");
      AgentLog.close();
      throw new IllegalArgumentException("socket option is required");
    }
    String instanceId = UUID.randomUUID().toString();
    AgentLog.info("agent " + VERSION + " starting, instance " + instanceId + ", socket " + socket
        + ", java " + System.getProperty("java.version"));
    CommandHandler commands = new CommandHandler(inst, options.get("native"));
    AgentSession session;
    try {
      session = new AgentSession(socket, options.get("native"), inst, instanceId, commands, new Runnable() {
        @Override
        public void run() {
          released(inst);
        }
      });
    } catch (Throwable t) {
      AgentLog.warn("agent failed to start", t);
      commands.stopInbound();
      AgentLog.close();
      throw t instanceof RuntimeException ? (RuntimeException) t : new IllegalStateException(t);
    }
    session.start();
  }

  /** After Stop: tell the bootstrap a new attach may start, then drop our class loader. */
  static void released(Instrumentation inst) {
    ClassLoader ours = Agent.class.getClassLoader();
    boolean cleared = false;
    try {
      Class<?> bootstrap = findBootstrap(inst);
      if (bootstrap != null) {
        Method clear = bootstrap.getMethod("clearRunning", ClassLoader.class);
        cleared = Boolean.TRUE.equals(clear.invoke(null, ours));
      }
    } catch (Throwable t) {
      AgentLog.warn("clearing the bootstrap state", t);
    }
    AgentLog.info("agent stopped (bootstrap cleared: " + cleared + ")");
    AgentLog.close();
    try {
      if (ours instanceof URLClassLoader) {
        ((URLClassLoader) ours).close();
      }
    } catch (Throwable ignored) {
      // nothing left to log to
    }
  }

  /** The bootstrap class is on the system class path (-javaagent, or appended by load instrument). */
  private static Class<?> findBootstrap(Instrumentation inst) {
    try {
      return Class.forName(BOOTSTRAP_CLASS, false, ClassLoader.getSystemClassLoader());
    } catch (Throwable notThere) {
      for (Class<?> c : inst.getAllLoadedClasses()) {
        if (BOOTSTRAP_CLASS.equals(c.getName())) {
          return c;
        }
      }
      return null;
    }
  }
}
