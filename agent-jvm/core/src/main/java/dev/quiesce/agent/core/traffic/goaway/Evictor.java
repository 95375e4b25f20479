package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.proto.v1.Eviction;
import java.util.List;

/**
 * The consumer side of a GoAway, for one framework: drop a provider that is going away from every
 * load-balancer list / invoker list the framework keeps in this JVM, and keep it out until the TTL
 * ends or the registry no longer lists it.
 *
 * <p>Called on the agent's command thread; an implementation may run a thread of its own to keep
 * the provider out (it stops it in {@link #close}). Framework objects are found through
 * {@code LiveObjects} (cached; at most one heap walk per GoAway when nothing is cached yet) and
 * called reflectively. Nothing may be thrown into the application's threads.
 */
public interface Evictor {
  /** The Eviction.framework this evictor reports: springcloud-loadbalancer | ribbon | dubbo. */
  String framework();

  /**
   * Drops the target now; one Eviction per service (cache key, interface) whose list lost it, or
   * an empty list when the framework is absent. A throw is reported as one Eviction carrying the
   * error, and the other evictors still run.
   */
  List<Eviction> evict(EvictTarget target) throws Exception;

  /**
   * Finds the framework's objects ahead of the first GoAway (a heap walk at attach time, not on the
   * drain path). Called once, on a thread of the agent, soon after it starts. Never throws.
   */
  default void warm() {}

  /**
   * The provider is back (/online): stops keeping it out and lets the framework list it again now,
   * from the registry, rather than at its next refresh. One Eviction (with {@code released}) per
   * list given back; empty when this evictor had dropped nothing of that provider.
   */
  default List<Eviction> release(EvictTarget target) throws Exception {
    return java.util.Collections.emptyList();
  }

  /** The agent is stopping: stop keeping providers out, end any thread. Never throws. */
  default void close() {}
}
