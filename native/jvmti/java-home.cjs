// Prints the JDK home whose include/ holds jni.h and jvmti.h, for binding.gyp.
// $JAVA_HOME wins; otherwise the JDK that owns the javac on PATH (symlinks resolved).
'use strict';
const fs = require('fs');
const path = require('path');

function fromEnv() {
  const home = process.env.JAVA_HOME;
  return home && fs.existsSync(path.join(home, 'include', 'jvmti.h')) ? home : null;
}

function fromJavac() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const javac = path.join(dir, 'javac');
    if (fs.existsSync(javac)) {
      const home = path.resolve(fs.realpathSync(javac), '..', '..');
      if (fs.existsSync(path.join(home, 'include', 'jvmti.h'))) return home;
    }
  }
  return null;
}

const home = fromEnv() || fromJavac();
if (!home) {
  process.stderr.write('quiesce: no JDK found (set JAVA_HOME to a JDK with include/jvmti.h)\n');
  process.exit(1);
}
process.stdout.write(home);
