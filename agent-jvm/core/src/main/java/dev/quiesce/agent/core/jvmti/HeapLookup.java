package dev.quiesce.agent.core.jvmti;

import dev.quiesce.agent.core.AgentLog;
import java.io.File;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;

/**
 * The JNI face of libquiesce_jvmti.so (native/jvmti/). Its natives throw IllegalStateException
 * carrying the JVMTI error number when a JVMTI call fails.
 */
public final class HeapLookup {
  private static final Object LOCK = new Object();
  /** null: not tried yet; "" : loaded; otherwise why it could not be loaded. */
  private static String loadError;

  private HeapLookup() {}

  /**
   * Live instances of {@code klass} and of its subclasses, at most {@code limit} of them. Every tag
   * the lookup set is cleared before it returns. A stop-the-world heap walk.
   */
  public static native Object[] instancesOf(Class<?> klass, int limit);

  /** How many objects still carry the lookup's tag (0 unless a lookup failed half-way). */
  public static native int countTagged();

  /**
   * Loads the library once. Returns null when it is loaded, else the reason it is not.
   * Never throws.
   */
  public static String ensureLoaded(String path) {
    synchronized (LOCK) {
      if (loadError == null) {
        loadError = load(path);
        if (loadError.isEmpty()) {
          AgentLog.info("native library loaded from " + path);
        } else {
          AgentLog.warn("native library not loaded: " + loadError, null);
        }
      }
      return loadError.isEmpty() ? null : loadError;
    }
  }

  private static String load(String path) {
    if (path == null || path.isEmpty()) {
      return "no native library path";
    }
    try {
      System.load(new File(path).getAbsolutePath());
      return "";
    } catch (UnsatisfiedLinkError e) {
      // A previous agent's class loader that was not collected yet still owns this path
      // ("already loaded in another classloader"): load a private copy instead.
      if (e.getMessage() != null && e.getMessage().contains("another classloader")) {
        return loadCopy(path);
      }
      return String.valueOf(e.getMessage());
    } catch (Throwable t) {
      return t.toString();
    }
  }

  /** Beside the original first (the daemon's directory in the target), else java.io.tmpdir. */
  private static String loadCopy(String path) {
    String first = loadCopy(path, new File(path).getAbsoluteFile().getParentFile());
    if (first.isEmpty()) {
      return first;
    }
    String second = loadCopy(path, null);
    return second.isEmpty() ? second : first + "; " + second;
  }

  private static String loadCopy(String path, File dir) {
    File copy = null;
    try {
      copy = File.createTempFile("libquiesce_jvmti-", ".so", dir);
      InputStream in = new java.io.FileInputStream(path);
      try {
        Files.copy(in, copy.toPath(), StandardCopyOption.REPLACE_EXISTING);
      } finally {
        in.close();
      }
      System.load(copy.getAbsolutePath());
      AgentLog.info("native library " + path + " still held by a previous agent's loader: loaded a copy");
      return "";
    } catch (Throwable t) {
      return "copy of " + path + ": " + t;
    } finally {
      if (copy != null) {
        // Linux: the mapping stays valid once dlopen'ed.
        copy.delete();
      }
    }
  }

}
