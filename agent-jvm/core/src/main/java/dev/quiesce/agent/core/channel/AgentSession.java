package dev.quiesce.agent.core.channel;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.AgentThreads;
import dev.quiesce.agent.core.command.CommandHandler;
import dev.quiesce.agent.proto.v1.AgentChannelGrpc;
import dev.quiesce.agent.proto.v1.AgentMessage;
import dev.quiesce.agent.proto.v1.Command;
import dev.quiesce.agent.proto.v1.CommandResult;
import dev.quiesce.agent.proto.v1.DaemonMessage;
import dev.quiesce.agent.proto.v1.Heartbeat;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.lang.instrument.Instrumentation;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The agent's side of AgentChannel.Connect: one bidi stream over a unix socket, re-dialled forever
 * (Backoff) until a Stop. Threads: one netty event loop and one executor; every grpc callback, timer
 * and command runs on that executor, so the fields below are only touched from it — except the
 * commands that do registry I/O (Isolate, Restore, Inventory; and Stop, which must come after them):
 * they run one at a time on a thread of their own, and their result is sent from the executor. So a
 * drain's read-only event, GoAway eviction and inbound polls never wait behind a deregistration.
 */
public final class AgentSession {
  static final int DEFAULT_HEARTBEAT_MILLIS = 5000;

  private final String socketPath;
  private final HelloFactory helloFactory;
  private final CommandHandler commands;
  private final ScheduledThreadPoolExecutor executor;
  /** Isolate / Restore / Inventory / Stop, in arrival order (see the class comment). */
  private final ExecutorService trafficWorker = Executors.newSingleThreadExecutor(AgentThreads.daemonFactory("agent-traffic"));
  private final EpollEventLoopGroup eventLoop;
  private final Runnable onStopped;
  private final Backoff backoff = new Backoff();

  private int generation;
  private boolean established;
  private int connects;
  private int failedAttempts;
  private boolean stopping;
  private ManagedChannel channel;
  private StreamObserver<AgentMessage> requests;
  private ScheduledFuture<?> heartbeat;

  public AgentSession(String socketPath, String nativePath, Instrumentation inst, String instanceId,
      CommandHandler commands, Runnable onStopped) {
    NettyWorkdir.configure(nativePath);
    this.socketPath = socketPath;
    this.helloFactory = new HelloFactory(inst, instanceId);
    this.commands = commands;
    this.onStopped = onStopped;
    this.executor = new ScheduledThreadPoolExecutor(1, AgentThreads.daemonFactory("agent"));
    this.executor.setRemoveOnCancelPolicy(true);
    this.executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    EpollEventLoopGroup group = null;
    try {
      group = new EpollEventLoopGroup(1, AgentThreads.daemonFactory("netty"));
    } finally {
      if (group == null) {
        executor.shutdownNow();
      }
    }
    this.eventLoop = group;
  }

  public void start() {
    executor.execute(new Runnable() {
      @Override
      public void run() {
        connect();
      }
    });
    executor.execute(new Runnable() {
      @Override
      public void run() {
        commands.warm();
      }
    });
  }

