package dev.quiesce.agent.core.traffic;

import dev.quiesce.agent.proto.v1.FrameworkInventory;
import dev.quiesce.agent.proto.v1.InventoryReport;
import dev.quiesce.agent.proto.v1.TrafficChange;
import dev.quiesce.agent.proto.v1.TrafficReport;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Inventory / Isolate / Restore across the adapters, choosing the kinds a request names. */
public final class TrafficService {
  private final Map<String, TrafficAdapter> adapters = new LinkedHashMap<String, TrafficAdapter>();

  public TrafficService(List<TrafficAdapter> adapters) {
    for (TrafficAdapter a : adapters) {
      this.adapters.put(a.traffic(), a);
    }
  }

  public InventoryReport inventory() throws Exception {
    InventoryReport.Builder report = InventoryReport.newBuilder();
    for (TrafficAdapter a : adapters.values()) {
      report.addAllFrameworks(a.inventory());
    }
    return report.build();
  }

  public TrafficReport isolate(List<String> traffic) throws Exception {
    List<TrafficAdapter> chosen = choose(traffic, false);
    TrafficReport.Builder report = TrafficReport.newBuilder();
    for (TrafficAdapter a : chosen) {
      report.addAllChanges(a.isolate());
    }
    return report.build();
  }

  public TrafficReport restore(List<String> traffic) throws Exception {
    List<TrafficAdapter> chosen = choose(traffic, true);
    TrafficReport.Builder report = TrafficReport.newBuilder();
    for (TrafficAdapter a : chosen) {
      List<TrafficChange> changes = a.restore();
      report.addAllChanges(changes);
    }
    return report.build();
  }

  /** Agent Stop: every adapter releases what must not outlive the agent (held locks, threads). */
  public void close() {
    for (TrafficAdapter a : adapters.values()) {
      try {
        a.close();
      } catch (Throwable ignored) {
        // close never throws; the others still go on
      }
    }
  }

  /**
   * The adapters a request names; empty names every kind present (for restore: every kind
   * isolated). A named kind absent from the JVM is no_framework; a kind whose every framework is
   * of an unknown version is unsupported_version.
   */
  private List<TrafficAdapter> choose(List<String> traffic, boolean forRestore) throws Exception {
    List<TrafficAdapter> chosen = new ArrayList<TrafficAdapter>();
    if (traffic.isEmpty()) {
      List<String> unsupported = new ArrayList<String>();
      for (TrafficAdapter a : adapters.values()) {
        if (forRestore) {
          if (a.isolated()) {
            chosen.add(a);
          }
          continue;
        }
        String verdict = presence(a);
        if (verdict == null) {
          chosen.add(a);
        } else if (!verdict.isEmpty()) {
          unsupported.add(verdict);
        }
      }
      if (chosen.isEmpty() && !forRestore) {
        if (!unsupported.isEmpty()) {
          throw new TrafficException("unsupported_version", join(unsupported));
        }
        throw new TrafficException("no_framework",
            "no service framework found in this JVM (looked for " + join(new ArrayList<String>(adapters.keySet())) + ")");
      }
      return chosen;
    }
    for (String kind : traffic) {
      TrafficAdapter a = adapters.get(kind);
      if (a == null) {
        throw new TrafficException("unknown_traffic", "traffic kind \"" + kind + "\" is not one of " + adapters.keySet());
      }
      if (!forRestore) {
        String verdict = presence(a);
        if (verdict != null && verdict.isEmpty()) {
          throw new TrafficException("no_framework", "no " + kind + " framework found in this JVM");
        }
        if (verdict != null) {
          throw new TrafficException("unsupported_version", verdict);
        }
      }
      chosen.add(a);
    }
    return chosen;
  }

  /** null: present and supported; "": absent; otherwise why every framework found is unsupported. */
  private static String presence(TrafficAdapter a) throws Exception {
    List<FrameworkInventory> found = a.inventory();
    if (found.isEmpty()) {
      return "";
    }
    List<String> why = new ArrayList<String>();
    for (FrameworkInventory f : found) {
      if (f.getSupported()) {
        return null;
      }
      why.add(f.getFramework() + " " + f.getVersion() + ": " + f.getUnsupportedReason());
    }
    return join(why);
  }

  private static String join(List<String> parts) {
    StringBuilder sb = new StringBuilder();
    for (String p : parts) {
      if (sb.length() > 0) {
        sb.append("; ");
      }
      sb.append(p);
    }
    return sb.toString();
  }
}
