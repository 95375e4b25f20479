// Apache Dubbo 3.3 over ZooKeeper: interface-level nodes and an application-level instance.
import { dubboSuite } from '../../testkit/dubbo-suite.js';

dubboSuite({ fixture: 'dubbo33', label: 'Dubbo 3.3', framework: 'apache-dubbo', version: /^3\.3\./, instances: true });
