package dev.quiesce.agent.core.traffic.dubbo;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;

/**
 * Reflective calls on the application's Dubbo objects. Methods are matched by name and by the
 * arguments given (Dubbo overloads little); a framework exception comes out unwrapped.
 */
final class Reflect {
  private Reflect() {}

  /** target.name(args) through the public methods of its class (and their non-public declaring classes). */
  static Object call(Object target, String name, Object... args) throws Exception {
    return invoke(find(target.getClass(), name, args, false), target, args);
  }

  /** The static c.name(args). */
  static Object callStatic(Class<?> c, String name, Object... args) throws Exception {
    return invoke(find(c, name, args, true), null, args);
  }

  /** The static field c.name, whatever its access. */
  static Object staticField(Class<?> c, String name) throws Exception {
    Field f = c.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(null);
  }

  /** The class of that name as the given loader sees it (not initialised), or null. */
  static Class<?> load(ClassLoader loader, String name) {
    try {
      return Class.forName(name, false, loader);
    } catch (Throwable t) {
      return null;
    }
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

  private static Object invoke(Method m, Object target, Object[] args) throws Exception {
    if (!Modifier.isPublic(m.getDeclaringClass().getModifiers())) {
      // e.g. a public method of a package-private Dubbo class: the JVM checks the class too.
      m.setAccessible(true);
    }
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
}
