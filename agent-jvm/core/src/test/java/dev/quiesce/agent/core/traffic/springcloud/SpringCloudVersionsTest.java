package dev.quiesce.agent.core.traffic.springcloud;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SpringCloudVersionsTest {
  @Test
  void gating() {
    for (String v : new String[] {"2.2.10.RELEASE", "3.1.8", "4.1.4"}) {
      assertNull(SpringCloudAdapter.unsupportedReason(v), v);
    }
    for (String v : new String[] {"2.1.6.RELEASE", "3.0.5", "4.0.4", "4.2.0"}) {
      String reason = SpringCloudAdapter.unsupportedReason(v);
      assertTrue(reason.contains(v) && reason.contains("2.2.x, 3.1.x, 4.1.x"), reason);
    }
    assertNotNull(SpringCloudAdapter.unsupportedReason(""));
    assertNotNull(SpringCloudAdapter.unsupportedReason(null));
  }
}
