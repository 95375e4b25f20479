package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.core.AgentThreads;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The thread of one evictor that keeps evicted providers out: it runs the evictor's tick at a fixed
 * delay while anything is kept out, and ends when told (the evictor stops it from its tick once
 * nothing is kept, or on agent Stop). Not thread-safe: the evictor calls it under its own lock.
 */
public final class KeepTimer {
  private final String threadName;
  private final long tickMillis;
  private final Runnable tick;
  private ScheduledExecutorService executor;

  public KeepTimer(String threadName, long tickMillis, Runnable tick) {
    this.threadName = threadName;
    this.tickMillis = tickMillis;
    this.tick = tick;
  }

  /** Starts the thread unless it runs. */
  public void ensureRunning() {
    if (executor == null) {
      executor = Executors.newSingleThreadScheduledExecutor(AgentThreads.daemonFactory(threadName));
      executor.scheduleWithFixedDelay(tick, tickMillis, tickMillis, TimeUnit.MILLISECONDS);
    }
  }

  /** Ends the thread after the running tick (called from a tick: nothing is kept any more). */
  public void stop() {
    if (executor != null) {
      executor.shutdown();
      executor = null;
    }
  }

  /** Ends the thread now (agent Stop). */
  public void stopNow() {
    if (executor != null) {
      executor.shutdownNow();
      executor = null;
    }
  }
}
