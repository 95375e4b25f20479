// Apache Dubbo 2.7 (org.apache.dubbo 2.7.23) over ZooKeeper: interface-level registration only.
import { dubboSuite } from '../../testkit/dubbo-suite.js';

dubboSuite({ fixture: 'dubbo27', label: 'Dubbo 2.7', framework: 'apache-dubbo', version: /^2\.7\./, instances: false });
