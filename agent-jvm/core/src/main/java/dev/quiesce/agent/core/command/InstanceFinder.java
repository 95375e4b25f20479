package dev.quiesce.agent.core.command;

import dev.quiesce.agent.core.jvmti.HeapLookup;
import dev.quiesce.agent.proto.v1.CommandError;
import dev.quiesce.agent.proto.v1.FindInstances;
import dev.quiesce.agent.proto.v1.InstancesFound;
import java.lang.instrument.Instrumentation;
import java.util.ArrayList;
import java.util.List;

/** FindInstances: a class name, resolved in every loader that defines it, then a JVMTI heap walk. */
final class InstanceFinder {
  static final int DEFAULT_LIMIT = 1000;

  private final Instrumentation inst;
  private final String nativePath;

  InstanceFinder(Instrumentation inst, String nativePath) {
    this.inst = inst;
    this.nativePath = nativePath;
  }

  /** The classes of that name in every class loader (the app's, not ours). */
  List<Class<?>> loadedClassesNamed(String name) {
    List<Class<?>> found = new ArrayList<Class<?>>();
    for (Class<?> c : inst.getAllLoadedClasses()) {
      if (!c.isArray() && name.equals(c.getName())) {
        found.add(c);
      }
    }
    return found;
  }

  /** Either an InstancesFound or a CommandError; never throws. */
  Object find(FindInstances request) {
    String name = request.getClassName();
    int limit = request.getLimit() == 0 ? DEFAULT_LIMIT : (int) Math.min(request.getLimit(), Integer.MAX_VALUE - 1L);
    List<Class<?>> classes = loadedClassesNamed(name);
    if (classes.isEmpty()) {
      return error("class_not_found", "no loaded class named " + name);
    }
    String loadError = HeapLookup.ensureLoaded(nativePath);
    if (loadError != null) {
      return error("native_unavailable", loadError);
    }
    long start = System.nanoTime();
    List<String> instanceClasses = new ArrayList<String>();
    try {
      for (Class<?> c : classes) {
        // One more than asked, to know whether the answer is truncated.
        int want = limit + 1 - instanceClasses.size();
        if (want <= 0) {
          break;
        }
        Object[] objects = HeapLookup.instancesOf(c, want);
        for (Object o : objects) {
          if (o != null) {
            instanceClasses.add(o.getClass().getName());
          }
        }
      }
    } catch (Throwable t) {
      return error("lookup_failed", String.valueOf(t.getMessage() == null ? t.toString() : t.getMessage()));
    }
    boolean truncated = instanceClasses.size() > limit;
    if (truncated) {
      instanceClasses = new ArrayList<String>(instanceClasses.subList(0, limit));
    }
    int tagsLeft;
    try {
      tagsLeft = HeapLookup.countTagged();
    } catch (Throwable t) {
      return error("lookup_failed", "countTagged: " + t.getMessage());
    }
    long micros = (System.nanoTime() - start) / 1000L;
    return InstancesFound.newBuilder()
        .setClassName(name)
        .setCount(instanceClasses.size())
        .addAllInstanceClasses(instanceClasses)
        .setTagsLeft(tagsLeft)
        .setDurationMicros(micros)
        .setTruncated(truncated)
        .build();
  }

  static CommandError error(String code, String message) {
    return CommandError.newBuilder().setCode(code).setMessage(message).build();
  }
}
