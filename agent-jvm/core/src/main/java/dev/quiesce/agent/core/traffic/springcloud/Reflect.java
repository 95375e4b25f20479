package dev.quiesce.agent.core.traffic.springcloud;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/** Reflection on the application's objects: protected and private members included. */
final class Reflect {
  private Reflect() {}

  /** The most specific no-argument method of that name, declared anywhere up the hierarchy. */
  static Method method(Class<?> c, String name, Class<?>... params) throws NoSuchMethodException {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      try {
        Method m = k.getDeclaredMethod(name, params);
        m.setAccessible(true);
        return m;
      } catch (NoSuchMethodException e) {
        // next superclass
      }
    }
    throw new NoSuchMethodException(c.getName() + "." + name);
  }

  static Object call(Object target, String name) throws Exception {
    return invoke(method(target.getClass(), name), target);
  }

  /** Invokes, unwrapping the framework's own exception from InvocationTargetException. */
  static Object invoke(Method m, Object target, Object... args) throws Exception {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception) {
        throw (Exception) cause;
      }
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw e;
    }
  }

  /** A field's value, declared anywhere up the hierarchy; null when there is no such field. */
  static Object field(Object target, String name) throws IllegalAccessException {
    for (Class<?> k = target.getClass(); k != null; k = k.getSuperclass()) {
      try {
        Field f = k.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
      } catch (NoSuchFieldException e) {
        // next superclass
      }
    }
    return null;
  }

  /** True when c or one of its superclasses is named name. */
  static boolean isA(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      if (k.getName().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** The class of that name up c's hierarchy, or null. */
  static Class<?> superclassNamed(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      if (k.getName().equals(name)) {
        return k;
      }
    }
    return null;
  }

  /** "<code>: <message>" for TrafficChange.error, naming the exception when it has no message. */
  static String describe(String code, Throwable t) {
    Throwable root = t;
    while (root instanceof InvocationTargetException && root.getCause() != null) {
      root = root.getCause();
    }
    String msg = root.getMessage();
    return code + ": " + root.getClass().getName() + (msg == null ? "" : ": " + msg);
  }
}
