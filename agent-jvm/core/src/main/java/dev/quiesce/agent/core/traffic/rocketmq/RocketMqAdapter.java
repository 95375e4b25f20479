package dev.quiesce.agent.core.traffic.rocketmq;

import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficAdapter;
import dev.quiesce.agent.core.traffic.VersionLines;
import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.RegistryInventory;
import dev.quiesce.agent.proto.v1.TrafficChange;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * RocketMQ event traffic ("rocketmq") of the remoting client (rocketmq-client 4.9.x and 5.x):
 * Isolate holds each application client's {@code NettyRemotingClient.lockChannelTables} from a
 * dedicated thread ({@link ChannelHold}) and closes its open broker channels, so the client can
 * neither pull, send nor connect to a broker (a new channel waits 3 s for the lock, then fails); the
 * brokers drop it from its consumer groups, which rebalance to the remaining members. Name-server
 * channels stay open, so routes stay current. Restore releases the lock; the client reconnects by
 * itself (heartbeat, next pull or send).
 *
 * <p>Only the application's clients: {@code MQClientManager.getInstance().factoryTable} →
 * {@code MQClientInstance.getMQClientAPIImpl().getRemotingClient()}, never every
 * NettyRemotingClient in the JVM (a broker or proxy here has its own). The gRPC
 * {@code rocketmq-client-java} (5.x) has no NettyRemotingClient: reported, never acted on.
 */
public final class RocketMqAdapter implements TrafficAdapter {
  static final String CLIENT_MANAGER = "org.apache.rocketmq.client.impl.MQClientManager";
  static final String MQ_VERSION = "org.apache.rocketmq.common.MQVersion";
  /** Loaded once a rocketmq-client-java (gRPC, 5.x) client exists; in every release of it. */
  static final String CLIENT_JAVA_LANDMARK = "org.apache.rocketmq.client.java.impl.ClientImpl";
  static final String FRAMEWORK = "rocketmq-remoting-client";
  static final String FRAMEWORK_GRPC = "rocketmq-client-java";
  static final String KIND = "remoting-client";
  /** rocketmq-client lines this adapter knows (tested: 4.9.7, 5.3.3); the fields it uses are in both. */
  static final VersionLines LINES = new VersionLines("4.9", "5");

  private final LiveObjects live;
  /** Held clients, by their NettyRemotingClient (identity). */
  private final Map<Object, ChannelHold> holds = new IdentityHashMap<Object, ChannelHold>();

  public RocketMqAdapter(LiveObjects live) {
    this.live = live;
  }

  @Override
  public String traffic() {
    return "rocketmq";
  }

  @Override
  public boolean isolated() {
    return !holds.isEmpty();
  }

  /** Null for a version of {@link #LINES}. */
  static String unsupportedReason(String version) {
    if (version == null || version.isEmpty()) {
      return "rocketmq-client version unreadable (MQVersion)";
    }
    if (LINES.covers(version)) {
      return null;
    }
    return "rocketmq-client " + version + " is not a version quiesce knows (" + LINES + ")";
  }

  /** One MQClientManager (one per class loader that loaded rocketmq-client) and its clients now. */
  private static final class Found {
    String version;
    String unsupported;
    final List<Client> clients = new ArrayList<Client>();
  }

  /** One MQClientInstance. */
  private static final class Client {
    String clientId;
    Object remoting;
  }

  private List<Found> find() {
    List<Found> out = new ArrayList<Found>();
    for (Class<?> manager : live.classesNamed(CLIENT_MANAGER)) {
      Found f = new Found();
      f.version = version(manager.getClassLoader());
      f.unsupported = unsupportedReason(f.version);
      try {
        Object instance = Reflect.invoke(Reflect.method(manager, "getInstance"), null);
        Object table = Reflect.fieldValue(instance, "factoryTable");
        if (table instanceof Map) {
          for (Map.Entry<?, ?> e : ((Map<?, ?>) table).entrySet()) {
            Client c = new Client();
            c.clientId = String.valueOf(e.getKey());
            Object api = Reflect.callDeclared(e.getValue(), "getMQClientAPIImpl");
            c.remoting = api == null ? null : Reflect.callDeclared(api, "getRemotingClient");
            if (c.remoting != null) {
              if (f.unsupported == null) {
                f.unsupported = RemotingClient.structureProblem(c.remoting.getClass());
              }
              f.clients.add(c);
            }
          }
        }
      } catch (Throwable t) {
        if (f.unsupported == null) {
          f.unsupported = "cannot read MQClientManager.factoryTable: " + t;
        }
      }
      out.add(f);
    }
    return out;
  }

  /** "4.9.7" from MQVersion.getVersionDesc(CURRENT_VERSION) ("V4_9_7"), or "". */
  private static String version(ClassLoader loader) {
    try {
      Class<?> v = Class.forName(MQ_VERSION, false, loader);
      int current = v.getField("CURRENT_VERSION").getInt(null);
      String desc = String.valueOf(v.getMethod("getVersionDesc", int.class).invoke(null, current));
      if (desc.startsWith("V")) {
        desc = desc.substring(1);
      }
      return desc.replace('_', '.');
    } catch (Throwable t) {
      return "";
    }
  }

