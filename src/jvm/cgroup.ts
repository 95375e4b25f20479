/** Container id from /proc/<pid>/cgroup. */

/**
 * Matches the 64-hex id docker (`/docker/<id>`, `docker-<id>.scope`), containerd
 * (`cri-containerd-<id>.scope`), cri-o (`crio-<id>.scope`) and kubepods paths put in the cgroup path.
 * The last id of the path wins (the innermost cgroup); the pod uid (`pod<uuid>`) never matches.
 */
export function containerIdFromCgroup(text: string): string | null {
  let found: string | null = null;
  for (const line of text.split('\n')) {
    const cgPath = line.split(':').slice(2).join(':');
    for (const m of cgPath.matchAll(/(?:^|[/\-_.:])([0-9a-f]{64})(?=$|[/.])/g)) {
      if (m[1] !== undefined) found = m[1];
    }
  }
  return found;
}