  private void connect() {
    if (stopping) {
      return;
    }
    final int gen = ++generation;
    established = false;
    try {
      channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socketPath))
          .channelType(EpollDomainSocketChannel.class, DomainSocketAddress.class)
          .eventLoopGroup(eventLoop)
          .executor(executor)
          .offloadExecutor(executor)
          .usePlaintext()
          // The default authority of a DomainSocketAddress is its path, which Node's http2 server
          // rejects (RST_STREAM PROTOCOL_ERROR): send a plain host name.
          .overrideAuthority("localhost")
          .disableRetry()
          .build();
      requests = AgentChannelGrpc.newStub(channel).connect(new Responses(gen));
      requests.onNext(AgentMessage.newBuilder().setHello(helloFactory.hello(connects)).build());
      scheduleHeartbeat(DEFAULT_HEARTBEAT_MILLIS);
    } catch (Throwable t) {
      streamEnded(gen, t);
    }
  }

  private void onMessage(int gen, DaemonMessage message) {
    if (gen != generation || stopping) {
      return;
    }
    switch (message.getBodyCase()) {
      case WELCOME:
        if (!established) {
          established = true;
          connects++;
          failedAttempts = 0;
          backoff.reset();
          AgentLog.info("connected to " + socketPath + " (daemon " + message.getWelcome().getDaemonVersion()
              + ", connection " + connects + ")");
        }
        int interval = message.getWelcome().getHeartbeatIntervalMillis();
        scheduleHeartbeat(interval == 0 ? DEFAULT_HEARTBEAT_MILLIS : interval);
        break;
      case COMMAND:
        final Command command = message.getCommand();
        if (onTrafficWorker(command)) {
          trafficWorker.execute(new Runnable() {
            @Override
            public void run() {
              final CommandResult result = commands.handle(command);
              executor.execute(new Runnable() {
                @Override
                public void run() {
                  answered(command, result);
                }
              });
            }
          });
          break;
        }
        answered(command, commands.handle(command));
        break;
      default:
        break;
    }
  }

  /** On the executor: sends a command's result; a Stop then stops. */
  private void answered(Command command, CommandResult result) {
    if (stopping) {
      return;
    }
    send(AgentMessage.newBuilder().setResult(result).build());
    if (command.getKindCase() == Command.KindCase.STOP) {
      stop();
    }
  }

  static boolean onTrafficWorker(Command command) {
    switch (command.getKindCase()) {
      case ISOLATE:
      case RESTORE:
      case INVENTORY:
      case STOP:
        return true;
      default:
        return false;
    }
  }

  /** The stream failed or the daemon closed it: drop the channel and dial again after a back-off. */
  private void streamEnded(int gen, Throwable cause) {
    if (gen != generation || stopping) {
      return;
    }
    generation++;
    cancelHeartbeat();
    closeChannelNow();
    if (established) {
      failedAttempts = 0;
      AgentLog.info("stream to " + socketPath + " ended: " + cause + "; reconnecting");
    } else if (++failedAttempts <= 3 || failedAttempts % 60 == 0) {
      AgentLog.info("connect to " + socketPath + " failed (attempt " + failedAttempts + "): " + cause);
    }
    established = false;
    executor.schedule(new Runnable() {
      @Override
      public void run() {
        connect();
      }
    }, backoff.nextDelayMillis(), TimeUnit.MILLISECONDS);
  }

  private void send(AgentMessage message) {
    try {
      if (requests != null) {
        requests.onNext(message);
      }
    } catch (Throwable t) {
      AgentLog.warn("send failed", t);
    }
  }

  private void scheduleHeartbeat(long intervalMillis) {
    cancelHeartbeat();
    final int gen = generation;
    heartbeat = executor.scheduleAtFixedRate(new Runnable() {
      @Override
      public void run() {
        if (gen == generation && !stopping) {
          send(AgentMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder()
              .setSentAtMillis(System.currentTimeMillis())
              .setAgentThreads(AgentThreads.count())).build());
        }
      }
    }, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
  }

  private void cancelHeartbeat() {
    if (heartbeat != null) {
      heartbeat.cancel(false);
      heartbeat = null;
    }
  }

  private void closeChannelNow() {
    requests = null;
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
  }

  /**
   * Stop: half-close the stream (the Stopped result is already queued), then release everything on a
   * short-lived thread, since the executor cannot wait for its own termination.
   */
  private void stop() {
    stopping = true;
    cancelHeartbeat();
    generation++;
    try {
      if (requests != null) {
        requests.onCompleted();
      }
    } catch (Throwable ignored) {
      // the channel is shut down below anyway
    }
    final ManagedChannel last = channel;
    requests = null;
    channel = null;
    Thread stopper = AgentThreads.daemonFactory("stop").newThread(new Runnable() {
      @Override
      public void run() {
        shutdown(last);
      }
    });
    stopper.start();
  }

  /** Releases the channel, the event loop and the executor; then runs onStopped. Never throws. */
  private void shutdown(ManagedChannel last) {
    try {
      if (last != null) {
        last.shutdown();
        if (!last.awaitTermination(1, TimeUnit.SECONDS)) {
          last.shutdownNow();
          last.awaitTermination(1, TimeUnit.SECONDS);
        }
      }
    } catch (Throwable t) {
      AgentLog.warn("channel shutdown", t);
    }
    try {
      eventLoop.shutdownGracefully(0, 200, TimeUnit.MILLISECONDS).awaitUninterruptibly(3000);
    } catch (Throwable t) {
      AgentLog.warn("event loop shutdown", t);
    }
    try {
      trafficWorker.shutdownNow();
      trafficWorker.awaitTermination(3, TimeUnit.SECONDS);
    } catch (Throwable t) {
      AgentLog.warn("traffic worker shutdown", t);
    }
    try {
      executor.shutdownNow();
      executor.awaitTermination(3, TimeUnit.SECONDS);
    } catch (Throwable t) {
      AgentLog.warn("executor shutdown", t);
    }
    try {
      onStopped.run();
    } catch (Throwable t) {
      AgentLog.warn("after stop", t);
    }
  }

  /** Stream callbacks of one connection attempt; stale ones (older generation) are ignored. */
  private final class Responses implements ClientResponseObserver<AgentMessage, DaemonMessage> {
    private final int gen;

    Responses(int gen) {
      this.gen = gen;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<AgentMessage> requestStream) {}

    @Override
    public void onNext(DaemonMessage value) {
      try {
        onMessage(gen, value);
      } catch (Throwable t) {
        AgentLog.warn("handling a daemon message", t);
      }
    }

    @Override
    public void onError(Throwable t) {
      streamEnded(gen, t);
    }

    @Override
    public void onCompleted() {
      streamEnded(gen, new IllegalStateException("daemon closed the stream"));
    }
  }
}
