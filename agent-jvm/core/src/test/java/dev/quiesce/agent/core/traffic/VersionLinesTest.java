package dev.quiesce.agent.core.traffic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VersionLinesTest {
  @Test
  void coversWholeLinesOnly() {
    VersionLines lines = new VersionLines("2.7", "5");
    assertTrue(lines.covers("2.7.0"));
    assertTrue(lines.covers("2.7.23"));
    assertTrue(lines.covers("5.3.3"));
    assertFalse(lines.covers("2.70.1"));
    assertFalse(lines.covers("2.7"));
    assertFalse(lines.covers("52.0"));
    assertFalse(lines.covers(""));
    assertFalse(lines.covers(null));
    assertEquals("2.7.x, 5.x", lines.toString());
  }
}
