import type { Db } from './db.js';

export type ConsumerSource = 'tcp' | 'agent';

export interface ConsumerSighting {
  pid: number;
  startTime: number;
  address: string;
  localPort: number;
  /** The provider's address on that connection. */
  localAddress?: string | null;
  source: ConsumerSource;
  consumerNode?: string | null;
  seenAt: number;
}

export interface ConsumerRecord {
  pid: number;
  startTime: number;
  address: string;
  localPort: number;
  localAddress: string | null;
  sources: ConsumerSource[];
  consumerNode: string | null;
  firstSeen: number;
  lastSeen: number;
}

interface Row {
  pid: number;
  start_time: number;
  address: string;
  local_port: number;
  local_address: string | null;
  sources: string;
  consumer_node: string | null;
  first_seen: number;
  last_seen: number;
}

/** Recent consumers per provider JVM, written in batches. */
export class ConsumerStore {
  constructor(private readonly db: Db) {}

  /** Records sightings in one transaction: first_seen stays, last_seen moves, sources accumulate. */
  record(sightings: readonly ConsumerSighting[]): void {
    if (sightings.length === 0) return;
    const get = this.db.prepare(`SELECT sources FROM consumers WHERE pid = ? AND start_time = ? AND address = ? AND local_port = ?`);
    const upsert = this.db.prepare(
      `INSERT INTO consumers (pid, start_time, address, local_port, local_address, sources, consumer_node, first_seen, last_seen)
       VALUES (@pid, @startTime, @address, @localPort, @localAddress, @sources, @consumerNode, @seenAt, @seenAt)
       ON CONFLICT (pid, start_time, address, local_port) DO UPDATE SET
         sources = excluded.sources,
         local_address = COALESCE(excluded.local_address, consumers.local_address),
         consumer_node = COALESCE(excluded.consumer_node, consumers.consumer_node),
         last_seen = MAX(consumers.last_seen, excluded.last_seen)`,
    );
    this.db.transaction(() => {
      for (const s of sightings) {
        const prev = get.get(s.pid, s.startTime, s.address, s.localPort) as { sources: string } | undefined;
        const sources = new Set((prev?.sources ?? '').split(',').filter(Boolean));
        sources.add(s.source);
        upsert.run({
          pid: s.pid,
          startTime: s.startTime,
          address: s.address,
          localPort: s.localPort,
          localAddress: s.localAddress ?? null,
          sources: [...sources].sort().join(','),
          consumerNode: s.consumerNode ?? null,
          seenAt: s.seenAt,
        });
      }
    })();
  }

  /** The JVM's consumers seen since `since`, most recent first. */
  list(pid: number, startTime: number, since = 0): ConsumerRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM consumers WHERE pid = ? AND start_time = ? AND last_seen >= ? ORDER BY last_seen DESC, address`)
      .all(pid, startTime, since) as Row[];
    return rows.map(fromRow);
  }

  /** Drops sightings older than `before`, and the oldest beyond `maxPerJvm` per JVM. Returns rows removed. */
  expire(before: number, maxPerJvm: number): number {
    let n = this.db.prepare(`DELETE FROM consumers WHERE last_seen < ?`).run(before).changes;
    const over = this.db
      .prepare(`SELECT pid, start_time, COUNT(*) AS c FROM consumers GROUP BY pid, start_time HAVING c > ?`)
      .all(maxPerJvm) as Array<{ pid: number; start_time: number; c: number }>;
    for (const o of over) {
      n += this.db
        .prepare(
          `DELETE FROM consumers WHERE rowid IN
             (SELECT rowid FROM consumers WHERE pid = ? AND start_time = ? ORDER BY last_seen ASC LIMIT ?)`,
        )
        .run(o.pid, o.start_time, o.c - maxPerJvm).changes;
    }
    return n;
  }

  count(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS c FROM consumers`).get() as { c: number }).c;
  }
}

function fromRow(r: Row): ConsumerRecord {
  return {
    pid: r.pid,
    startTime: r.start_time,
    address: r.address,
    localPort: r.local_port,
    localAddress: r.local_address,
    sources: r.sources.split(',') as ConsumerSource[],
    consumerNode: r.consumer_node,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  };
}
