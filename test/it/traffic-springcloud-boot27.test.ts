// Spring Boot 2.7 + Spring Cloud 2021.0 (spring-cloud-commons 3.1.x, spring-cloud-zookeeper 3.1.x).
import { springCloudSuite } from '../../testkit/springcloud-suite.js';

springCloudSuite({ fixture: 'springcloud-boot27', commons: /^3\.1\./, label: 'Boot 2.7, commons 3.1' });
