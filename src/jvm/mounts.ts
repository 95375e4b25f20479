/** The mount that holds a path inside a process's mount namespace, from /proc/<pid>/mountinfo. */
import { readProcText } from './procfs.js';

export interface MountEntry {
  readonly mountPoint: string;
  readonly options: readonly string[];
  readonly fsType: string;
}

/** Octal escapes used by the kernel in mountinfo (space = \040, tab, newline, backslash). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    const mountPoint = parts[4];
    const options = parts[5];
    if (sep < 0 || mountPoint === undefined || options === undefined) continue;
    const superOptions = parts[sep + 3] ?? '';
    out.push({
      mountPoint: unescape(mountPoint),
      options: [...options.split(','), ...superOptions.split(',')],
      fsType: parts[sep + 1] ?? '',
    });
  }
  return out;
}

function contains(mountPoint: string, p: string): boolean {
  if (mountPoint === '/') return true;
  return p === mountPoint || p.startsWith(mountPoint + '/');
}

/** The mount covering `p` (longest mount point; among equals the last, which is on top). */
export function mountFor(entries: readonly MountEntry[], p: string): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of entries) {
    if (contains(m.mountPoint, p) && (best === null || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export async function targetMountFor(pid: number, p: string): Promise<MountEntry | null> {
  const text = await readProcText(pid, 'mountinfo');
  return text === null ? null : mountFor(parseMountinfo(text), p);
}
