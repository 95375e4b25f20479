package dev.quiesce.agent.core.traffic.rocketmq;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RocketMqVersionsTest {
  @Test
  void gating() {
    assertNull(RocketMqAdapter.unsupportedReason("4.9.7"));
    assertNull(RocketMqAdapter.unsupportedReason("5.3.3"));
    String old = RocketMqAdapter.unsupportedReason("4.8.0");
    assertTrue(old.contains("4.8.0") && old.contains("4.9.x, 5.x"), old);
    assertNotNull(RocketMqAdapter.unsupportedReason("6.0.0"));
    assertTrue(RocketMqAdapter.unsupportedReason("").contains("unreadable"));
    assertNotNull(RocketMqAdapter.unsupportedReason(null));
  }
}
