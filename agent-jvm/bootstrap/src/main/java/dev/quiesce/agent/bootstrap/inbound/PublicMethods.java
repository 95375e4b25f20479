package dev.quiesce.agent.bootstrap.inbound;

import java.lang.reflect.Method;

/** Finding the framework's methods without linking to it. */
final class PublicMethods {
  private PublicMethods() {}

  /** A public method, made callable even when its class is not public (an inner request facade). */
  static Method find(Class<?> type, String name, Class<?>... params) {
    try {
      Method m = type.getMethod(name, params);
      try {
        m.setAccessible(true);
      } catch (Throwable ignored) {
        // public method of a public class: callable anyway
      }
      return m;
    } catch (Throwable t) {
      return null;
    }
  }
}
