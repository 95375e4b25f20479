package dev.quiesce.agent.core.reflect;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;

/**
 * Reflection on the application's framework objects (Dubbo, RocketMQ, Netty, Spring Cloud), which the agent
 * cannot link against. Two ways to find a method, because the frameworks differ:
 * <ul>
 *   <li>{@link #call}/{@link #callStatic}: public methods (inherited and interface ones included), matched by
 *       name and by the arguments given; Dubbo overloads little;</li>
 *   <li>{@link #callDeclared}/{@link #method}: any method declared up the superclass chain (private and protected
 *       included), made accessible; interfaces are not searched.</li>
 * </ul>
 * A framework's own exception always comes out unwrapped from InvocationTargetException.
 */
public final class Reflect {
  private Reflect() {}

  /** target.name(args) through the public methods of its class (and their non-public declaring classes). */
  public static Object call(Object target, String name, Object... args) throws Exception {
    return invokePublic(find(target.getClass(), name, args, false), target, args);
  }

  /** The static c.name(args), public methods only. */
  public static Object callStatic(Class<?> c, String name, Object... args) throws Exception {
    return invokePublic(find(c, name, args, true), null, args);
  }

  /** target.name() where name is declared anywhere up target's superclass chain, whatever its access. */
  public static Object callDeclared(Object target, String name) throws Exception {
    return invoke(method(target.getClass(), name), target);
  }

  /** A method declared anywhere up c's superclass chain (private and protected included), made accessible. */
  public static Method method(Class<?> c, String name, Class<?>... params) throws NoSuchMethodException {
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
  public static Method ifaceMethod(Object target, String iface, String name, Class<?>... params) throws Exception {
    Class<?> i = Class.forName(iface, false, target.getClass().getClassLoader());
    return i.getMethod(name, params);
  }

  /** Invokes, unwrapping the framework's own exception from InvocationTargetException. */
  public static Object invoke(Method m, Object target, Object... args) throws Exception {
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

  /** The field declared anywhere up c's superclass chain, made accessible; null when absent. */
  public static Field field(Class<?> c, String name) {
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

  /** A field's value, declared anywhere up target's superclass chain; null when there is no such field. */
  public static Object fieldValue(Object target, String name) throws IllegalAccessException {
    Field f = field(target.getClass(), name);
    return f == null ? null : f.get(target);
  }

  /** The static field c.name (declared by c itself), whatever its access. */
  public static Object staticField(Class<?> c, String name) throws Exception {
    Field f = c.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(null);
  }

  /** The class of that name as the given loader sees it (not initialised), or null. */
  public static Class<?> load(ClassLoader loader, String name) {
    try {
      return Class.forName(name, false, loader);
    } catch (Throwable t) {
      return null;
    }
  }

  /** True when c or one of its superclasses is named name. */
  public static boolean isA(Class<?> c, String name) {
    return superclassNamed(c, name) != null;
  }

  /** The class of that name up c's superclass chain, or null. */
  public static Class<?> superclassNamed(Class<?> c, String name) {
    for (Class<?> k = c; k != null; k = k.getSuperclass()) {
      if (k.getName().equals(name)) {
        return k;
      }
    }
    return null;
  }

  /**
   * "&lt;code&gt;: &lt;full class name&gt;[: message]" for TrafficChange.error, of the cause under any
   * InvocationTargetException.
   */
  public static String describe(String code, Throwable t) {
    Throwable root = t;
    while (root instanceof InvocationTargetException && root.getCause() != null) {
      root = root.getCause();
    }
    String msg = root.getMessage();
    return code + ": " + root.getClass().getName() + (msg == null ? "" : ": " + msg);
  }

  /** "&lt;code&gt;: &lt;simple class name&gt;: message", or the full class name alone when there is no message. */
  public static String describeBrief(String code, Throwable t) {
    String m = t.getMessage();
    return code + ": " + (m == null || m.isEmpty() ? t.getClass().getName() : t.getClass().getSimpleName() + ": " + m);
  }

  private static Method find(Class<?> c, String name, Object[] args, boolean wantStatic) throws NoSuchMethodException {
    for (Method m : c.getMethods()) {
      if (m.getName().equals(name) && Modifier.isStatic(m.getModifiers()) == wantStatic && accepts(m.getParameterTypes(), args)) {
        return m;
      }
    }
    throw new NoSuchMethodException(c.getName() + "." + name + " with " + args.length + " argument(s)");
  }

  private static boolean accepts(Class<?>[] types, Object[] args) {
    if (types.length != args.length) {
      return false;
    }
    for (int i = 0; i < types.length; i++) {
      if (args[i] == null) {
        if (types[i].isPrimitive()) {
          return false;
        }
      } else if (!box(types[i]).isInstance(args[i])) {
        return false;
      }
    }
    return true;
  }

  private static Class<?> box(Class<?> t) {
    if (!t.isPrimitive()) {
      return t;
    }
    if (t == boolean.class) {
      return Boolean.class;
    }
    if (t == int.class) {
      return Integer.class;
    }
    if (t == long.class) {
      return Long.class;
    }
    return Object.class;
  }

  private static Object invokePublic(Method m, Object target, Object[] args) throws Exception {
    if (!Modifier.isPublic(m.getDeclaringClass().getModifiers())) {
      // e.g. a public method of a package-private Dubbo class: the JVM checks the class too.
      m.setAccessible(true);
    }
    return invoke(m, target, args);
  }
}
