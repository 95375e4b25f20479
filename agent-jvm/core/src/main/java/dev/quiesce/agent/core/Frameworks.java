package dev.quiesce.agent.core;

import dev.quiesce.agent.proto.v1.Framework;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Frameworks present in the JVM, found by a landmark class among the loaded classes. Framework classes
 * are never compile-time dependencies: names only.
 */
public final class Frameworks {
  /** landmark class -> framework name. */
  private static final Map<String, String> LANDMARKS = new LinkedHashMap<String, String>();

  static {
    // Apache Dubbo 2.7+ (org.apache.dubbo) and Alibaba Dubbo 2.6.x (com.alibaba.dubbo).
    LANDMARKS.put("org.apache.dubbo.config.ServiceConfig", "dubbo");
    LANDMARKS.put("com.alibaba.dubbo.config.ServiceConfig", "dubbo");
    // Spring Cloud Commons 1.x+ (Edgware): auto service registration.
    LANDMARKS.put("org.springframework.cloud.client.serviceregistry.AbstractAutoServiceRegistration", "springcloud");
    // RocketMQ 4.x / 5.x remoting client (absent from the 5.x gRPC client, rocketmq-client-java).
    LANDMARKS.put("org.apache.rocketmq.remoting.netty.NettyRemotingClient", "rocketmq");
  }

  private Frameworks() {}

  public static List<Framework> detect(Class<?>[] loaded) {
    List<Framework> found = new ArrayList<Framework>();
    Map<String, Boolean> seen = new LinkedHashMap<String, Boolean>();
    for (Class<?> c : loaded) {
      String name;
      try {
        name = c.getName();
      } catch (Throwable t) {
        continue;
      }
      String framework = LANDMARKS.get(name);
      if (framework == null || seen.containsKey(framework + "|" + name)) {
        continue;
      }
      seen.put(framework + "|" + name, Boolean.TRUE);
      found.add(Framework.newBuilder()
          .setName(framework)
          .setVersion(versionOf(c))
          .setLandmark(name)
          .build());
    }
    return found;
  }

  private static String versionOf(Class<?> c) {
    try {
      Package p = c.getPackage();
      String v = p == null ? null : p.getImplementationVersion();
      return v == null ? "" : v;
    } catch (Throwable t) {
      return "";
    }
  }
}
