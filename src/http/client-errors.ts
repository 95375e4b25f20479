/**
 * Errors found before a request reaches a route — a request line or headers Node's parser refuses
 * (smuggling attempts, bad chunking, invalid methods), headers past the size cap, a client too slow
 * to send its request, a CONNECT — answered in the documented error shape instead of the
 * framework's or Node's default body, then the connection is closed: after a parse error nothing
 * more on it can be trusted to be framed right.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { QuiesceError } from '../errors.js';
import type { Logger } from '../log.js';

/** The error a client-side failure of Node's HTTP parser (or its timers) means for the caller. */
export function clientErrorToQuiesce(err: NodeJS.ErrnoException): QuiesceError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new QuiesceError('headers_too_large', 'the request line and headers are larger than this daemon accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new QuiesceError('request_timeout', 'the request was not received in time');
    case 'HPE_INVALID_METHOD':
      return new QuiesceError('bad_request', 'not an HTTP method this daemon knows');
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return new QuiesceError('bad_request', 'the request is framed ambiguously (Content-Length and Transfer-Encoding disagree or repeat)');
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
    case 'HPE_STRICT':
      return new QuiesceError('bad_request', 'the chunked body is malformed');
    default:
      return new QuiesceError('bad_request', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`);
  }
}

/** Writes `e` as a complete HTTP/1.1 answer on a raw socket and closes it. */
export function answerRaw(socket: Duplex, e: QuiesceError): void {
  const body = JSON.stringify(e.toJSON());
  const head =
    `HTTP/1.1 ${e.httpStatus} ${STATUS_CODES[e.httpStatus] ?? 'Error'}\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + body);
  // A client that keeps sending would hold the socket half-open: it has had its answer.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** A handler for the server's `clientError` (fastify's `clientErrorHandler`). */
export function clientErrorHandler(log: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  // Node may report more than one error for the same socket once its parser has failed.
  const answered = new WeakSet<Duplex>();
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    const e = clientErrorToQuiesce(err);
    log.warn({ code: e.code, parserCode: err.code, err: err.message }, 'request refused before routing');
    // As Node does: never write into an answer already under way on this socket.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) answerRaw(socket, e);
    else socket.destroy();
  };
}

/** CONNECT has no route here; Node would drop the connection without a word. */
export function refuseConnect(req: IncomingMessage, socket: Duplex): void {
  answerRaw(socket, new QuiesceError('unknown_endpoint', `no endpoint ${req.method ?? 'CONNECT'} ${req.url ?? ''}`));
}
