package dev.quiesce.agent.core.traffic.rocketmq;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.AgentThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Holds one client's {@code lockChannelTables} on a dedicated daemon thread
 * ({@code quiesce-rocketmq-hold-N}): a ReentrantLock must be unlocked by the thread that locked it,
 * and the agent's executor must stay free. Everything done to the client's channel table while held
 * runs on that thread; {@link #release()} unlocks from it and ends it.
 */
final class ChannelHold {
  /** How long to wait for the lock: the client takes it only briefly (creating or closing a channel). */
  static final long LOCK_WAIT_MS = 10_000;
  private static final long TASK_WAIT_MS = 15_000;
  private static final ThreadFactory THREADS = AgentThreads.daemonFactory("rocketmq-hold");
  private static final FutureTask<Object> RELEASE = new FutureTask<Object>(new Callable<Object>() {
    @Override
    public Object call() {
      return null;
    }
  });

  final RemotingClient client;
  final String clientId;
  /** Broker addresses closed while held, in order (what Restore reports back). */
  final List<String> closed = new ArrayList<String>();
  private final BlockingQueue<FutureTask<?>> tasks = new LinkedBlockingQueue<FutureTask<?>>();
  private final CountDownLatch acquired = new CountDownLatch(1);
  private volatile boolean locked;
  private final Thread thread;

  private ChannelHold(RemotingClient client, String clientId) {
    this.client = client;
    this.clientId = clientId;
    this.thread = THREADS.newThread(new Runnable() {
      @Override
      public void run() {
        hold();
      }
    });
  }

  /** Starts the holder thread and waits for the lock; null (thread ended) when it was not had in time. */
  static ChannelHold acquire(RemotingClient client, String clientId) throws InterruptedException {
    ChannelHold h = new ChannelHold(client, clientId);
    h.thread.start();
    if (!h.acquired.await(LOCK_WAIT_MS + 2_000, TimeUnit.MILLISECONDS) || !h.locked) {
      h.release();
      return null;
    }
    return h;
  }

  private void hold() {
    try {
      locked = client.lock.tryLock(LOCK_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (Throwable t) {
      locked = false;
    }
    acquired.countDown();
    if (!locked) {
      return;
    }
    try {
      for (;;) {
        FutureTask<?> task = tasks.take();
        if (task == RELEASE) {
          return;
        }
        task.run();
      }
    } catch (InterruptedException e) {
      // release
    } finally {
      try {
        client.lock.unlock();
      } catch (Throwable t) {
        AgentLog.warn("rocketmq: unlocking the channel table of " + clientId, t);
      }
      locked = false;
    }
  }

  /** Closes the broker channels open now, on the holder thread; returns their addresses. */
  List<String> closeBrokerChannels() throws Exception {
    FutureTask<List<String>> task = new FutureTask<List<String>>(new Callable<List<String>>() {
      @Override
      public List<String> call() throws Exception {
        List<String> done = new ArrayList<String>();
        for (String addr : client.brokerAddresses(false)) {
          if (client.closeBroker(addr)) {
            done.add(addr);
            if (!closed.contains(addr)) {
              closed.add(addr);
            }
          }
        }
        return done;
      }
    });
    tasks.add(task);
    return task.get(TASK_WAIT_MS, TimeUnit.MILLISECONDS);
  }

  boolean alive() {
    return thread.isAlive() && locked;
  }

  /** Unlocks from the holder thread and waits for it to end. Idempotent; never throws. */
  void release() {
    tasks.add(RELEASE);
    try {
      thread.join(TASK_WAIT_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      thread.interrupt();
    }
  }
}
