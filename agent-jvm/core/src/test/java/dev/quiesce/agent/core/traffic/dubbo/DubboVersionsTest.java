package dev.quiesce.agent.core.traffic.dubbo;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DubboVersionsTest {
  @Test
  void apacheLines() {
    for (String v : new String[] {"2.7.23", "3.2.16", "3.3.2"}) {
      assertNull(DubboVersions.unsupportedReason(DubboVersions.APACHE, v), v);
    }
    for (String v : new String[] {"2.6.12", "3.0.15", "3.1.11", "3.4.0", "2.5.10"}) {
      String reason = DubboVersions.unsupportedReason(DubboVersions.APACHE, v);
      assertNotNull(reason, v);
      assertTrue(reason.contains(v) && reason.contains("2.7.x"), reason);
    }
  }

  @Test
  void alibabaLines() {
    assertNull(DubboVersions.unsupportedReason(DubboVersions.ALIBABA, "2.6.12"));
    assertNotNull(DubboVersions.unsupportedReason(DubboVersions.ALIBABA, "2.7.23"));
    assertNotNull(DubboVersions.unsupportedReason(DubboVersions.ALIBABA, "2.5.3"));
  }

  @Test
  void unreadableVersionIsUnsupported() {
    String reason = DubboVersions.unsupportedReason(DubboVersions.APACHE, "");
    assertTrue(reason.contains("could not be read"), reason);
    assertNotNull(DubboVersions.unsupportedReason(DubboVersions.APACHE, null));
  }

  @Test
  void dubbo3() {
    assertTrue(DubboVersions.isDubbo3("3.2.0"));
    assertFalse(DubboVersions.isDubbo3("2.7.23"));
  }

  @Test
  void readFromAMissingDubboIsEmpty() {
    assertTrue(DubboVersions.read(getClass().getClassLoader(), "org.apache.dubbo").isEmpty());
  }
}
