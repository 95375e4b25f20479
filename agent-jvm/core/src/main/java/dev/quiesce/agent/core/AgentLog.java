package dev.quiesce.agent.core;

import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The agent's only output: a file. Nothing ever goes to System.out / System.err, which belong to the
 * application. The shaded grpc / netty java.util.logging loggers (all under {@code dev.quiesce.shaded})
 * are cut from the root console handler and written here instead.
 */
public final class AgentLog {
  /** Parent of every relocated dependency's logger (see the shade relocations in core/pom.xml). */
  static final String SHADED_LOGGER = "dev.quiesce.shaded";

  private static final Object LOCK = new Object();
  private static PrintWriter out;
  /** Strong reference: JUL holds loggers weakly, and a collected logger forgets its configuration. */
  private static Logger shadedLogger;
  private static Handler julHandler;
  /** netty warns "Unknown channel option 'SO_KEEPALIVE'" on every unix-socket dial (grpc sets it). */
  private static Logger bootstrapLogger;

  private AgentLog() {}

  /** Opens the log file (append) and captures the shaded loggers. Never throws. */
  static void open(String path) {
    synchronized (LOCK) {
      try {
        if (out == null && path != null) {
          out = new PrintWriter(new OutputStreamWriter(new FileOutputStream(path, true), "UTF-8"), true);
        }
      } catch (Throwable t) {
        out = null;
      }
      try {
        shadedLogger = Logger.getLogger(SHADED_LOGGER);
        shadedLogger.setUseParentHandlers(false);
        shadedLogger.setLevel(Level.INFO);
        julHandler = new FileHandlerBridge();
        shadedLogger.addHandler(julHandler);
        bootstrapLogger = Logger.getLogger(SHADED_LOGGER + ".io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap");
        bootstrapLogger.setLevel(Level.SEVERE);
      } catch (Throwable ignored) {
        // logging is best effort
      }
    }
  }

  /** Detaches from JUL and closes the file, so nothing keeps the agent's class loader alive. */
  static void close() {
    synchronized (LOCK) {
      try {
        if (shadedLogger != null && julHandler != null) {
          shadedLogger.removeHandler(julHandler);
        }
      } catch (Throwable ignored) {
        // best effort
      }
      julHandler = null;
      shadedLogger = null;
      bootstrapLogger = null;
      if (out != null) {
        out.close();
        out = null;
      }
    }
  }

  public static void info(String message) {
    write("INFO", message, null);
  }

  public static void warn(String message, Throwable t) {
    write("WARN", message, t);
  }

  static void write(String level, String message, Throwable t) {
    synchronized (LOCK) {
      if (out == null) {
        return;
      }
      try {
        String ts = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ").format(new Date());
        out.println(ts + " " + level + " [" + Thread.currentThread().getName() + "] " + message);
        if (t != null) {
          t.printStackTrace(out);
        }
        out.flush();
      } catch (Throwable ignored) {
        // dropped
      }
    }
  }

  /** java.util.logging records of the shaded libraries, into the agent's file. */
  private static final class FileHandlerBridge extends Handler {
    @Override
    public void publish(LogRecord record) {
      if (record == null || !isLoggable(record)) {
        return;
      }
      String msg = record.getMessage();
      try {
        if (record.getParameters() != null && msg != null) {
          msg = java.text.MessageFormat.format(msg, record.getParameters());
        }
      } catch (Throwable ignored) {
        // keep the raw message
      }
      write(record.getLevel().getName(), record.getLoggerName() + ": " + msg, record.getThrown());
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
