package dev.quiesce.agent.core.traffic;

/**
 * The release lines of a framework that an adapter was written and tested against, stated once: what
 * gates the adapter and what its "unsupported" message lists. A line is a version prefix: "2.7" covers
 * 2.7.0, 2.7.23, ...; "5" covers every 5.x.
 */
public final class VersionLines {
  private final String[] lines;

  public VersionLines(String... lines) {
    this.lines = lines.clone();
  }

  /** True when version belongs to one of the lines (null and "" never do). */
  public boolean covers(String version) {
    if (version == null) {
      return false;
    }
    for (String line : lines) {
      if (version.startsWith(line + ".")) {
        return true;
      }
    }
    return false;
  }

  /** "2.6.x, 2.7.x, 3.2.x" for messages. */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    for (String line : lines) {
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append(line).append(".x");
    }
    return b.toString();
  }
}
