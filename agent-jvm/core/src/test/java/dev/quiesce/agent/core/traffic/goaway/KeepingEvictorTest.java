package dev.quiesce.agent.core.traffic.goaway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiesce.agent.proto.v1.Evict;
import dev.quiesce.agent.proto.v1.Eviction;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The keep loop every evictor shares, on a clock the test moves and a "registry" it edits. */
class KeepingEvictorTest {
  static final class ManualClock implements KeepingEvictor.Clock {
    long now;

    @Override
    public long millis() {
      return now;
    }
  }

  /** Keeps providers out of nothing; records what it would undo and why. */
  static final class FakeEvictor extends KeepingEvictor {
    final Keeps<Keep> keeps = new Keeps<Keep>();
    final Set<String> registry = new HashSet<String>();
    final List<String> undone = new ArrayList<String>();
    boolean fail;

    FakeEvictor(Clock clock) {
      // A tick interval the test never reaches: the test ticks by hand.
      super("fake", "goaway-fake", 3_600_000L, clock);
    }

    @Override
    public synchronized List<Eviction> evict(EvictTarget target) {
      keeps.add(new Keep(target, now()));
      keeping();
      return Collections.emptyList();
    }

    @Override
    public synchronized List<Eviction> release(EvictTarget target) {
      for (Keep k : keeps.remove(target.provider())) {
        undone.add("released " + k.provider());
      }
      return Collections.emptyList();
    }

    @Override
    protected boolean keepOut(long now) {
      if (fail) {
        throw new IllegalStateException("framework broke");
      }
      for (Keep k : keeps.expire(now)) {
        undone.add("expired " + k.provider());
      }
      for (java.util.Iterator<Keep> it = keeps.iterator(); it.hasNext();) {
        Keep k = it.next();
        if (!registry.contains(k.provider())) {
          undone.add("unlisted " + k.provider());
          it.remove();
        }
      }
      return !keeps.isEmpty();
    }

    @Override
    protected void undoAll() {
      for (Keep k : keeps.clear()) {
        undone.add("closed " + k.provider());
      }
    }
  }

  private final ManualClock clock = new ManualClock();
  private final FakeEvictor evictor = new FakeEvictor(clock);

  @AfterEach
  void close() {
    evictor.close();
  }

  static EvictTarget target(String provider, int ttlSeconds) throws Exception {
    return EvictTarget.of(Evict.newBuilder().setProvider(provider).setTtlSeconds(ttlSeconds).build());
  }

  @Test
  void keepsTheProviderOutUntilTheTtlEnds() throws Exception {
    evictor.registry.add("10.0.0.5:1");
    evictor.evict(target("10.0.0.5:1", 7));
    clock.now = 6_999;
    evictor.tick();
    assertEquals(1, evictor.keeps.size());
    assertTrue(evictor.undone.isEmpty());
    clock.now = 7_000;
    evictor.tick();
    assertTrue(evictor.keeps.isEmpty());
    assertEquals(Collections.singletonList("expired 10.0.0.5:1"), evictor.undone);
    assertEquals("fake", evictor.framework());
  }

  @Test
  void aLaterGoAwayForTheSameProviderWins() throws Exception {
    evictor.registry.add("10.0.0.5:1");
    evictor.evict(target("10.0.0.5:1", 7));
    clock.now = 5_000;
    evictor.evict(target("10.0.0.5:1", 7));
    assertEquals(1, evictor.keeps.size());
    clock.now = 8_000;
    evictor.tick();
    assertEquals(1, evictor.keeps.size(), "kept until the later GoAway's deadline");
    clock.now = 12_000;
    evictor.tick();
    assertTrue(evictor.keeps.isEmpty());
  }

  @Test
  void stopsOnceTheRegistryNoLongerListsIt() throws Exception {
    evictor.registry.add("10.0.0.5:1");
    evictor.registry.add("10.0.0.6:1");
    evictor.evict(target("10.0.0.5:1", 60));
    evictor.evict(target("10.0.0.6:1", 60));
    evictor.tick();
    assertEquals(2, evictor.keeps.size());
    evictor.registry.remove("10.0.0.5:1");
    evictor.tick();
    assertEquals(1, evictor.keeps.size());
    assertEquals(Collections.singletonList("unlisted 10.0.0.5:1"), evictor.undone);
  }

  @Test
  void releaseAndCloseEndTheirKeeps() throws Exception {
    evictor.registry.add("10.0.0.5:1");
    evictor.evict(target("10.0.0.5:1", 60));
    evictor.evict(target("10.0.0.6:1", 60));
    evictor.release(target("10.0.0.5:1", 60));
    evictor.release(target("10.0.0.9:1", 60));
    evictor.close();
    assertEquals(java.util.Arrays.asList("released 10.0.0.5:1", "closed 10.0.0.6:1"), evictor.undone);
  }

  @Test
  void aFailedTickIsSwallowedAndTheNextOneRuns() throws Exception {
    evictor.evict(target("10.0.0.5:1", 1));
    evictor.fail = true;
    evictor.tick();
    assertFalse(evictor.keeps.isEmpty());
    evictor.fail = false;
    clock.now = 1_000;
    evictor.tick();
    assertTrue(evictor.keeps.isEmpty());
  }

  @Test
  void keepsExpireInTheOrderTheyBegan() throws Exception {
    Keeps<Keep> keeps = new Keeps<Keep>();
    keeps.add(new Keep(target("10.0.0.1:1", 2), 0));
    keeps.add(new Keep(target("10.0.0.2:1", 1), 0));
    keeps.add(new Keep(target("10.0.0.3:1", 9), 0));
    List<Keep> expired = keeps.expire(2_000);
    assertEquals(2, expired.size());
    assertEquals("10.0.0.1:1", expired.get(0).provider());
    assertEquals("10.0.0.2:1", expired.get(1).provider());
    assertEquals(1, keeps.size());
    assertTrue(keeps.remove("10.0.0.1:1").isEmpty());
    assertEquals(1, keeps.clear().size());
    assertTrue(keeps.isEmpty());
  }
}
