package dev.quiesce.agent.core.traffic.rocketmq;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/** Reflection on RocketMQ's and Netty's objects in the application's class loader. */
final class Reflect {
  private Reflect() {}

  /** A method declared anywhere up c's hierarchy (private and protected included), made accessible. */
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

  /** A public method of a public interface, looked up by name in target's own class loader. */
  static Method ifaceMethod(Object target, String iface, String name, Class<?>... params) throws Exception {
    Class<?> i = Class.forName(iface, false, target.getClass().getClassLoader());
    return i.getMethod(name, params);
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

  /** The field declared anywhere up c's hierarchy, made accessible; null when absent. */
  static Field field(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      try {
        Field f = k.getDeclaredField(name);
        f.setAccessible(true);
        return f;
      } catch (NoSuchFieldException e) {
        // next superclass
      }
    }
    return null;
  }

  /** A field's value; null when there is no such field. */
  static Object get(Object target, String name) throws IllegalAccessException {
    Field f = field(target.getClass(), name);
    return f == null ? null : f.get(target);
  }

  /** "<code>: <message>" for TrafficChange.error, naming the exception when it has no message. */
  static String describe(String code, Throwable t) {
    String m = t.getMessage();
    return code + ": " + (m == null || m.isEmpty() ? t.getClass().getName() : t.getClass().getSimpleName() + ": " + m);
  }
}
