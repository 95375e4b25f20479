package dev.quiesce.agent.core.traffic.dubbo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DubboUrlsTest {
  /** The methods of Dubbo's URL that DubboUrls calls, without Dubbo. */
  public static final class FakeUrl {
    private final String protocol;
    private final String address;
    private final Map<String, String> parameters = new HashMap<String, String>();

    FakeUrl(String protocol, String address, String... keyValues) {
      this.protocol = protocol;
      this.address = address;
      for (int i = 0; i < keyValues.length; i += 2) {
        parameters.put(keyValues[i], keyValues[i + 1]);
      }
    }

    public String getProtocol() {
      return protocol;
    }

    public String getAddress() {
      return address;
    }

    public String getParameter(String key) {
      return parameters.get(key);
    }

    public String toFullString() {
      return protocol + "://user:secret@" + address + "/?" + parameters;
    }
  }

  @Test
  void registryNameHasNoCredentials() throws Exception {
    assertEquals("zookeeper://127.0.0.1:2181", DubboUrls.registryName(new FakeUrl("zookeeper", "127.0.0.1:2181")));
  }

  @Test
  void serviceDiscoveryRegistryIsNamedByTheRegistryUnder() throws Exception {
    FakeUrl sd = new FakeUrl("service-discovery-registry", "127.0.0.1:2181", "registry", "zookeeper");
    assertTrue(DubboUrls.isServiceDiscovery(sd));
    assertEquals("zookeeper://127.0.0.1:2181", DubboUrls.registryName(sd));
    FakeUrl typed = new FakeUrl("nacos", "10.0.0.1:8848", "registry-type", "service-discovery");
    assertTrue(DubboUrls.isServiceDiscovery(typed));
    assertEquals("nacos://10.0.0.1:8848", DubboUrls.registryName(typed));
    assertFalse(DubboUrls.isServiceDiscovery(new FakeUrl("zookeeper", "127.0.0.1:2181")));
  }

  @Test
  void sideAndParameters() throws Exception {
    assertTrue(DubboUrls.isProvider(new FakeUrl("dubbo", "1.2.3.4:20880", "side", "provider")));
    assertFalse(DubboUrls.isProvider(new FakeUrl("dubbo", "1.2.3.4:20880", "side", "consumer")));
    assertNull(DubboUrls.parameter(new FakeUrl("dubbo", "1.2.3.4:20880"), "side"));
    assertTrue(DubboUrls.full(new FakeUrl("dubbo", "1.2.3.4:20880")).startsWith("dubbo://"));
  }
}
