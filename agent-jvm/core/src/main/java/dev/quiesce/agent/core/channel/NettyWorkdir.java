package dev.quiesce.agent.core.channel;

import dev.quiesce.agent.core.AgentLog;
import java.io.File;

/**
 * Where netty unpacks its epoll library before loading it. By default java.io.tmpdir, which is often
 * noexec in containers; the directory the daemon put the agent's files in is known to be loadable
 * (libquiesce_jvmti.so is loaded from it), so it is preferred when writable. The property is the
 * relocated netty's own (shade rewrote "io.netty.native.workdir"): the application's netty never reads it.
 */
final class NettyWorkdir {
  static final String PROPERTY = "dev.quiesce.shaded.io.grpc.netty.shaded.io.netty.native.workdir";

  private NettyWorkdir() {}

  /** Sets the property to the directory of {@code nativePath} if it is a writable directory. */
  static void configure(String nativePath) {
    try {
      if (System.getProperty(PROPERTY) != null || nativePath == null || nativePath.isEmpty()) {
        return;
      }
      File dir = new File(nativePath).getAbsoluteFile().getParentFile();
      if (dir != null && dir.isDirectory() && dir.canWrite()) {
        System.setProperty(PROPERTY, dir.getPath());
        AgentLog.info("netty native workdir: " + dir);
      }
    } catch (Throwable t) {
      AgentLog.warn("netty native workdir left at its default", t);
    }
  }
}
