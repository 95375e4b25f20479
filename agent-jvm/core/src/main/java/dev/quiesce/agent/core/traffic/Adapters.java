package dev.quiesce.agent.core.traffic;

import dev.quiesce.agent.core.traffic.dubbo.DubboAdapter;
import dev.quiesce.agent.core.traffic.rocketmq.RocketMqAdapter;
import dev.quiesce.agent.core.traffic.springcloud.SpringCloudAdapter;
import java.util.ArrayList;
import java.util.List;

/** Every traffic adapter the agent has, in the order Isolate applies them. */
public final class Adapters {
  private Adapters() {}

  public static List<TrafficAdapter> all(LiveObjects live) {
    List<TrafficAdapter> all = new ArrayList<TrafficAdapter>();
    all.add(new DubboAdapter(live));
    all.add(new SpringCloudAdapter(live));
    all.add(new RocketMqAdapter(live));
    return all;
  }
}
