package dev.quiesce.agent.core.traffic.dubbo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.proto.v1.Evict;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Provider matching on Dubbo URLs and undoing a keep, on stand-ins with Dubbo's method names. */
class DubboEvictorTest {
  public static final class FakeUrl {
    private final String host;
    private final int port;

    FakeUrl(String host, int port) {
      this.host = host;
      this.port = port;
    }

    public String getHost() {
      return host;
    }

    public int getPort() {
      return port;
    }
  }

  /** A 3.1+ directory: records recovered invokers. */
  public static final class FakeDirectory {
    final List<Object> recovered = new ArrayList<Object>();

    public void recoverDisabledInvoker(Object invoker) {
      recovered.add(invoker);
    }
  }

  /** A 2.x exchange client: attributes. */
  public static final class FakeClient {
    final List<String> removed = new ArrayList<String>();

    public void removeAttribute(String key) {
      removed.add(key);
    }
  }

  static EvictTarget target(String provider) throws Exception {
    return EvictTarget.of(Evict.newBuilder().setProvider(provider).setTtlSeconds(30).build());
  }

  @Test
  void matchesTheProviderByIpAndPort() throws Exception {
    EvictTarget t = target("10.0.0.5:20880");
    assertTrue(DubboEvictor.isTarget(new FakeUrl("10.0.0.5", 20880), t));
    assertFalse(DubboEvictor.isTarget(new FakeUrl("10.0.0.5", 20881), t));
    assertFalse(DubboEvictor.isTarget(new FakeUrl("10.0.0.6", 20880), t));
    assertFalse(DubboEvictor.isTarget(null, t));
    assertTrue(DubboEvictor.isTarget(new FakeUrl("fd00::1", 20880), target("[fd00:0::1]:20880")));
  }

  @Test
  void undoingAKeepRecoversWhatItDisabledAndUnmarksWhatItMarked() throws Exception {
    DubboKeep keep = new DubboKeep(target("10.0.0.5:20880"), 0);
    FakeDirectory directory = new FakeDirectory();
    keep.disabled.put(directory, new ArrayList<Object>(Arrays.asList("invoker-1", "invoker-2")));
    FakeClient ours = new FakeClient();
    keep.marked.put(ours, Boolean.TRUE);
    keep.marked.put(new Object(), Boolean.TRUE); // no removeAttribute: logged, not counted, no throw

    assertEquals(2, Dubbo31Disabling.recover(keep));
    assertEquals(Arrays.asList("invoker-1", "invoker-2"), directory.recovered);
    assertEquals(1, Dubbo26Marking.unmark(keep));
    assertEquals(Arrays.asList(Dubbo26Marking.READONLY_KEY), ours.removed);
  }

  @Test
  void aRepeatedGoAwayTakesOverWhatTheEarlierOneHeld() throws Exception {
    DubboKeep earlier = new DubboKeep(target("10.0.0.5:20880"), 0);
    assertFalse(earlier.holdsAnything());
    earlier.marked.put(new FakeClient(), Boolean.TRUE);
    assertTrue(earlier.holdsAnything());
    DubboKeep later = new DubboKeep(target("10.0.0.5:20880"), 10_000);
    later.takeOver(earlier);
    assertEquals(1, later.marked.size());
    assertEquals(40_000, later.deadline);
  }
}
