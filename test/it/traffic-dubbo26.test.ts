// Alibaba Dubbo 2.6 (com.alibaba.dubbo 2.6.12) over ZooKeeper: interface-level registration only.
import { dubboSuite } from '../../testkit/dubbo-suite.js';

dubboSuite({ fixture: 'dubbo26', label: 'Dubbo 2.6', framework: 'alibaba-dubbo', version: /^2\.6\./, instances: false });
