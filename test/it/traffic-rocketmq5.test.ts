/** RocketMQ 5.x remoting client (rocketmq-client 5.3.3, not the gRPC client): see testkit/rocketmq-suite.ts. */
import { rocketMqSuite } from '../../testkit/rocketmq-suite.js';

rocketMqSuite({ fixture: 'rocketmq5', version: /^5\.3\.3$/, label: 'rocketmq-client 5.3.3' });
