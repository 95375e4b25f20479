/** RocketMQ 4.9 remoting client: see testkit/rocketmq-suite.ts. */
import { rocketMqSuite } from '../../testkit/rocketmq-suite.js';

rocketMqSuite({ fixture: 'rocketmq49', version: /^4\.9\.7$/, label: 'rocketmq-client 4.9.7' });
