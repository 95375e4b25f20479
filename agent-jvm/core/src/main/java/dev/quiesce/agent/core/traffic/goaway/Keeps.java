package dev.quiesce.agent.core.traffic.goaway;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The providers an evictor keeps out now, at most one keep per provider: a later GoAway for the same
 * provider replaces the earlier one (the latest wins, with its own deadline). Not thread-safe: the
 * evictor uses it under its own lock.
 */
public final class Keeps<K extends Keep> implements Iterable<K> {
  private final List<K> active = new ArrayList<K>();

  /** Starts keeping {@code keep}'s provider out; any earlier keep of that provider ends. */
  public void add(K keep) {
    remove(keep.provider());
    active.add(keep);
  }

  /** Ends the keeps of that provider; returns them (to undo or merge what they did). */
  public List<K> remove(String provider) {
    List<K> out = new ArrayList<K>();
    for (Iterator<K> it = active.iterator(); it.hasNext();) {
      K k = it.next();
      if (k.provider().equals(provider)) {
        out.add(k);
        it.remove();
      }
    }
    return out;
  }

  /** Ends the keeps whose deadline has passed; returns them, oldest first. */
  public List<K> expire(long now) {
    List<K> out = new ArrayList<K>();
    for (Iterator<K> it = active.iterator(); it.hasNext();) {
      K k = it.next();
      if (k.expired(now)) {
        out.add(k);
        it.remove();
      }
    }
    return out;
  }

  /** Ends every keep; returns them. */
  public List<K> clear() {
    List<K> out = new ArrayList<K>(active);
    active.clear();
    return out;
  }

  public boolean isEmpty() {
    return active.isEmpty();
  }

  public int size() {
    return active.size();
  }

  /** The keeps in the order they began; {@code remove()} ends one. */
  @Override
  public Iterator<K> iterator() {
    return active.iterator();
  }
}
