/** The JVM flags every Dubbo fixture runs with, in the tests and the benchmarks alike; only the heap differs. */
export function dubboJvmFlags(heap: string): string[] {
  return [
    `-Xmx${heap}`,
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Xshare:auto',
    '-Djava.net.preferIPv4Stack=true',
    '--add-opens',
    'java.base/java.lang=ALL-UNNAMED',
    '--add-opens',
    'java.base/java.math=ALL-UNNAMED',
    '--add-opens',
    'java.base/java.util=ALL-UNNAMED',
  ];
}
