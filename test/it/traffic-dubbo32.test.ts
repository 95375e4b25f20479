// Apache Dubbo 3.2 over ZooKeeper: interface-level nodes and an application-level instance.
import { dubboSuite } from '../../testkit/dubbo-suite.js';

dubboSuite({ fixture: 'dubbo32', label: 'Dubbo 3.2', framework: 'apache-dubbo', version: /^3\.2\./, instances: true });
