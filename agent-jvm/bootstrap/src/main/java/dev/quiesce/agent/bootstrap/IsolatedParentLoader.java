package dev.quiesce.agent.bootstrap;

/**
 * Parent of the agent's class loader: the JDK's classes (bootstrap or platform loader), never the
 * application's, and without {@code sun.misc.Unsafe}.
 *
 * <p>Why hide Unsafe: JDK 24+ (JEP 498) prints "WARNING: A terminally deprecated method in
 * sun.misc.Unsafe has been called" on the application's stderr the first time anything calls an
 * Unsafe memory-access method. The agent's shaded protobuf (UnsafeUtil), netty (PlatformDependent0)
 * and guava (AbstractFuture) all would, and all of them fall back to plain Java when the class cannot
 * be loaded (they catch the NoClassDefFoundError, for Google App Engine and OSGi). The application's
 * own loaders are not affected.
 */
final class IsolatedParentLoader extends ClassLoader {
  IsolatedParentLoader(ClassLoader jdkLoader) {
    super(jdkLoader);
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    if (name.equals("sun.misc.Unsafe")) {
      throw new ClassNotFoundException(name + " is hidden from the quiesce agent");
    }
    return super.loadClass(name, resolve);
  }
}
