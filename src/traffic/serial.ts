/**
 * One traffic operation per JVM at a time: a hold pass never races a restore or an /online, so a
 * registration put back is never taken out again by a pass that read the journal just before.
 */
export class PerJvmSerial {
  private readonly tails = new Map<number, Promise<unknown>>();

  run<T>(pid: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(pid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.tails.set(pid, settled);
    void settled.then(() => {
      if (this.tails.get(pid) === settled) this.tails.delete(pid);
    });
    return next;
  }
}
