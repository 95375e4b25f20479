/**
 * Small readers of /proc/<pid>/… Each returns null when the process is gone (ENOENT/ESRCH),
 * so a scan can skip processes that exit under it; other errors are thrown. Every file is read
 * through bounded-read.ts with its kind's cap and time bound.
 */
import { readlink, readdir } from 'node:fs/promises';
import { LIMITS, readBoundedText, withTimeout, type LimitListener } from './bounded-read.js';

export const PROC = '/proc';

export function procPath(pid: number, ...rest: string[]): string {
  return [PROC, String(pid), ...rest].join('/');
}

export function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (isGone(e)) return null;
    throw e;
  }
}

/** The /proc/<pid> files read as text, each with its own cap (maps is scanned, see discovery.ts). */
export type ProcTextFile = 'stat' | 'status' | 'cgroup' | 'cmdline' | 'environ' | 'mountinfo';

/** A /proc/<pid> file's text, at most its kind's cap (a longer one is cut there and reported to `onLimit`). */
export async function readProcText(pid: number, file: ProcTextFile, onLimit?: LimitListener): Promise<string | null> {
  const path = procPath(pid, file);
  const r = await orNull(readBoundedText(path, LIMITS[file]));
  if (r?.truncated)
    onLimit?.({ path, reason: 'truncated', message: `${path}: longer than ${LIMITS[file].maxBytes} bytes, read only that much` });
  return r === null ? null : r.text;
}

/** readlink is one syscall on procfs: a time bound is enough (no size to cap). */
const LINK_TIMEOUT_MS = 1_000;

export function readProcLink(pid: number, link: string): Promise<string | null> {
  const path = procPath(pid, link);
  return orNull(withTimeout(readlink(path), LINK_TIMEOUT_MS, path));
}

const LIST_TIMEOUT_MS = 5_000;

/** All numeric entries of /proc. */
export async function listPids(): Promise<number[]> {
  const names = await withTimeout(readdir(PROC), LIST_TIMEOUT_MS, PROC);
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** NUL-separated lists (cmdline, environ) without the trailing empty entry. */
export function splitNul(text: string): string[] {
  const parts = text.split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export interface ProcStatus {
  readonly nspid: number;
  readonly uid: number;
  readonly gid: number;
  readonly sigCgt: bigint;
  readonly sigIgn: bigint;
  readonly fields: ReadonlyMap<string, string>;
}

/** Parses /proc/<pid>/status. Uid:/Gid: list real, effective, saved, fs: the second is effective. */
export function parseStatus(pid: number, text: string): ProcStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const ids = (name: string): number[] => (fields.get(name) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const uid = ids('Uid')[1];
  const gid = ids('Gid')[1];
  // NSpid: appeared in Linux 4.1; NStgid: is the same list for the thread-group leader.
  const nsList = ids('NSpid').length > 0 ? ids('NSpid') : ids('NStgid');
  const nspid = nsList.length > 0 ? nsList[nsList.length - 1] : pid;
  const mask = (name: string): bigint => {
    const hex = fields.get(name);
    return hex !== undefined && /^[0-9a-fA-F]+$/.test(hex) ? BigInt('0x' + hex) : 0n;
  };
  if (uid === undefined || gid === undefined || nspid === undefined || Number.isNaN(uid) || Number.isNaN(gid)) {
    throw new Error(`unparsable /proc/${pid}/status`);
  }
  return { nspid, uid, gid, sigCgt: mask('SigCgt'), sigIgn: mask('SigIgn'), fields };
}

export async function readStatus(pid: number): Promise<ProcStatus | null> {
  const text = await readProcText(pid, 'status');
  return text === null ? null : parseStatus(pid, text);
}

/** Field 22 (starttime) of /proc/<pid>/stat; fields are counted after the last ')' of comm. */
export function parseStartTime(text: string): number | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After ')' come fields 3.. ; starttime is field 22, i.e. index 19 of that list.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const v = rest[19];
  return v === undefined ? null : Number(v);
}

export async function readStartTime(pid: number): Promise<number | null> {
  const text = await readProcText(pid, 'stat');
  return text === null ? null : parseStartTime(text);
}

/** Bit of signal `sig` in a /proc status mask (SigCgt, SigIgn): signal n is bit n-1. */
export function hasSignal(mask: bigint, sig: number): boolean {
  return ((mask >> BigInt(sig - 1)) & 1n) === 1n;
}
