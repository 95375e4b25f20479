// Lossless offline, Alibaba Dubbo 2.6 (com.alibaba.dubbo 2.6.12), across two hosts: see testkit/offline-dubbo-suite.ts.
// Its read-only event and the consumer-side GoAway (channels marked read-only) are the 2.x paths of
// the agent; Dubbo 2.6 has no writeable event, which /online reports.
import { offlineDubboSuite } from '../../testkit/offline-dubbo-suite.js';

offlineDubboSuite({
  fixture: 'dubbo26',
  label: 'Dubbo 2.6',
  framework: 'alibaba-dubbo',
  version: /^2\.6\./,
  directories: false,
  writeableEvent: false,
});