  @Override
  public List<FrameworkInventory> inventory() throws Exception {
    List<FrameworkInventory> out = new ArrayList<FrameworkInventory>();
    for (Found f : find()) {
      FrameworkInventory.Builder b = FrameworkInventory.newBuilder()
          .setTraffic(traffic())
          .setFramework(FRAMEWORK)
          .setVersion(f.version)
          .setSupported(f.unsupported == null)
          .setUnsupportedReason(f.unsupported == null ? "" : f.unsupported)
          .setIsolated(isolated());
      for (Client c : f.clients) {
        RegistryInventory.Builder r = RegistryInventory.newBuilder().setRegistry(c.clientId).setKind(KIND);
        try {
          if (f.unsupported == null) {
            r.addAllRegistered(RemotingClient.of(c.remoting).brokerAddresses(true));
          }
        } catch (Throwable t) {
          // unreadable now: report the client without channels
        }
        ChannelHold h = holds.get(c.remoting);
        if (h != null) {
          r.addAllRemoved(h.closed);
        }
        b.addRegistries(r);
      }
      out.add(b.build());
    }
    for (Class<?> grpc : live.classesNamed(CLIENT_JAVA_LANDMARK)) {
      Package p = grpc.getPackage();
      String v = p == null || p.getImplementationVersion() == null ? "" : p.getImplementationVersion();
      out.add(FrameworkInventory.newBuilder()
          .setTraffic(traffic())
          .setFramework(FRAMEWORK_GRPC)
          .setVersion(v)
          .setSupported(false)
          .setUnsupportedReason("rocketmq-client-java (gRPC to a 5.x proxy) has no NettyRemotingClient to hold; quiesce isolates only the remoting client (rocketmq-client 4.9.x / 5.x)")
          .build());
    }
    return out;
  }

  @Override
  public List<TrafficChange> isolate() throws Exception {
    List<TrafficChange> changes = new ArrayList<TrafficChange>();
    List<Object> present = new ArrayList<Object>();
    for (Found f : find()) {
      for (Client c : f.clients) {
        present.add(c.remoting);
        TrafficChange.Builder ch = change(f.version, c.clientId);
        if (f.unsupported != null) {
          changes.add(ch.setError("unsupported_version: " + f.unsupported).build());
          continue;
        }
        try {
          ChannelHold h = holds.get(c.remoting);
          if (h == null || !h.alive()) {
            h = ChannelHold.acquire(RemotingClient.of(c.remoting), c.clientId);
            if (h == null) {
              changes.add(ch.setError("lock_timeout: lockChannelTables of " + c.clientId + " not had within "
                  + ChannelHold.LOCK_WAIT_MS + " ms").build());
              continue;
            }
            holds.put(c.remoting, h);
            List<String> closed = h.closeBrokerChannels();
            ch.addAllDeregistered(closed);
            AgentLog.info("rocketmq: holding " + c.clientId + ", closed broker channels " + closed);
          } else {
            // Held: a broker channel can appear only past the lock (5.2+ GO_AWAY reconnect).
            List<String> closed = h.closeBrokerChannels();
            ch.addAllDeregistered(closed).setReapplied(closed.size());
            if (!closed.isEmpty()) {
              AgentLog.info("rocketmq: " + c.clientId + " had broker channels again, closed " + closed);
            }
          }
        } catch (Throwable t) {
          ch.setError(Reflect.describeBrief("isolate_failed", t));
        }
        changes.add(ch.build());
      }
    }
    // Clients shut down by the application since: nothing left to hold.
    for (Iterator<Map.Entry<Object, ChannelHold>> it = holds.entrySet().iterator(); it.hasNext();) {
      Map.Entry<Object, ChannelHold> e = it.next();
      if (!present.contains(e.getKey())) {
        e.getValue().release();
        it.remove();
      }
    }
    return changes;
  }

  @Override
  public List<TrafficChange> restore() throws Exception {
    List<TrafficChange> changes = new ArrayList<TrafficChange>();
    if (holds.isEmpty()) {
      return changes;
    }
    String version = "";
    for (Found f : find()) {
      version = f.version;
    }
    for (ChannelHold h : holds.values()) {
      h.release();
      changes.add(change(version, h.clientId).addAllRestored(h.closed).build());
      AgentLog.info("rocketmq: released " + h.clientId);
    }
    holds.clear();
    return changes;
  }

  /** Releases every held lock (agent Stop): the application must never be left without its brokers. */
  @Override
  public void close() {
    for (ChannelHold h : holds.values()) {
      h.release();
    }
    holds.clear();
  }

  private TrafficChange.Builder change(String version, String clientId) {
    return TrafficChange.newBuilder()
        .setTraffic(traffic())
        .setFramework(FRAMEWORK)
        .setVersion(version)
        .setRegistry(clientId)
        .setKind(KIND);
  }
}
