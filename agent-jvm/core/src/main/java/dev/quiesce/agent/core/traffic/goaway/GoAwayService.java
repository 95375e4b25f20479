package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.core.AgentLog;
import dev.quiesce.agent.core.traffic.TrafficException;
import dev.quiesce.agent.proto.v1.Evict;
import dev.quiesce.agent.proto.v1.EvictReport;
import dev.quiesce.agent.proto.v1.Eviction;
import java.util.ArrayList;
import java.util.List;

/** The Evict command (the consumer side of a GoAway) across every framework's {@link Evictor}. */
public final class GoAwayService {
  private final List<Evictor> evictors;

  public GoAwayService(List<Evictor> evictors) {
    this.evictors = new ArrayList<Evictor>(evictors);
  }

  /** One Eviction per service list that lost the provider; a framework's failure is its Eviction.error. */
  public EvictReport evict(Evict command) throws TrafficException {
    EvictTarget target = EvictTarget.of(command);
    // A release: the provider is back, every evictor gives it back to the lists it dropped it from.
    boolean release = command.getRelease();
    long t0 = System.nanoTime();
    EvictReport.Builder report = EvictReport.newBuilder();
    int count = 0;
    for (Evictor e : evictors) {
      try {
        for (Eviction ev : release ? e.release(target) : e.evict(target)) {
          report.addEvictions(ev);
          count += release ? ev.getReleased() : ev.getRemoved();
        }
      } catch (Throwable t) {
        AgentLog.warn("goaway: " + e.framework() + " could not " + (release ? "release " : "evict ") + target, t);
        String msg = t.getMessage();
        report.addEvictions(Eviction.newBuilder().setFramework(e.framework())
            .setError((release ? "release_failed: " : "evict_failed: ") + t.getClass().getName() + (msg == null ? "" : ": " + msg)));
      }
    }
    long micros = (System.nanoTime() - t0) / 1000;
    if (release) {
      AgentLog.info("goaway: released " + target + " (" + count + " list(s) given it back) in " + micros + " us");
    } else {
      AgentLog.info("goaway: evicted " + target + " (" + count + " instance(s) removed, " + report.getEvictionsCount()
          + " list(s), ttl " + target.ttlMillis() / 1000 + " s) in " + micros + " us");
    }
    return report.build();
  }

  /** Lets every evictor find its framework's objects now (at attach time, on the agent's executor). */
  public void warm() {
    for (Evictor e : evictors) {
      try {
        e.warm();
      } catch (Throwable ignored) {
        // warm never throws; a GoAway finds the objects itself
      }
    }
  }

  /** Agent Stop. */
  public void close() {
    for (Evictor e : evictors) {
      try {
        e.close();
      } catch (Throwable ignored) {
        // close never throws; the others still go on
      }
    }
  }
}
