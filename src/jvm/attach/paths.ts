/**
 * Where the attach files of a JVM are, seen from the host. HotSpot on Linux uses the
 * hard-coded /tmp (os::get_temp_directory), not java.io.tmpdir, and names the files after the
 * pid inside the JVM's own pid namespace.
 */
import { procPath } from '../procfs.js';
import type { JvmProcess } from '../types.js';

type Target = Pick<JvmProcess, 'pid' | 'nspid'>;

/** The listener's socket `/tmp/.java_pid<nspid>` through /proc/<pid>/root. */
export function socketHostPath(jvm: Target): string {
  return procPath(jvm.pid, 'root', 'tmp', `.java_pid${jvm.nspid}`);
}

/** The target's /tmp seen from the host. */
export function tmpHostPath(jvm: Target): string {
  return procPath(jvm.pid, 'root', 'tmp');
}

/**
 * Trigger file candidates in the order the JDK's own client tries them: the JVM's cwd, then /tmp.
 * (JDK 8–25 AttachListener::is_init_trigger checks both.)
 */
export function triggerHostPaths(jvm: Target): string[] {
  const name = `.attach_pid${jvm.nspid}`;
  return [procPath(jvm.pid, 'cwd', name), procPath(jvm.pid, 'root', 'tmp', name)];
}
