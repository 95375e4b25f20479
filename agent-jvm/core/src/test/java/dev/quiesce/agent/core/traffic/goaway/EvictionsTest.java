package dev.quiesce.agent.core.traffic.goaway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiesce.agent.proto.v1.Evict;
import dev.quiesce.agent.proto.v1.Eviction;
import java.util.List;
import org.junit.jupiter.api.Test;

class EvictionsTest {
  @Test
  void reportCountsPerServiceAndNamesFailures() throws Exception {
    Evictions done = new Evictions("dubbo");
    assertTrue(done.noneRemoved());
    done.removed("a", 1);
    done.removed("a", 2);
    done.dropped("b");
    done.dropped("b");
    done.failed("c", "evict_failed: x");
    assertFalse(done.noneRemoved());
    List<Eviction> out = done.report(EvictTargetTest.target("10.0.0.5:1"));
    assertEquals(3, out.size());
    assertEquals("a", out.get(0).getService());
    assertEquals(3, out.get(0).getRemoved());
    assertEquals(1, out.get(1).getRemoved());
    assertEquals("evict_failed: x", out.get(2).getError());
    for (Eviction e : out) {
      assertEquals("dubbo", e.getFramework());
    }
  }

  @Test
  void anEmptyReportNamesTheServicesTheSenderNamed() throws Exception {
    EvictTarget t = EvictTarget.of(Evict.newBuilder().setProvider("10.0.0.5:1").addServices("s1").addServices("s2").build());
    List<Eviction> out = new Evictions("ribbon").report(t);
    assertEquals(2, out.size());
    assertEquals("s2", out.get(1).getService());
    assertEquals(0, out.get(1).getRemoved());
    List<Eviction> none = new Evictions("ribbon").report(EvictTargetTest.target("10.0.0.5:1"));
    assertEquals(1, none.size());
    assertEquals("", none.get(0).getService());
  }

  @Test
  void releaseReport() {
    Evictions done = new Evictions("springcloud-loadbalancer");
    assertTrue(done.releaseReport().isEmpty());
    done.released("svc", 1);
    done.released("svc", 1);
    done.failed("other", "release_failed: y");
    List<Eviction> out = done.releaseReport();
    assertEquals(2, out.size());
    assertEquals(2, out.get(0).getReleased());
    assertEquals("release_failed: y", out.get(1).getError());
  }
}
