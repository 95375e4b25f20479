package dev.quiesce.agent.core.traffic.goaway;

/**
 * One provider kept out by an evictor, from its GoAway until the TTL ends (or until the registry no
 * longer lists it, which the evictor finds out). An evictor extends it with what it changed, to undo
 * exactly that.
 */
public class Keep {
  public final EvictTarget target;
  /** Epoch ms (of the evictor's clock) after which the provider is no longer kept out. */
  public final long deadline;
  /** How many times the keeper found the provider back and took it out again. */
  public int reapplied;

  public Keep(EvictTarget target, long now) {
    this.target = target;
    this.deadline = now + target.ttlMillis();
  }

  public final String provider() {
    return target.provider();
  }

  public final boolean expired(long now) {
    return now >= deadline;
  }
}
