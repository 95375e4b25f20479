package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.reflect.Reflect;

/** Reading Dubbo's URL objects (com.alibaba.dubbo.common.URL, org.apache.dubbo.common.URL) by reflection. */
final class DubboUrls {
  private DubboUrls() {}

  /** The full URL as Dubbo writes it to the registry. */
  static String full(Object url) throws Exception {
    return String.valueOf(Reflect.call(url, "toFullString"));
  }

  static String parameter(Object url, String key) throws Exception {
    Object v = Reflect.call(url, "getParameter", key);
    return v == null ? null : String.valueOf(v);
  }

  static boolean isProvider(Object url) throws Exception {
    return "provider".equals(parameter(url, "side"));
  }

  /**
   * What names a registry, without credentials: "zookeeper://127.0.0.1:2181". A Dubbo 3
   * service-discovery registry (service-discovery-registry://...?registry=zookeeper) is named by
   * the registry it stands on.
   */
  static String registryName(Object registryUrl) throws Exception {
    String protocol = String.valueOf(Reflect.call(registryUrl, "getProtocol"));
    if (isServiceDiscovery(registryUrl)) {
      String under = parameter(registryUrl, "registry");
      if (under != null && !under.isEmpty()) {
        protocol = under;
      }
    }
    return protocol + "://" + Reflect.call(registryUrl, "getAddress");
  }

  /** Dubbo 3's application-level registry URL (UrlUtils.isServiceDiscoveryURL). */
  static boolean isServiceDiscovery(Object registryUrl) throws Exception {
    String protocol = String.valueOf(Reflect.call(registryUrl, "getProtocol"));
    return "service-discovery-registry".equals(protocol) || "service-discovery".equals(parameter(registryUrl, "registry-type"));
  }
}
