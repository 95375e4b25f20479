package dev.quiesce.agent.core.traffic.goaway;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an evictor remembers of the latest GoAway per provider ("ip:port"), after its keep ended
 * too, so that a release can still find what to give back; bounded, the oldest dropped first.
 */
public final class LatestByProvider<V> extends LinkedHashMap<String, V> {
  private static final long serialVersionUID = 1L;
  private static final int LIMIT = 64;

  @Override
  protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
    return size() > LIMIT;
  }
}
