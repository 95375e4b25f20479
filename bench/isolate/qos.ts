/**
 * Dubbo's own QoS server, the reference: `offline` unregisters the provider's URLs (for Dubbo 3
 * the application-level instance too) and `online` registers them again, in the provider's own
 * JVM, from a telnet connection on 127.0.0.1 (the fixture provider takes the QoS port as its
 * fourth argument and refuses foreign addresses).
 *
 * Adapted from testkit/dubbo-suite.ts (not importable: it is a vitest suite), with one
 * difference that matters for timing: the command is written as soon as the connection is up.
 * The suite waits for the "dubbo>" prompt, which Dubbo's QosProcessHandler prints only after
 * 500 ms without input from the client; the first bytes received still choose telnet mode.
 */
import { connect } from 'node:net';

/** Sends one command; resolves with the first non-empty line of the answer, e.g. "OK". */
export async function qos(port: number, command: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`QoS ${command} on port ${port}: no answer in ${timeoutMs} ms (got ${JSON.stringify(text)})`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`QoS ${command} on port ${port}: ${e.message}`));
    });
    socket.on('data', (d: string) => {
      text += d;
      const lines = text.split(/\r?\n/);
      // Only complete lines; the prompt is not part of an answer.
      const answer = lines
        .slice(0, -1)
        .map((l) => l.replace(/dubbo>/g, '').trim())
        .find((l) => l.length > 0);
      if (answer !== undefined) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
  });
}
