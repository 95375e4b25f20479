package dev.quiesce.agent.core.traffic.rocketmq;

import dev.quiesce.agent.core.reflect.Reflect;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;

/**
 * One application {@code NettyRemotingClient} (rocketmq-remoting 4.9.x and 5.x), seen through
 * reflection:
 *
 * <ul>
 *   <li>{@code lockChannelTables} (a ReentrantLock): taken by {@code createChannelAsync} (tryLock 3 s)
 *       before a new channel is made, and by {@code closeChannel};
 *   <li>{@code channelTables} (address → ChannelWrapper): both broker and name-server channels;
 *       name servers are the addresses in {@code namesrvAddrList} / {@code namesrvAddrChoosed}, and
 *       have their own {@code namesrvChannelLock} for choosing one;
 *   <li>5.2+: {@code channelWrapperTables} (Channel → ChannelWrapper) and
 *       {@code ChannelWrapper.channelToClose} (the channel a GO_AWAY reconnect replaced).
 * </ul>
 *
 * <p>{@code getAndCreateChannel} hands out an existing active channel without the lock, so holding
 * the lock stops only new channels: the broker channels open at that moment are closed here.
 */
final class RemotingClient {
  static final String CLASS = "org.apache.rocketmq.remoting.netty.NettyRemotingClient";
  private static final String HANDLER_SUFFIX = "$NettyConnectManageHandler";

  final Object client;
  final Lock lock;
  private final ConcurrentMap<Object, Object> channelTables;
  /** 5.2+ only; null before. */
  private final ConcurrentMap<Object, Object> channelWrapperTables;
  private final AtomicReference<?> namesrvAddrList;
  private final AtomicReference<?> namesrvAddrChoosed;

  private RemotingClient(Object client, Lock lock, ConcurrentMap<Object, Object> channelTables,
      ConcurrentMap<Object, Object> channelWrapperTables, AtomicReference<?> namesrvAddrList, AtomicReference<?> namesrvAddrChoosed) {
    this.client = client;
    this.lock = lock;
    this.channelTables = channelTables;
    this.channelWrapperTables = channelWrapperTables;
    this.namesrvAddrList = namesrvAddrList;
    this.namesrvAddrChoosed = namesrvAddrChoosed;
  }

  /** Why this class cannot be held (a field this adapter needs is missing), or null. */
  static String structureProblem(Class<?> c) {
    if (!isA(c, CLASS)) {
      return c.getName() + " is not a " + CLASS;
    }
    String[][] needed = {
        {"lockChannelTables", Lock.class.getName()},
        {"channelTables", ConcurrentMap.class.getName()},
        {"namesrvAddrList", AtomicReference.class.getName()},
    };
    for (String[] n : needed) {
      Field f = Reflect.field(c, n[0]);
      if (f == null) {
        return CLASS + " has no field " + n[0];
      }
      try {
        if (!Class.forName(n[1]).isAssignableFrom(f.getType())) {
          return CLASS + "." + n[0] + " is a " + f.getType().getName() + ", not a " + n[1];
        }
      } catch (ClassNotFoundException e) {
        return e.toString();
      }
    }
    return null;
  }

  @SuppressWarnings("unchecked")
  static RemotingClient of(Object client) throws Exception {
    Class<?> c = client.getClass();
    String problem = structureProblem(c);
    if (problem != null) {
      throw new IllegalStateException(problem);
    }
    Field wrappers = Reflect.field(c, "channelWrapperTables");
    Field chosen = Reflect.field(c, "namesrvAddrChoosed");
    return new RemotingClient(client,
        (Lock) Reflect.field(c, "lockChannelTables").get(client),
        (ConcurrentMap<Object, Object>) Reflect.field(c, "channelTables").get(client),
        wrappers == null ? null : (ConcurrentMap<Object, Object>) wrappers.get(client),
        (AtomicReference<?>) Reflect.field(c, "namesrvAddrList").get(client),
        chosen == null ? null : (AtomicReference<?>) chosen.get(client));
  }

  /** Name-server addresses: their channels are left open, so the client keeps its routes. */
  private List<String> nameServers() {
    List<String> out = new ArrayList<String>();
    Object list = namesrvAddrList.get();
    if (list instanceof Collection) {
      for (Object a : (Collection<?>) list) {
        out.add(String.valueOf(a));
      }
    }
    Object chosen = namesrvAddrChoosed == null ? null : namesrvAddrChoosed.get();
    if (chosen != null) {
      out.add(String.valueOf(chosen));
    }
    return out;
  }

