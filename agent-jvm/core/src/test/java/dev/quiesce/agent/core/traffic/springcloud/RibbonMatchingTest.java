package dev.quiesce.agent.core.traffic.springcloud;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.quiesce.agent.core.traffic.goaway.EvictTarget;
import dev.quiesce.agent.core.traffic.goaway.Keep;
import dev.quiesce.agent.proto.v1.Evict;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which of a Ribbon balancer's servers a GoAway takes out, on stand-ins for com.netflix.loadbalancer.Server. */
class RibbonMatchingTest {
  public static final class FakeServer {
    private final String host;
    private final int port;

    FakeServer(String host, int port) {
      this.host = host;
      this.port = port;
    }

    public String getHost() {
      return host;
    }

    public int getPort() {
      return port;
    }

    @Override
    public String toString() {
      return host + ":" + port;
    }
  }

  static Keep keep(String provider) throws Exception {
    return new Keep(EvictTarget.of(Evict.newBuilder().setProvider(provider).build()), 0);
  }

  @Test
  void countsAndRemovesEveryKeptProvider() throws Exception {
    FakeServer a = new FakeServer("10.0.0.5", 8080);
    FakeServer b = new FakeServer("10.0.0.6", 8080);
    FakeServer c = new FakeServer("10.0.0.5", 8081);
    List<FakeServer> servers = Arrays.asList(a, b, c, a);
    assertEquals(2, RibbonEvictor.count(servers, keep("10.0.0.5:8080").target));
    assertEquals(0, RibbonEvictor.count(servers, keep("10.0.0.7:8080").target));
    assertEquals(Arrays.<Object>asList(b, c), RibbonEvictor.without(servers, Arrays.asList(keep("10.0.0.5:8080"))));
    assertEquals(Arrays.<Object>asList(b), RibbonEvictor.without(servers, Arrays.asList(keep("10.0.0.5:8080"), keep("10.0.0.5:8081"))));
  }
}
