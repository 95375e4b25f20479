package dev.quiesce.agent.core.channel;

/** Reconnect delays: 100 ms doubling to a 1 s cap, so a restarted daemon sees the agent within ~1 s. */
final class Backoff {
  static final long INITIAL_MILLIS = 100;
  static final long MAX_MILLIS = 1000;

  private long next = INITIAL_MILLIS;

  /** The delay to wait now; the following one doubles, up to the cap. */
  long nextDelayMillis() {
    long d = next;
    next = Math.min(next * 2, MAX_MILLIS);
    return d;
  }

  void reset() {
    next = INITIAL_MILLIS;
  }
}
