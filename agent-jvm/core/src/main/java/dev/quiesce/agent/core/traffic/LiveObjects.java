package dev.quiesce.agent.core.traffic;

import dev.quiesce.agent.core.jvmti.HeapLookup;
import java.lang.instrument.Instrumentation;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * How adapters reach the application's objects: classes by name in every loader, and live
 * instances through the JVMTI heap walk. A heap walk stops the world, so its answers are cached
 * weakly per class name; {@link #instancesOf} walks again only when asked to refresh.
 */
public final class LiveObjects {
  private final Instrumentation inst;
  private final String nativePath;
  private final Map<String, List<WeakReference<Object>>> cache = new HashMap<String, List<WeakReference<Object>>>();

  public LiveObjects(Instrumentation inst, String nativePath) {
    this.inst = inst;
    this.nativePath = nativePath;
  }

  /** Loaded classes with this name, in any class loader (the application's, not ours). */
  public List<Class<?>> classesNamed(String name) {
    List<Class<?>> found = new ArrayList<Class<?>>();
    for (Class<?> c : inst.getAllLoadedClasses()) {
      if (!c.isArray() && name.equals(c.getName())) {
        found.add(c);
      }
    }
    return found;
  }

  /** The first loaded class with this name, or null. */
  public Class<?> firstClassNamed(String name) {
    List<Class<?>> all = classesNamed(name);
    return all.isEmpty() ? null : all.get(0);
  }

  /**
   * Live instances of the named class and its subclasses (up to limit). Cached: a second call
   * answers from the cache unless {@code refresh} (a stop-the-world heap walk).
   */
  public synchronized List<Object> instancesOf(String className, int limit, boolean refresh) throws Exception {
    List<WeakReference<Object>> refs = refresh ? null : cache.get(className);
    if (refs == null) {
      List<Class<?>> classes = classesNamed(className);
      if (classes.isEmpty()) {
        return Collections.emptyList();
      }
      String loadError = HeapLookup.ensureLoaded(nativePath);
      if (loadError != null) {
        throw new TrafficException("native_unavailable", loadError);
      }
      refs = new ArrayList<WeakReference<Object>>();
      for (Class<?> c : classes) {
        for (Object o : HeapLookup.instancesOf(c, limit)) {
          if (o != null) {
            refs.add(new WeakReference<Object>(o));
          }
        }
      }
      cache.put(className, refs);
    }
    List<Object> live = new ArrayList<Object>();
    for (WeakReference<Object> r : refs) {
      Object o = r.get();
      if (o != null) {
        live.add(o);
      }
    }
    return live;
  }
}
