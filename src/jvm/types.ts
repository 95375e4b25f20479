/** What discovery knows about one JVM on this host. Paths "in target" are as the JVM sees them. */
export type JvmVm = 'hotspot' | 'openj9';

export type MainKind = 'class' | 'jar' | 'module' | 'source';

export interface JvmProcess {
  /** Pid in the host's (the daemon's) pid namespace. */
  readonly pid: number;
  /** Pid inside the JVM's own pid namespace (last value of `NSpid:`); equals `pid` outside containers. */
  readonly nspid: number;
  /** Effective uid / gid (second field of `Uid:` / `Gid:`). */
  readonly uid: number;
  readonly gid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): pid + startTime identify a process. */
  readonly startTime: number;
  readonly vm: JvmVm;
  /** `JAVA_VERSION` from the JDK's release file, e.g. "1.8.0_392", "17.0.15", "25.0.3"; null if unknown. */
  readonly jdkVersion: string | null;
  /** Feature release: 8, 11, 17, 21, 25…; null if unknown. */
  readonly jdkFeature: number | null;
  /** `IMPLEMENTOR` from the release file (e.g. "Eclipse Adoptium"); null if unknown. */
  readonly vendor: string | null;
  /** Java home in the target's filesystem; null if not found. */
  readonly javaHome: string | null;
  /** Main class, jar path, module[/class] or source file from the command line; null if not found. */
  readonly main: string | null;
  readonly mainKind: MainKind | null;
  /** 64-hex container id from /proc/<pid>/cgroup (docker, containerd, cri-o, kubepods); null on the host. */
  readonly containerId: string | null;
  /** True when the JVM lives in another mount namespace than the daemon. */
  readonly foreignMountNs: boolean;
  readonly supported: boolean;
  readonly unsupportedReason: string | null;
  /** -XX:+DisableAttachMechanism (command line or JAVA_TOOL_OPTIONS / JDK_JAVA_OPTIONS / _JAVA_OPTIONS, last wins). */
  readonly attachDisabled: boolean;
  /** -XX:-EnableDynamicAgentLoading, found the same way. */
  readonly dynamicAgentsDisabled: boolean;
  /** The raw command line. */
  readonly cmdline: readonly string[];
}
