package dev.quiesce.agent.core.traffic;

import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.List;

/**
 * One kind of traffic (dubbo, springcloud, ...): finds the framework's live objects in the JVM,
 * takes the instance out of its registries and puts back exactly what it took. Framework classes
 * are never compile-time dependencies: everything goes through reflection on live objects.
 *
 * <p>All methods run on the agent's single executor thread, never concurrently. Implementations
 * must not throw into the framework's threads, and report a registry's failure in its
 * TrafficChange.error while going on with the others.
 */
public interface TrafficAdapter {
  /** "dubbo" | "springcloud" | "rocketmq". */
  String traffic();

  /** Every framework of this kind present in the JVM (empty when absent). */
  List<FrameworkInventory> inventory() throws Exception;

  /**
   * Removes every registration of this instance; remembers what it removed. Called again while
   * isolated (the daemon re-applies periodically), it removes only what came back, counted in
   * TrafficChange.reapplied. Throws {@link TrafficException} for no_framework / unsupported_version.
   */
  List<TrafficChange> isolate() throws Exception;

  /** Puts back exactly what isolate removed, and forgets it. Does nothing when not isolated. */
  List<TrafficChange> restore() throws Exception;

  /** True while isolate holds something removed. */
  boolean isolated();

  /**
   * The agent is stopping: release whatever must not outlive it (locks held, threads started).
   * What registries hold is left as is. Never throws.
   */
  default void close() {}
}
