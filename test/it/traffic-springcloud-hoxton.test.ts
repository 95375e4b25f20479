// Spring Boot 2.3 + Spring Cloud Hoxton (spring-cloud-commons 2.2.x, spring-cloud-zookeeper 2.2.x), Ribbon as the load balancer.
import { springCloudSuite } from '../../testkit/springcloud-suite.js';

springCloudSuite({
  fixture: 'springcloud-ribbon',
  commons: /^2\.2\./,
  label: 'Boot 2.3, commons 2.2, Ribbon',
  // Ribbon fetches the server list every 30 s by default; 1 s here so that the consumer follows the registry quickly.
  consumerArgs: ['--greeter.ribbon.ServerListRefreshInterval=1000'],
});
