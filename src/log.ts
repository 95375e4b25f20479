import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Logs go to stderr as JSON lines; stdout carries only what users and scripts read
 * (the `quiesce listening …` line and CLI output).
 */
export function createLogger(level: string = process.env.QUIESCE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { svc: 'quiesce' } }, pino.destination(2));
}
