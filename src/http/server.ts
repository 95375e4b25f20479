/**
 * The HTTP API: what preStop hooks, operators with curl, peers and Prometheus call.
 * Every answer is JSON; every error is `{ error: { code, message } }` from errors.ts.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { QuiesceError, isQuiesceError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { Fleet, JvmView } from '../agent/fleet.js';
import type { Isolator, IsolationView } from '../traffic/isolator.js';
import type { ConsumerTracker } from '../consumers/tracker.js';
import { parseDrainParams, type Drainer } from '../drain/drainer.js';
import { parseGoAway, type GoAwayReceiver } from '../goaway/receive.js';
import { httpAccess, presentedBy, type Authorizer } from './authorize.js';
import { clientErrorHandler, refuseConnect } from './client-errors.js';
import { parseJsonBody } from './json-body.js';
import { httpLimitsFromEnv, type HttpLimits } from './limits.js';
import { VERSION } from '../version.js';
import { healthyAnswer, unhealthyError } from './healthz.js';
import { asObject, optionalPid, parsePid, queryFlag, trafficRequest } from './params.js';

export interface HttpDeps {
  log: Logger;
  metrics: Metrics;
  fleet: Fleet;
  isolator: Isolator;
  consumers: ConsumerTracker;
  drainer: Drainer;
  goaway: GoAwayReceiver;
  auth: Authorizer;
  startedAt: number;
  /** Bounds on requests; from the environment (or the defaults) when not given. */
  limits?: HttpLimits;
}

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const { fleet, metrics, isolator, drainer, auth } = deps;
  const withIsolation = (j: JvmView): JvmView & { isolation: IsolationView | null } => ({
    ...j,
    isolation: isolator.view(j.pid, j.startTime),
  });
  const limits = deps.limits ?? httpLimitsFromEnv();
  const httpLog = deps.log.child({ part: 'http' });
  // Typed as fastify's own logger, so the instance is the plain FastifyInstance this returns.
  const fastifyLog: FastifyBaseLogger = httpLog;
  const app = Fastify({
    loggerInstance: fastifyLog,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      // Node would answer a missing Host with an empty 400: the onRequest hook below answers it in our shape.
      requireHostHeader: false,
    },
    clientErrorHandler: clientErrorHandler(httpLog),
    // A URL the router cannot decode (`/%`), a parameter past its length cap.
    frameworkErrors: (err, req, reply) => sendError(err, req, reply),
  });
  app.server.on('connect', refuseConnect);

  const sendError = (err: FastifyError | QuiesceError, req: FastifyRequest, reply: FastifyReply): void => {
    const e = isQuiesceError(err) ? err : fromFastify(err, limits, req.headers['content-type']);
    const level = e.httpStatus >= 500 ? 'error' : 'warn';
    req.log[level]({ code: e.code, url: req.url, method: req.method, err: e.message }, 'request failed');
    void reply.status(e.httpStatus).send(e.toJSON());
  };
  app.setErrorHandler(sendError);

  // Only JSON bodies: any other type is a 415 in our shape, not a string a route was not written for.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, limits.maxJsonDepth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined)
      throw new QuiesceError('bad_request', 'an HTTP/1.1 request needs a Host header');
    // Node keeps the first of several Host headers; a proxy in front may have routed on another (RFC 9112 §3.2).
    if (req.raw.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length > 1)
      throw new QuiesceError('bad_request', 'more than one Host header');
    // Who may call the route, from the one table (authorize.ts), before its body is even read.
    const route = req.routeOptions.url;
    if (route === undefined) return; // no such endpoint: the 404 below
    const access = httpAccess(req.method, route) ?? 'admin';
    if (access === 'public' || access === 'peer' || access === 'self') return;
    await auth.allow(access, presentedBy(req), `${req.method} ${route}`);
  });
  // A route nobody decided who may call cannot be registered.
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat())
      if (!httpAccess(m, route.url))
        throw new Error(`route ${m} ${route.url} has no entry in HTTP_ACCESS (src/http/authorize.ts): say who may call it`);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new QuiesceError('unknown_endpoint', `no endpoint ${req.method} ${req.url.split('?')[0]}`);
    void reply.status(e.httpStatus).send(e.toJSON());
  });

  // The liveness probe: 503 once discovery has stopped completing scans (a stuck daemon), so the kubelet restarts it.
  app.get('/healthz', async (_req, reply) => {
    const h = fleet.health();
    if (h.healthy) return healthyAnswer(h);
    const e = unhealthyError(h);
    deps.log.error({ code: e.code, err: e.message }, 'unhealthy');
    return reply.status(503).send(e.toJSON());
  });

  app.get('/status', async (req) => {
    if (queryFlag(req.query, 'refresh')) await fleet.refresh();
    return { version: VERSION, startedAt: deps.startedAt, jvms: fleet.list().map(withIsolation) };
  });

  app.get('/jvms', async (req) => {
    if (queryFlag(req.query, 'refresh')) await fleet.refresh();
    return { jvms: fleet.list().map(withIsolation) };
  });

  app.get<{ Params: { pid: string } }>('/jvms/:pid', async (req) => {
    const pid = parsePid(req.params.pid);
    await fleet.refresh();
    const jvm = fleet.get(pid);
    if (!jvm) throw new QuiesceError('not_found', `no JVM with pid ${pid} on this host`);
    return withIsolation(jvm);
  });

  app.get<{ Params: { pid: string } }>('/jvms/:pid/inventory', async (req) => {
    const pid = parsePid(req.params.pid);
    return { pid, ...(await isolator.inventory(pid)) };
  });

  app.get<{ Params: { pid: string } }>('/jvms/:pid/consumers', async (req) => {
    const pid = parsePid(req.params.pid);
    await fleet.refresh();
    const jvm = fleet.get(pid);
    if (!jvm) throw new QuiesceError('not_found', `no JVM with pid ${pid} on this host`);
    return { pid, windowSeconds: deps.consumers.windowMs / 1000, consumers: await deps.consumers.recent(pid, jvm.startTime) };
  });

  app.post<{ Body: unknown }>('/isolate', async (req) => {
    const { pid, traffic } = trafficRequest(req.body);
    return isolator.isolate(pid, traffic);
  });

  app.post<{ Body: unknown }>('/restore', async (req) => {
    const { pid, traffic } = trafficRequest(req.body);
    return isolator.restore(pid, traffic);
  });

  // GET as well as POST: Kubernetes httpGet preStop handlers can only GET.
  const offline = async (req: { query: unknown; body: unknown } & Parameters<Authorizer['selfTarget']>[0]): Promise<unknown> => {
    const args = { ...asObject(req.query), ...asObject(req.body) };
    const params = parseDrainParams(args);
    const pid = await auth.selfTarget(req, optionalPid(args['pid']));
    return drainer.offline(pid, params);
  };
  const online = async (req: { query: unknown; body: unknown } & Parameters<Authorizer['selfTarget']>[0]): Promise<unknown> => {
    const args = { ...asObject(req.query), ...asObject(req.body) };
    const pid = await auth.selfTarget(req, optionalPid(args['pid']));
    return drainer.online(pid);
  };
  app.get('/offline', offline);
  app.post('/offline', offline);
  app.get('/online', online);
  app.post('/online', online);

  app.get<{ Params: { id: string } }>('/drains/:id', async (req) => {
    if (!/^[1-9][0-9]{0,9}$/.test(req.params.id))
      throw new QuiesceError('bad_request', `drain id must be a positive integer, got "${req.params.id}"`);
    const d = drainer.get(Number(req.params.id));
    if (!d) throw new QuiesceError('not_found', `no drain ${req.params.id}`);
    return d;
  });

  app.get('/drains', async (req) => {
    const pid = optionalPid(asObject(req.query)['pid']);
    return { drains: drainer.list(pid) };
  });

  app.post<{ Body: unknown }>('/goaway', async (req) => {
    return deps.goaway.receive(parseGoAway(req.body), req.socket.remoteAddress ?? '');
  });

  app.post<{ Params: { pid: string } }>('/jvms/:pid/attach', async (req) => {
    const pid = parsePid(req.params.pid);
    return fleet.attach(pid);
  });

  app.post<{ Params: { pid: string } }>('/jvms/:pid/detach', async (req) => {
    const pid = parsePid(req.params.pid);
    const jvm = fleet.get(pid);
    const isolation = jvm ? isolator.view(pid, jvm.startTime) : null;
    const drained = jvm ? drainer.held(pid, jvm.startTime) : [];
    const force = queryFlag(req.query, 'force');
    if (isolation && !force) {
      throw new QuiesceError(
        'isolated',
        `pid ${pid} is isolated from ${isolation.traffic.join(', ')} since ${new Date(isolation.since).toISOString()}: ` +
          'POST /restore (or /online) first, or detach with ?force=1',
        { pid },
      );
    }
    if (drained.length > 0 && !force) {
      throw new QuiesceError('isolated', `pid ${pid} is drained from ${drained.join(', ')}: GET /online first, or detach with ?force=1`, {
        pid,
      });
    }
    await fleet.detach(pid);
    // The stopped agent released what it held (RocketMQ locks); registrations it removed stay removed.
    if (isolation && jvm) isolator.abandon(pid, jvm.startTime);
    return { pid, detached: true, abandonedIsolation: isolation };
  });

  app.get<{ Params: { pid: string } }>('/jvms/:pid/inbound', async (req) => {
    const pid = parsePid(req.params.pid);
    const inbound = await fleet.client(pid).inbound(queryFlag(req.query, 'drainPeers'));
    if (!inbound) throw new QuiesceError('agent_command_failed', `the agent of pid ${pid} has no inbound counters`, { pid });
    return { pid, ...inbound };
  });

  app.post<{ Params: { pid: string }; Body: unknown }>('/jvms/:pid/instances', async (req) => {
    const pid = parsePid(req.params.pid);
    const body = asObject(req.body);
    const className = body['class'];
    if (typeof className !== 'string' || className.length === 0)
      throw new QuiesceError('bad_request', 'body must be {"class": "<fully qualified class name>", "limit"?: N}');
    const limit = body['limit'] ?? 1000;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1_000_000)
      throw new QuiesceError('bad_request', '"limit" must be an integer from 1 to 1000000');
    const f = await fleet.client(pid).findInstances(className, limit);
    return {
      pid,
      className: f.className,
      count: f.count,
      instanceClasses: f.instanceClasses,
      tagsLeft: f.tagsLeft,
      truncated: f.truncated,
      durationMicros: f.durationMicros,
    };
  });

  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', metrics.contentType);
    return metrics.text();
  });

  return app;
}

/** Fastify's own errors keep their status, under our codes; any other 4xx is the caller's malformed request. */
function fromFastify(err: FastifyError, limits: HttpLimits, contentType: string | undefined): QuiesceError {
  const status = err.statusCode ?? 500;
  if (status === 413) return new QuiesceError('body_too_large', `the request body is larger than ${limits.bodyLimitBytes} bytes`);
  if (status === 415)
    return new QuiesceError(
      'unsupported_media_type',
      `a request body must be application/json, got ${JSON.stringify((contentType ?? 'no content type').slice(0, 100))}`,
    );
  const byStatus: Record<number, ErrorCode> = { 404: 'unknown_endpoint', 408: 'request_timeout', 431: 'headers_too_large' };
  const code = byStatus[status];
  if (code) return new QuiesceError(code, err.message);
  if (status >= 400 && status < 500) return new QuiesceError('bad_request', err.message);
  return new QuiesceError('internal', err.message, {}, { cause: err });
}
