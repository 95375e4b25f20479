package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.core.AgentLog;

/**
 * What every evictor that keeps a provider out shares: its framework name, its clock, and its keeper
 * thread, which calls {@link #keepOut(long)} every tick while anything is kept out and ends once nothing
 * is. A subclass holds only what is particular to its framework: how it drops a provider, how it sees the
 * provider come back (and drops it again), how it knows the registry no longer lists it, how it undoes.
 *
 * <p>The subclass's {@code evict} / {@code release} and the tick run under the evictor's own monitor
 * ({@code synchronized} methods), so they never interleave.
 */
public abstract class KeepingEvictor implements Evictor {
  /** Epoch milliseconds; a test passes its own. */
  public interface Clock {
    long millis();

    Clock SYSTEM = new Clock() {
      @Override
      public long millis() {
        return System.currentTimeMillis();
      }
    };
  }

  private final String framework;
  private final Clock clock;
  private final KeepTimer keeper;

  protected KeepingEvictor(String framework, String threadName, long tickMillis, Clock clock) {
    this.framework = framework;
    this.clock = clock;
    this.keeper = new KeepTimer(threadName, tickMillis, new Runnable() {
      @Override
      public void run() {
        tick();
      }
    });
  }

  @Override
  public final String framework() {
    return framework;
  }

  protected final long now() {
    return clock.millis();
  }

  /** Something is kept out now: make sure the keeper runs. */
  protected final void keeping() {
    keeper.ensureRunning();
  }

  /** Nothing is kept out any more (a release took the last one): the keeper ends after its tick. */
  protected final void keepingNothing() {
    keeper.stop();
  }

  /**
   * One keeper tick: ends expired keeps, drops a provider that came back, ends the keeps of providers
   * the registry no longer lists. Returns true while anything is still kept out.
   */
  protected abstract boolean keepOut(long now) throws Exception;

  /** Undoes every keep (agent Stop). Never throws. */
  protected abstract void undoAll();

  /** On the keeper thread. Never throws: a failed tick is logged and the next one tries again. */
  final synchronized void tick() {
    try {
      if (!keepOut(now())) {
        keeper.stop();
      }
    } catch (Throwable t) {
      AgentLog.warn("goaway: " + framework + " keeper", t);
    }
  }

  @Override
  public final synchronized void close() {
    try {
      undoAll();
    } catch (Throwable t) {
      AgentLog.warn("goaway: " + framework + " close", t);
    }
    keeper.stopNow();
  }
}
