/**
 * Every error quiesce reports to a caller comes from this registry: a stable code that
 * users match on, the HTTP status and the gRPC status it maps to, and a one-line meaning
 * that README documents (a test keeps the two in step).
 */
import { Status } from 'nice-grpc';

export interface ErrorSpec {
  readonly http: number;
  readonly grpc: Status;
  readonly meaning: string;
}

export const ERROR_CODES = {
  bad_request: { http: 400, grpc: Status.INVALID_ARGUMENT, meaning: 'The request is malformed: a missing or invalid field.' },
  body_too_large: {
    http: 413,
    grpc: Status.RESOURCE_EXHAUSTED,
    meaning: 'The request body is larger than the daemon accepts (QUIESCE_HTTP_BODY_LIMIT).',
  },
  headers_too_large: {
    http: 431,
    grpc: Status.RESOURCE_EXHAUSTED,
    meaning: 'The request line and headers are larger than the daemon accepts (QUIESCE_HTTP_MAX_HEADER_SIZE).',
  },
  unsupported_media_type: { http: 415, grpc: Status.INVALID_ARGUMENT, meaning: 'A request body that is not application/json.' },
  request_timeout: {
    http: 408,
    grpc: Status.DEADLINE_EXCEEDED,
    meaning: 'The client did not send its whole request in time; the connection is closed.',
  },
  unknown_endpoint: { http: 404, grpc: Status.UNIMPLEMENTED, meaning: 'No such HTTP endpoint or method.' },
  forbidden: {
    http: 403,
    grpc: Status.PERMISSION_DENIED,
    meaning: 'The caller may not do this (the message says why): e.g. a GoAway for another address than its sender.',
  },
  not_found: { http: 404, grpc: Status.NOT_FOUND, meaning: 'No process with that pid exists (or it exited).' },
  not_a_jvm: { http: 409, grpc: Status.FAILED_PRECONDITION, meaning: 'The process exists but is not a Java virtual machine.' },
  unsupported_jvm: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The JVM is not HotSpot (e.g. OpenJ9), whose attach protocol quiesce does not speak.',
  },
  attach_disabled: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The JVM was started with -XX:+DisableAttachMechanism; detected without signalling it.',
  },
  dynamic_agents_disabled: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The JVM refuses agents loaded at run time (-XX:-EnableDynamicAgentLoading).',
  },
  attach_timeout: {
    http: 504,
    grpc: Status.DEADLINE_EXCEEDED,
    meaning: "The JVM's attach listener did not answer in time (the message says why when it is known, e.g. a read-only /tmp).",
  },
  agent_failed: {
    http: 502,
    grpc: Status.UNAVAILABLE,
    meaning: 'The JVM loaded the agent but it failed: the JPLIS return code, or the agent never connected back.',
  },
  no_framework: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The agent sees none of the frameworks asked for (the message names what it looked for).',
  },
  unsupported_version: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The framework is there, in a version quiesce does not know: nothing was done to it (the message names the version).',
  },
  isolated: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The JVM is isolated or drained: restore it first (detaching now would leave it deregistered with nothing to put it back).',
  },
  agent_not_connected: {
    http: 409,
    grpc: Status.FAILED_PRECONDITION,
    meaning: 'The command needs a connected agent and this JVM has none.',
  },
  agent_command_failed: { http: 502, grpc: Status.UNAVAILABLE, meaning: 'The agent answered a command with an error.' },
  internal: { http: 500, grpc: Status.INTERNAL, meaning: "The daemon's own failure; the message and the log say what happened." },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class QuiesceError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuiesceError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): Status {
    return ERROR_CODES[this.code].grpc;
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export function isQuiesceError(e: unknown): e is QuiesceError {
  return e instanceof QuiesceError;
}

/** Wraps anything thrown into a QuiesceError, keeping ours as they are. */
export function toQuiesceError(e: unknown): QuiesceError {
  if (e instanceof QuiesceError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new QuiesceError('internal', message, {}, { cause: e });
}
