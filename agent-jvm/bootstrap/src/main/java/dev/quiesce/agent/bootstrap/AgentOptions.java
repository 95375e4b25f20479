package dev.quiesce.agent.bootstrap;

import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;

/** Agent options ({@code key=value,key=value}) and the bootstrap's last-resort log. */
final class AgentOptions {
  static final String CORE_JAR = "quiesce-agent-core.jar";
  static final String NATIVE_LIB = "libquiesce_jvmti.so";
  static final String LOG_FILE = "quiesce-agent.log";

  private AgentOptions() {}

  /**
   * Parses {@code socket=/run/q.sock,core=/x/core.jar,native=/x/lib.so,log=/x/a.log} and fills
   * {@code core}, {@code native} and {@code log} with files beside {@code agentJar} when absent.
   * Unknown keys are kept (the core may use them); empty pairs are skipped.
   */
  static Map<String, String> parse(String args, File agentJar) {
    Map<String, String> options = new LinkedHashMap<String, String>();
    if (args != null) {
      for (String pair : args.split(",")) {
        int eq = pair.indexOf('=');
        if (eq <= 0) {
          continue;
        }
        options.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
      }
    }
    File dir = agentJar == null ? null : agentJar.getParentFile();
    defaultBeside(options, "core", dir, CORE_JAR);
    defaultBeside(options, "native", dir, NATIVE_LIB);
    defaultBeside(options, "log", dir, LOG_FILE);
    if (agentJar != null) {
      options.put("bootstrapJar", agentJar.getAbsolutePath());
    }
    return options;
  }

  private static void defaultBeside(Map<String, String> options, String key, File dir, String name) {
    String value = options.get(key);
    if ((value == null || value.isEmpty()) && dir != null) {
      options.put(key, new File(dir, name).getAbsolutePath());
    }
  }

  /** Appends one line (and a stack trace) to the log file; never throws, never prints. */
  static void logQuietly(String logPath, String message, Throwable t) {
    if (logPath == null) {
      File jar = AgentBootstrap.agentJar();
      if (jar == null || jar.getParentFile() == null) {
        return;
      }
      logPath = new File(jar.getParentFile(), LOG_FILE).getAbsolutePath();
    }
    Writer w = null;
    try {
      w = new OutputStreamWriter(new FileOutputStream(logPath, true), "UTF-8");
      PrintWriter out = new PrintWriter(w);
      String ts = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ").format(new Date());
      out.println(ts + " [bootstrap] " + message);
      if (t != null) {
        t.printStackTrace(out);
      }
      out.flush();
    } catch (Throwable ignored) {
      // the application comes first: a log we cannot write is dropped
    } finally {
      if (w != null) {
        try {
          w.close();
        } catch (Throwable ignored) {
          // dropped
        }
      }
    }
  }
}
