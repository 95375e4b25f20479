package dev.quiesce.agent.core.traffic.springcloud;

import dev.quiesce.agent.core.reflect.Reflect;
import java.lang.reflect.Method;

/**
 * One live {@code org.springframework.cloud.client.serviceregistry.ServiceRegistry}: register and
 * deregister through the interface (public, whatever the implementation's own visibility), and,
 * where the implementation is known, whether a registration is in the registry right now.
 */
final class Registry {
  static final String SERVICE_REGISTRY = "org.springframework.cloud.client.serviceregistry.ServiceRegistry";
  static final String REGISTRATION = "org.springframework.cloud.client.serviceregistry.Registration";
  /** spring-cloud-zookeeper 2.2.x (Hoxton), 3.1.x (2021.0) and 4.1.x (2023.0): field serviceDiscovery. */
  static final String ZOOKEEPER_REGISTRY = "org.springframework.cloud.zookeeper.serviceregistry.ZookeeperServiceRegistry";

  final Object target;
  private final Method register;
  private final Method deregister;
  /** Curator's ServiceDiscovery behind a ZookeeperServiceRegistry, else null. */
  private final Object curatorDiscovery;
  final String name;

  Registry(Object target, ClassLoader loader) throws Exception {
    this.target = target;
    Class<?> api = Class.forName(SERVICE_REGISTRY, false, loader);
    Class<?> registration = Class.forName(REGISTRATION, false, loader);
    this.register = api.getMethod("register", registration);
    this.deregister = api.getMethod("deregister", registration);
    Object discovery = null;
    String connect = null;
    if (Reflect.isA(target.getClass(), ZOOKEEPER_REGISTRY)) {
      try {
        discovery = Reflect.fieldValue(target, "serviceDiscovery");
        Object client = discovery == null ? null : curatorClient(discovery);
        connect = client == null ? null : (String) Reflect.callDeclared(client, "getCurrentConnectionString");
      } catch (Exception e) {
        // Another layout: register/deregister still work, presence is unknown.
        discovery = null;
      }
    }
    this.curatorDiscovery = discovery;
    this.name = target.getClass().getName() + (connect == null ? "" : " zookeeper://" + connect);
  }

  void register(Object registration) throws Exception {
    Reflect.invoke(register, target, registration);
  }

  void deregister(Object registration) throws Exception {
    Reflect.invoke(deregister, target, registration);
  }

  /**
   * Removes a registration that came back while held. deregister first (that is enough when the
   * framework itself registered it again); if the node is still there (written by anyone else,
   * so Curator has no entry to remove), it is deleted directly.
   */
  void removeAgain(Object registration) throws Exception {
    deregister(registration);
    if (Boolean.TRUE.equals(present(registration))) {
      Object delete = Reflect.callDeclared(Reflect.callDeclared(framework(), "delete"), "guaranteed");
      Reflect.invoke(Reflect.method(delete.getClass(), "forPath", String.class), delete, pathOf(registration));
    }
  }

  /**
   * TRUE when the registration's node exists in ZooKeeper now, FALSE when it does not, null when
   * this cannot be known (another registry, or ZooKeeper unreachable: nothing can come back while
   * disconnected, since Curator re-registers on reconnect).
   */
  Boolean present(Object registration) {
    if (curatorDiscovery == null) {
      return null;
    }
    try {
      Object client = curatorClient(curatorDiscovery);
      if (client == null || !Boolean.TRUE.equals(Reflect.callDeclared(client, "isConnected"))) {
        return null;
      }
      Object exists = Reflect.callDeclared(framework(), "checkExists");
      return Reflect.invoke(Reflect.method(exists.getClass(), "forPath", String.class), exists, pathOf(registration)) != null;
    } catch (Exception e) {
      return null;
    }
  }

  /** ServiceDiscoveryImpl.pathForInstance(name, id): "/services/<name>/<id>" by default. */
  private String pathOf(Object registration) throws Exception {
    Object instance = Reflect.callDeclared(registration, "getServiceInstance");
    Method pathFor = Reflect.method(curatorDiscovery.getClass(), "pathForInstance", String.class, String.class);
    return (String) Reflect.invoke(pathFor, curatorDiscovery, Reflect.callDeclared(instance, "getName"), Reflect.callDeclared(instance, "getId"));
  }

  /** ServiceDiscoveryImpl.client: the CuratorFramework. */
  private Object framework() throws Exception {
    return Reflect.fieldValue(curatorDiscovery, "client");
  }

  /** ServiceDiscoveryImpl.client (a CuratorFramework) → its CuratorZookeeperClient. */
  private static Object curatorClient(Object discovery) throws Exception {
    Object framework = Reflect.fieldValue(discovery, "client");
    return framework == null ? null : Reflect.callDeclared(framework, "getZookeeperClient");
  }
}
