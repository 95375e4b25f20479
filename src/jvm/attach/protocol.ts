/** The HotSpot attach protocol, version 1: request encoding and reply parsing. */
import { QuiesceError } from '../../errors.js';

/** Limits checked by the JVM (attachListener.hpp: name_length_max 16, arg_length_max 1024, arg_count_max 3). */
export const NAME_MAX = 16;
export const ARG_MAX = 1024;
export const ARG_COUNT = 3;

export interface AttachReply {
  /** The first line: 0 on success, the command's error code otherwise. */
  readonly status: number;
  /** Everything after the first newline. */
  readonly body: string;
}

/** `"1\0" <cmd>\0 <arg1>\0 <arg2>\0 <arg3>\0`: always three arguments, missing ones empty. */
export function encodeRequest(cmd: string, args: readonly string[], who = 'request'): Buffer {
  if (cmd.length === 0 || Buffer.byteLength(cmd) > NAME_MAX) {
    throw new QuiesceError('bad_request', `${who}: attach command name "${cmd}" must be 1–${NAME_MAX} bytes`);
  }
  if (args.length > ARG_COUNT) {
    throw new QuiesceError('bad_request', `${who}: attach command "${cmd}" takes at most ${ARG_COUNT} arguments, got ${args.length}`);
  }
  const all = [...args, '', '', ''].slice(0, ARG_COUNT);
  for (const a of [cmd, ...all]) {
    if (a.includes('\0')) throw new QuiesceError('bad_request', `${who}: attach arguments may not contain NUL`);
  }
  all.forEach((a, i) => {
    if (Buffer.byteLength(a) > ARG_MAX) {
      throw new QuiesceError(
        'bad_request',
        `${who}: argument ${i + 1} of "${cmd}" is ${Buffer.byteLength(a)} bytes, the JVM accepts at most ${ARG_MAX}`,
      );
    }
  });
  return Buffer.from(['1', cmd, ...all].map((s) => s + '\0').join(''), 'utf8');
}

/** Splits `<status>\n<body>`; returns null when the first line is not an integer (no reply at all). */
export function parseReply(raw: Buffer | string): AttachReply | null {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const nl = text.indexOf('\n');
  const head = (nl < 0 ? text : text.slice(0, nl)).trim();
  if (!/^-?\d+$/.test(head)) return null;
  return { status: Number(head), body: nl < 0 ? '' : text.slice(nl + 1) };
}
