package dev.quiesce.agent.core;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/** Every thread of the agent: a daemon, named {@code quiesce-...}, so it can be counted and found. */
public final class AgentThreads {
  public static final String PREFIX = "quiesce-";

  private AgentThreads() {}

  public static ThreadFactory daemonFactory(final String role) {
    final AtomicInteger n = new AtomicInteger();
    final ClassLoader loader = AgentThreads.class.getClassLoader();
    return new ThreadFactory() {
      @Override
      public Thread newThread(Runnable r) {
        Thread t = new Thread(r, PREFIX + role + "-" + n.incrementAndGet());
        t.setDaemon(true);
        t.setContextClassLoader(loader);
        return t;
      }
    };
  }

  /** How many live threads carry our prefix (the heartbeat reports it; it must stay small). */
  public static int count() {
    ThreadGroup root = Thread.currentThread().getThreadGroup();
    while (root.getParent() != null) {
      root = root.getParent();
    }
    Thread[] threads = new Thread[root.activeCount() + 16];
    int n = root.enumerate(threads, true);
    int ours = 0;
    for (int i = 0; i < n; i++) {
      if (threads[i] != null && threads[i].getName().startsWith(PREFIX)) {
        ours++;
      }
    }
    return ours;
  }
}
