package dev.quiesce.agent.core.traffic.goaway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.proto.v1.Evict;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EvictTargetTest {
  static EvictTarget target(String provider) throws TrafficException {
    return EvictTarget.of(Evict.newBuilder().setProvider(provider).build());
  }

  @Test
  void parsesIpPortAndDefaultsTheTtl() throws Exception {
    EvictTarget t = EvictTarget.of(Evict.newBuilder().setProvider(" 10.0.0.5:20880 ").addServices("a.B").build());
    assertEquals("10.0.0.5", t.host());
    assertEquals(20880, t.port());
    assertEquals(Arrays.asList("a.B"), t.services());
    assertEquals(EvictTarget.DEFAULT_TTL_SECONDS * 1000L, t.ttlMillis());
    assertEquals(7000L, EvictTarget.of(Evict.newBuilder().setProvider("10.0.0.5:1").setTtlSeconds(7).build()).ttlMillis());
  }

  @Test
  void rejectsWhatIsNotIpPort() {
    for (String bad : new String[] {"", "10.0.0.5", "10.0.0.5:", ":80", "10.0.0.5:x", "10.0.0.5:0", "10.0.0.5:65536"}) {
      TrafficException e = assertThrows(TrafficException.class, () -> target(bad), bad);
      assertEquals("bad_request", e.code());
    }
  }

  @Test
  void matchesTheSameAddressInAnySpelling() throws Exception {
    EvictTarget v4 = target("10.0.0.5:8080");
    assertTrue(v4.matches("10.0.0.5", 8080));
    assertTrue(v4.matches("::ffff:10.0.0.5", 8080));
    assertFalse(v4.matches("10.0.0.5", 8081));
    assertFalse(v4.matches("10.0.0.50", 8080));
    assertFalse(v4.matches(null, 8080));
    assertFalse(v4.matches("provider.local", 8080));

    EvictTarget v6 = target("[FD00::1]:8080");
    assertTrue(v6.matches("fd00::1", 8080));
    assertTrue(v6.matches("[fd00:0:0:0:0:0:0:1]", 8080));
    assertFalse(v6.matches("fd00::2", 8080));
  }
}
