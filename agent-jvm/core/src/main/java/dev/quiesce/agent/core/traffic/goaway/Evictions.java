package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.proto.v1.Eviction;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What one evictor did for one GoAway, per service (list, cache key, interface), as Evictions. */
public final class Evictions {
  private final String framework;
  private final Map<String, Integer> removed = new LinkedHashMap<String, Integer>();
  private final Map<String, String> errors = new LinkedHashMap<String, String>();
  private final Map<String, Integer> released = new LinkedHashMap<String, Integer>();

  public Evictions(String framework) {
    this.framework = framework;
  }

  /** n instances of the provider left this service's list. */
  public void removed(String service, int n) {
    Integer before = removed.get(service);
    removed.put(service, (before == null ? 0 : before) + n);
  }

  /** The service lost the provider (counted once, however many of its invokers went). */
  public void dropped(String service) {
    removed.put(service, 1);
  }

  public boolean noneRemoved() {
    return removed.isEmpty();
  }

  /** n lists / invokers of this service were given the provider back (a release). */
  public void released(String service, int n) {
    Integer before = released.get(service);
    released.put(service, (before == null ? 0 : before) + n);
  }

  public void failed(String service, String error) {
    errors.put(service, error);
  }

  /** Service → instances removed, for the log. */
  public Map<String, Integer> removedByService() {
    return Collections.unmodifiableMap(removed);
  }

  /** A release's answer: one Eviction per service given the provider back, and the failures. */
  public List<Eviction> releaseReport() {
    List<Eviction> out = new ArrayList<Eviction>();
    for (Map.Entry<String, Integer> e : released.entrySet()) {
      out.add(Eviction.newBuilder().setFramework(framework).setService(e.getKey()).setReleased(e.getValue()).build());
    }
    for (Map.Entry<String, String> e : errors.entrySet()) {
      out.add(Eviction.newBuilder().setFramework(framework).setService(e.getKey()).setError(e.getValue()).build());
    }
    return out;
  }

  /**
   * One Eviction per service that lost the provider or failed; when the framework is there but
   * no list held the provider (yet), one with removed=0 per service the sender named.
   */
  public List<Eviction> report(EvictTarget target) {
    List<Eviction> out = new ArrayList<Eviction>();
    for (Map.Entry<String, Integer> e : removed.entrySet()) {
      out.add(Eviction.newBuilder().setFramework(framework).setService(e.getKey()).setRemoved(e.getValue()).build());
    }
    for (Map.Entry<String, String> e : errors.entrySet()) {
      out.add(Eviction.newBuilder().setFramework(framework).setService(e.getKey()).setError(e.getValue()).build());
    }
    if (out.isEmpty()) {
      for (String s : target.services().isEmpty() ? Collections.singletonList("") : target.services()) {
        out.add(Eviction.newBuilder().setFramework(framework).setService(s).setRemoved(0).build());
      }
    }
    return out;
  }
}
