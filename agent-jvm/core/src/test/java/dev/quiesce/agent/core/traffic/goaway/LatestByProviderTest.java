package dev.quiesce.agent.core.traffic.goaway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatestByProviderTest {
  @Test
  void theLatestGoAwayWins() {
    LatestByProvider<String> latest = new LatestByProvider<String>();
    latest.put("10.0.0.5:1", "first");
    latest.put("10.0.0.5:1", "second");
    assertEquals(1, latest.size());
    assertEquals("second", latest.remove("10.0.0.5:1"));
    assertTrue(latest.isEmpty());
  }

  @Test
  void boundedTheOldestDroppedFirst() {
    LatestByProvider<Integer> latest = new LatestByProvider<Integer>();
    for (int i = 0; i < 100; i++) {
      latest.put("10.0.0.5:" + (i + 1), i);
    }
    assertEquals(64, latest.size());
    assertFalse(latest.containsKey("10.0.0.5:1"));
    assertFalse(latest.containsKey("10.0.0.5:36"));
    assertTrue(latest.containsKey("10.0.0.5:37"));
    assertTrue(latest.containsKey("10.0.0.5:100"));
  }
}
