package dev.quiesce.agent.core.command;

import dev.quiesce.agent.proto.v1.Command;
import dev.quiesce.agent.proto.v1.CommandError;
import dev.quiesce.agent.proto.v1.CommandResult;
import dev.quiesce.agent.proto.v1.InstancesFound;
import dev.quiesce.agent.proto.v1.Pong;
import dev.quiesce.agent.proto.v1.Stopped;
import dev.quiesce.agent.core.traffic.Adapters;
import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.core.traffic.TrafficService;
import java.lang.instrument.Instrumentation;

/** Turns a daemon Command into its CommandResult. Runs on the agent's executor thread. */
public final class CommandHandler {
  private final InstanceFinder finder;
  private final TrafficService traffic;

  public CommandHandler(Instrumentation inst, String nativePath) {
    this.finder = new InstanceFinder(inst, nativePath);
    this.traffic = new TrafficService(Adapters.all(new LiveObjects(inst, nativePath)));
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
          return result.setStopped(Stopped.getDefaultInstance()).build();
        case INVENTORY:
          return result.setInventory(traffic.inventory()).build();
        case ISOLATE:
          return result.setTraffic(traffic.isolate(command.getIsolate().getTrafficList())).build();
        case RESTORE:
          return result.setTraffic(traffic.restore(command.getRestore().getTrafficList())).build();
        default:
          return result.setError(InstanceFinder.error("unknown_command",
              "command kind " + command.getKindCase() + " is not known to agent 0.1.0")).build();
      }
    } catch (TrafficException e) {
      return result.setError(InstanceFinder.error(e.code(), e.getMessage())).build();
    } catch (Throwable t) {
      return result.setError(InstanceFinder.error("internal", String.valueOf(t))).build();
    }
  }
}
