// Lossless offline, Dubbo 3.3 (Apache Dubbo 3.3.2), across two hosts: see testkit/offline-dubbo-suite.ts.
// QUIESCE_OFFLINE_DUBBO=dubbo27 runs the same scenario against Apache Dubbo 2.7.23 (no writeable event).
import { offlineDubboSuite } from '../../testkit/offline-dubbo-suite.js';

if (process.env['QUIESCE_OFFLINE_DUBBO'] === 'dubbo27') {
  offlineDubboSuite({
    fixture: 'dubbo27',
    label: 'Dubbo 2.7',
    framework: 'apache-dubbo',
    version: /^2\.7\./,
    directories: false,
    writeableEvent: false,
  });
} else {
  offlineDubboSuite({
    fixture: 'dubbo33',
    label: 'Dubbo 3.3',
    framework: 'apache-dubbo',
    version: /^3\.3\./,
    directories: true,
    writeableEvent: true,
  });
}