  /** Addresses of the broker channels in the table now (activeOnly: only those whose channel is open). */
  List<String> brokerAddresses(boolean activeOnly) {
    List<String> nameServers = nameServers();
    List<String> out = new ArrayList<String>();
    for (Map.Entry<Object, Object> e : channelTables.entrySet()) {
      String addr = String.valueOf(e.getKey());
      if (nameServers.contains(addr)) {
        continue;
      }
      if (activeOnly) {
        try {
          Object ch = channelOf(e.getValue(), "channelFuture");
          if (ch == null || !Boolean.TRUE.equals(Reflect.ifaceMethod(ch, "io.netty.channel.Channel", "isActive").invoke(ch))) {
            continue;
          }
        } catch (Throwable t) {
          continue;
        }
      }
      out.add(addr);
    }
    return out;
  }

  /**
   * Takes one broker channel out of the table and closes it. Call only while holding {@link #lock}
   * (from the thread that holds it), so no one creates a channel for that address meanwhile.
   *
   * <p>Closing through Netty runs {@code NettyConnectManageHandler.close} (and in 5.x
   * {@code channelInactive}), which call {@code closeChannel}: a {@code tryLock} of up to 3 s on the
   * client's Netty worker thread while this lock is held, stalling every channel that thread
   * serves, name servers included. So the handler is detached from the channel's pipeline first and
   * its work done here: table entries removed, channel closed, pending requests failed at once
   * ({@code failFast}, as the handler does).
   *
   * @return true when an entry was removed
   */
  boolean closeBroker(String addr) throws Exception {
    Object wrapper = channelTables.get(addr);
    if (wrapper == null || !channelTables.remove(addr, wrapper)) {
      return false;
    }
    List<Object> channels = new ArrayList<Object>();
    for (String f : new String[] {"channelFuture", "channelToClose"}) {
      Object ch = channelOf(wrapper, f);
      if (ch != null && !channels.contains(ch)) {
        channels.add(ch);
      }
    }
    for (Object ch : channels) {
      if (channelWrapperTables != null) {
        channelWrapperTables.remove(ch);
      }
      close(ch);
    }
    return true;
  }

  private void close(Object channel) throws Exception {
    Object pipeline = Reflect.ifaceMethod(channel, "io.netty.channel.Channel", "pipeline").invoke(channel);
    Method names = Reflect.ifaceMethod(pipeline, "io.netty.channel.ChannelPipeline", "names");
    Method get = Reflect.ifaceMethod(pipeline, "io.netty.channel.ChannelPipeline", "get", String.class);
    Method remove = Reflect.ifaceMethod(pipeline, "io.netty.channel.ChannelPipeline", "remove", String.class);
    for (Object name : (List<?>) names.invoke(pipeline)) {
      Object handler = get.invoke(pipeline, name);
      if (handler != null && handler.getClass().getName().endsWith(HANDLER_SUFFIX)) {
        try {
          remove.invoke(pipeline, name);
        } catch (Throwable raced) {
          // already gone with the channel
        }
      }
    }
    Object future = Reflect.ifaceMethod(channel, "io.netty.channel.Channel", "close").invoke(channel);
    Reflect.ifaceMethod(future, "io.netty.util.concurrent.Future", "awaitUninterruptibly", long.class).invoke(future, 1000L);
    try {
      Class<?> channelIface = Class.forName("io.netty.channel.Channel", false, channel.getClass().getClassLoader());
      Reflect.invoke(Reflect.method(client.getClass(), "failFast", channelIface), client, channel);
    } catch (NoSuchMethodException older) {
      // no failFast in this version: pending requests time out as after any close
    }
  }

  /** The Channel of a ChannelWrapper's ChannelFuture field, or null. */
  private static Object channelOf(Object wrapper, String futureField) throws Exception {
    Object future = Reflect.fieldValue(wrapper, futureField);
    if (future == null) {
      return null;
    }
    return Reflect.ifaceMethod(future, "io.netty.channel.ChannelFuture", "channel").invoke(future);
  }

  private static boolean isA(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      if (k.getName().equals(name)) {
        return true;
      }
    }
    return false;
  }
}
