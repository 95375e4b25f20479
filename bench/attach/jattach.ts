/**
 * The reference: Debian's jattach (https://github.com/jattach/jattach), run as a process.
 *
 * Spawning from this Node process costs 10–40 ms by itself (fork of a large process on this kind of
 * VM), which would swamp a warm load. So jattach is run from a small bash that reads
 * $EPOCHREALTIME (bash 5, microseconds) before and after it: the fork+exec+run of jattach from a
 * shell, the way it is normally used. That is the figure the ratios use; the Node-side wall time
 * is kept too.
 */
import { spawn, spawnSync } from 'node:child_process';
import { interpretLoadReply } from '../../src/jvm/attach/index.js';
import { SetupError } from './paths.js';

export const JATTACH_INSTALL_HINT =
  'jattach is not on PATH; install it with `apt-get install -y jattach` (Debian/Ubuntu), then run the bench again';

/** The path and version banner of jattach; throws with the install hint when missing. */
export function checkJattach(): { path: string; version: string } {
  const which = spawnSync('sh', ['-c', 'command -v jattach'], { encoding: 'utf8' });
  const p = which.stdout.trim();
  if (which.status !== 0 || p === '') throw new SetupError(JATTACH_INSTALL_HINT);
  if (spawnSync('bash', ['-c', '[ -n "$EPOCHREALTIME" ]']).status !== 0)
    throw new SetupError('bash 5 is needed to time jattach ($EPOCHREALTIME)');
  // Without arguments jattach prints its usage, whose first line is "jattach <version> built on …".
  const usage = spawnSync(p, [], { encoding: 'utf8' });
  const version = `${usage.stdout}${usage.stderr}`.split('\n').find((l) => l.startsWith('jattach')) ?? 'jattach (version unknown)';
  return { path: p, version: version.trim() };
}

export interface Timed {
  /** fork+exec+run as timed by bash. */
  readonly ms: number;
  /** From Node's spawn to the child's exit. */
  readonly nodeMs: number;
  readonly stdout: string;
  readonly code: number | null;
}

// The times go to fd 3 so that they never mix with the command's own output.
const TIMED = 's=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME; echo "BENCH_ELAPSED $s $e" >&3; exit $rc';

/** Runs `argv` from bash, timed by bash. */
export function timed(argv: readonly string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('bash', ['-c', TIMED, 'bash', ...argv], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let times = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (times += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const nodeMs = Number(process.hrtime.bigint() - started) / 1e6;
      const m = /BENCH_ELAPSED (\d+)[.,](\d{6}) (\d+)[.,](\d{6})/.exec(times);
      if (!m?.[1] || !m[2] || !m[3] || !m[4]) {
        reject(new Error(`no timing from bash for ${argv.join(' ')} (exit ${code}): ${err.trim()}`));
        return;
      }
      const micros = (Number(m[3]) - Number(m[1])) * 1e6 + Number(m[4]) - Number(m[2]);
      resolve({ ms: micros / 1000, nodeMs, stdout: out + err, code });
    });
  });
}

/**
 * `jattach <pid> load instrument false <arg>`: jattach enters the target's namespaces itself and
 * takes the host pid. Rejects unless the JVM answered 0 and the agent's return code is 0
 * (jattach 2.1 prints "JVM response code = <status>" and then the reply body).
 */
export async function jattachLoad(bin: string, pid: number, arg: string): Promise<Timed> {
  const t = await timed([bin, String(pid), 'load', 'instrument', 'false', arg]);
  const m = /JVM response code = (-?\d+)\n([\s\S]*)$/.exec(t.stdout);
  const outcome = m?.[1] !== undefined ? interpretLoadReply(Number(m[1]), m[2] ?? '') : null;
  if (t.code !== 0 || outcome === null || !outcome.ok) {
    throw new Error(`jattach ${pid} load failed (exit ${t.code}): ${t.stdout.trim()}`);
  }
  return t;
}
