package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.core.traffic.goaway.Keep;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** A Dubbo provider kept out until its deadline: what we disabled / marked, to undo exactly that. */
final class DubboKeep extends Keep {
  /** 3.1+: directory -> invokers we disabled in it. */
  final Map<Object, List<Object>> disabled = new IdentityHashMap<Object, List<Object>>();
  /** 2.x: exchange clients we marked read-only. */
  final Map<Object, Boolean> marked = new IdentityHashMap<Object, Boolean>();
  /** 2.x: invokers at the address found read-only already (the provider's own event came first): held, not ours to unmark. */
  int alreadyReadOnly;
  /** 2.x: invokers at the address when the GoAway came. */
  int listed;

  DubboKeep(EvictTarget target, long now) {
    super(target, now);
  }

  /** A repeated GoAway: keep what the earlier one disabled and marked, under the new deadline. */
  void takeOver(DubboKeep earlier) {
    disabled.putAll(earlier.disabled);
    marked.putAll(earlier.marked);
  }

  boolean holdsAnything() {
    return !disabled.isEmpty() || !marked.isEmpty() || alreadyReadOnly > 0;
  }
}
