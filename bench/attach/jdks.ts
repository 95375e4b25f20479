/** The JDKs the bench runs against: the tests' own lookup (release files under /usr/lib/jvm), with a label. */
import { listJavaHomes, temurin, type JavaHome } from '../../testkit/java-homes.js';
import { SetupError } from './paths.js';

export interface Jdk {
  /** "17", "temurin" — as given on the command line. */
  readonly label: string;
  readonly home: string;
  readonly version: string;
  readonly feature: number;
  readonly java: string;
  readonly javac: string;
}

/** `17` (the distribution's JDK of that feature release) or `temurin` (the newest Temurin). */
export function findJdk(label: string): Jdk {
  let h: JavaHome | undefined;
  try {
    if (label === 'temurin') h = temurin();
    else if (/^\d+$/.test(label)) h = listJavaHomes().find((j) => j.feature === Number(label));
  } catch {
    h = undefined;
  }
  if (!h)
    throw new SetupError(
      `no JDK "${label}" under /usr/lib/jvm (found: ${
        listJavaHomes()
          .map((j) => `${j.version} ${j.home}`)
          .join(', ') || 'none'
      })`,
    );
  return { label, home: h.home, version: h.version, feature: h.feature, java: h.java, javac: h.javac };
}
