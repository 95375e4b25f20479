// `npm ci` runs this as the package's install script: builds the native targets of
// binding.gyp against the local Node headers. Downloading headers is not possible
// here (and not wanted anywhere), so nodedir is set when npm has not set it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const env = { ...process.env };
if (!env.npm_config_nodedir || env.npm_config_nodedir !== '/usr') {
  if (existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
}
const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = '/usr/share/nodejs/node-gyp/bin/node-gyp.js';
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release', '-j', '2'], { stdio: 'inherit', env });
if (r.status !== 0) {
  console.error(`quiesce: building the native library failed (node-gyp exit ${r.status}); see the output above`);
  process.exit(r.status ?? 1);
}
