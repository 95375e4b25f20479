package dev.quiesce.agent.core.command;

import dev.quiesce.agent.proto.v1.Command;
import dev.quiesce.agent.proto.v1.CommandError;
import dev.quiesce.agent.proto.v1.CommandResult;
import dev.quiesce.agent.proto.v1.InstancesFound;
import dev.quiesce.agent.proto.v1.Pong;
import dev.quiesce.agent.proto.v1.Stopped;
import dev.quiesce.agent.core.Agent;
import dev.quiesce.agent.core.inbound.InboundService;
import dev.quiesce.agent.core.traffic.Adapters;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.core.traffic.TrafficService;
import dev.quiesce.agent.core.traffic.dubbo.ReadOnlyAnnouncer;
import dev.quiesce.agent.core.traffic.goaway.Evictors;
import dev.quiesce.agent.core.traffic.goaway.GoAwayService;
import java.lang.instrument.Instrumentation;

/** Turns a daemon Command into its CommandResult. Runs on the agent's executor thread. */
public final class CommandHandler {
  private final InstanceFinder finder;
  private final TrafficService traffic;
  /** Evict (the consumer side of a GoAway): every framework's Evictor. */
  private final GoAwayService goaway;
  /** AnnounceReadOnly: Dubbo providers' read-only / writeable event to connected consumers. */
  private final ReadOnlyAnnouncer announcer;
  /** Null when inbound counting could not be installed (logged). */
  private final InboundService inbound;

  public CommandHandler(Instrumentation inst, String nativePath) {
    this.finder = new InstanceFinder(inst, nativePath);
    LiveObjects live = new LiveObjects(inst, nativePath);
    this.traffic = new TrafficService(Adapters.all(live));
    this.goaway = new GoAwayService(Evictors.all(live));
    this.announcer = new ReadOnlyAnnouncer(live);
    this.inbound = InboundService.install(inst);
  }

  /** The result to send back; never throws. Stop only answers here: the caller shuts down. */
  public CommandResult handle(Command command) {
    CommandResult.Builder result = CommandResult.newBuilder().setId(command.getId());
    try {
      switch (command.getKindCase()) {
        case PING:
          return result.setPong(Pong.newBuilder().setAgentTimeMillis(System.currentTimeMillis())).build();
        case FIND_INSTANCES:
          Object found = finder.find(command.getFindInstances());
          if (found instanceof CommandError) {
            return result.setError((CommandError) found).build();
          }
          return result.setInstancesFound((InstancesFound) found).build();
        case STOP:
          stopInbound();
          traffic.close();
          goaway.close();
          return result.setStopped(Stopped.getDefaultInstance()).build();
        case INVENTORY:
          return result.setInventory(traffic.inventory()).build();
        case ISOLATE:
          return result.setTraffic(traffic.isolate(command.getIsolate().getTrafficList())).build();
        case RESTORE:
          return result.setTraffic(traffic.restore(command.getRestore().getTrafficList())).build();
        case GET_INBOUND:
          if (inbound == null) {
            return result.setError(InstanceFinder.error("inbound_unavailable",
                "inbound requests are not counted in this JVM (see the agent log)")).build();
          }
          return result.setInbound(inbound.report(command.getGetInbound().getDrainPeers())).build();
        case EVICT:
          return result.setEvicted(goaway.evict(command.getEvict())).build();
        case ANNOUNCE_READ_ONLY:
          return result.setAnnounced(announcer.announce(command.getAnnounceReadOnly().getWriteable())).build();
        default:
          return result.setError(InstanceFinder.error("unknown_command",
              "command kind " + command.getKindCase() + " is not known to agent " + Agent.VERSION)).build();
      }
    } catch (TrafficException e) {
      return result.setError(InstanceFinder.error(e.code(), e.getMessage())).build();
    } catch (Throwable t) {
      return result.setError(InstanceFinder.error("internal", String.valueOf(t))).build();
    }
  }

  /**
   * Finds ahead of time, once, the objects a GoAway acts on (a heap walk at attach time rather than
   * on the drain path). Runs on the agent's executor right after it starts; never throws.
   */
  public void warm() {
    goaway.warm();
    announcer.warm();
  }

  /** Retransforms the inbound entry points back to their original bytes (Stop, or a failed start). */
  public void stopInbound() {
    if (inbound != null) {
      inbound.uninstall();
    }
  }
}
