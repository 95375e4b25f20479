package dev.quiesce.agent.core.traffic.dubbo;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.reflect.Reflect;
import dev.quiesce.agent.core.traffic.goaway.Evictions;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collection;

/**
 * GoAway on Dubbo 2.6.x / 2.7.x (and 3.0) consumers, whose directories cannot disable an invoker (no
 * {@code addDisabledInvoker}, the gate): what the provider's read-only event does, done on the consumer
 * side. The dubbo protocol's referred {@code DubboInvoker}s at that address
 * ({@code DubboProtocol.getDubboProtocol().getInvokers()}, static: no heap walk) get the
 * {@code channel.readonly} attribute on their exchange clients, so {@code isAvailable()} is false and the
 * cluster reselects another provider (its {@code availablecheck}, on by default). At the TTL's end the
 * attribute is removed from the clients we marked. A client the provider's own read-only event (sent by
 * the same drain, at the same time) marked first counts as dropped too — the invoker is out of the
 * cluster's choice — and is held for the TTL like the others (a reconnected channel, which has lost the
 * mark, is marked again), but that mark is the provider's: it is not removed at the TTL's end.
 */
final class Dubbo26Marking {
  static final String READONLY_KEY = "channel.readonly";

  private Dubbo26Marking() {}

  /**
   * Marks the exchange clients of the target's DubboInvokers read-only; how many such invokers there
   * are. An invoker is dropped (added to {@code removed}) when we marked one of its clients, or, on the
   * GoAway itself ({@code first}), when every connected client of it is read-only already (the
   * provider's own read-only event, sent by the same drain, came first).
   */
  static int mark(DubboEvictor.Consumers c, DubboKeep keep, Evictions removed, boolean first) throws Exception {
    ClassLoader loader = c.loader();
    Class<?> protocolType = loader == null ? null : Reflect.load(loader, c.pkg + ".rpc.protocol.dubbo.DubboProtocol");
    if (protocolType == null) {
      return 0;
    }
    Object protocol = Reflect.callStatic(protocolType, "getDubboProtocol");
    if (protocol == null) {
      return 0;
    }
    int listed = 0;
    for (Object invoker : new ArrayList<Object>((Collection<?>) Reflect.call(protocol, "getInvokers"))) {
      Field clientsField = invoker == null ? null : field(invoker.getClass(), "clients");
      if (clientsField == null || !DubboEvictor.isTarget(Reflect.call(invoker, "getUrl"), keep.target)) {
        continue;
      }
      listed++;
      Object clients = clientsField.get(invoker);
      if (!(clients instanceof Object[])) {
        continue;
      }
      boolean any = false;
      int theirs = 0;
      for (Object client : (Object[]) clients) {
        if (client == null || keep.marked.containsKey(client)) {
          continue;
        }
        if (!Boolean.TRUE.equals(Reflect.call(client, "hasAttribute", READONLY_KEY))) {
          Reflect.call(client, "setAttribute", READONLY_KEY, Boolean.TRUE);
          keep.marked.put(client, Boolean.TRUE);
          any = true;
        } else {
          theirs++;
        }
      }
      if (first && !any && theirs > 0) {
        keep.alreadyReadOnly++;
        any = true;
      }
      if (any) {
        Object type = Reflect.call(invoker, "getInterface");
        removed.dropped(type instanceof Class ? ((Class<?>) type).getName() : String.valueOf(type));
      }
    }
    return listed;
  }

  /** Unmarks the clients a keep marked (not those the provider marked); how many. Never throws. */
  static int unmark(DubboKeep k) {
    int unmarked = 0;
    for (Object client : k.marked.keySet()) {
      try {
        Reflect.call(client, "removeAttribute", READONLY_KEY);
        unmarked++;
      } catch (Throwable t) {
        AgentLog.warn("goaway: dubbo could not unmark a client of " + k.target, t);
      }
    }
    return unmarked;
  }

  /** DubboInvoker.clients, up the hierarchy; null when absent or not accessible. */
  private static Field field(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      try {
        Field f = k.getDeclaredField(name);
        f.setAccessible(true);
        return f;
      } catch (NoSuchFieldException e) {
        // up
      } catch (RuntimeException inaccessible) {
        return null;
      }
    }
    return null;
  }
}
