// Spring Boot 3.3 + Spring Cloud 2023.0 (spring-cloud-commons 4.1.x, spring-cloud-zookeeper 4.1.x).
import { springCloudSuite } from '../../testkit/springcloud-suite.js';

springCloudSuite({ fixture: 'springcloud-boot3', commons: /^4\.1\./, label: 'Boot 3.3, commons 4.1' });
