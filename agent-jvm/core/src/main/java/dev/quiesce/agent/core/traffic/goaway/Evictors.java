package dev.quiesce.agent.core.traffic.goaway;

import dev.quiesce.agent.core.traffic.LiveObjects;
import dev.quiesce.agent.core.traffic.dubbo.DubboEvictor;
import dev.quiesce.agent.core.traffic.springcloud.LoadBalancerEvictor;
import dev.quiesce.agent.core.traffic.springcloud.RibbonEvictor;
import java.util.ArrayList;
import java.util.List;

/** Every evictor the agent has; Evict runs them in this order. Add a framework's evictor here. */
public final class Evictors {
  private Evictors() {}

  public static List<Evictor> all(LiveObjects live) {
    List<Evictor> all = new ArrayList<Evictor>();
    all.add(new LoadBalancerEvictor(live));
    all.add(new RibbonEvictor(live));
    all.add(new DubboEvictor(live));
    return all;
  }
}
