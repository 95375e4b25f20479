/**
 * The caller's uid is read from the one live row of its socket in /proc/net/tcp{,6}, never from a
 * row the kernel lists for a socket nobody holds. Regression: a client that sent its request and
 * closed at once left a FIN_WAIT2 row with uid 0 and inode 0, and was taken for root (issue 10).
 */
import { describe, expect, it } from 'vitest';
import { callerRows, matchCaller, type CallerSocket, type NetTables } from '../../src/http/caller.js';
import { parseProcNetTcp, parseProcNetTcpOwned } from '../../src/jvm/tcp.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const LO4 = '0100007F'; // 127.0.0.1
const V4 = '0201A8C0'; // 192.168.1.2
const LO6 = '00000000000000000000000001000000'; // ::1
const MAPPED_LO = '0000000000000000FFFF00000100007F'; // ::ffff:127.0.0.1
const FD00_2 = '000000FD000000000000000002000000'; // fd00::2
const FD00_1 = '000000FD000000000000000001000000'; // fd00::1

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
let sl = 0;
function row(local: string, lport: number, remote: string, rport: number, state: number, uid: number, inode: number): string {
  return `  ${sl++}: ${local}:${hex4(lport)} ${remote}:${hex4(rport)} ${state.toString(16).toUpperCase().padStart(2, '0')} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1`;
}
const table = (...rows: string[]): string => [HEADER, ...rows, ''].join('\n');
const ns = (tcp: string, tcp6 = table(), netns = 'net:[4026531840]'): NetTables => ({ netns, tcp, tcp6 });

/** The server accepted 127.0.0.1:40000 → 127.0.0.1:7370. */
const lo: CallerSocket = { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 7370 };
const serverRow = row(LO4, 7370, LO4, 40000, 0x01, 0, 500);

describe('the caller row matcher', () => {
  it('an ESTABLISHED row with an inode gives its uid and namespace', () => {
    const m = matchCaller([ns(table(serverRow, row(LO4, 40000, LO4, 7370, 0x01, 1000, 501)))], lo);
    expect(m).toEqual({ caller: { netns: 'net:[4026531840]', uid: 1000 } });
  });

  it('a half-closed client (FIN_WAIT1/FIN_WAIT2, still held: inode and owner) is still its owner', () => {
    for (const st of [0x04, 0x05]) {
      const m = matchCaller([ns(table(row(LO4, 40000, LO4, 7370, st, 1000, 501)))], lo);
      expect(m).toEqual({ caller: { netns: 'net:[4026531840]', uid: 1000 } });
    }
  });

  it('regression: a client that closed at once (orphaned FIN_WAIT2: uid 0, inode 0) is not root but refused', () => {
    const m = matchCaller([ns(table(serverRow, row(LO4, 40000, LO4, 7370, 0x05, 0, 0)))], lo);
    expect(m).toMatchObject({ refused: expect.stringMatching(/no longer held by any process \(FIN_WAIT2\)/) as unknown });
  });

  it('TIME_WAIT, FIN_WAIT1 orphaned, CLOSE and other states never identify, whatever uid they show', () => {
    for (const [st, inode] of [
      [0x06, 0],
      [0x04, 0],
      [0x07, 501],
      [0x08, 501],
      [0x0b, 501],
      [0x0a, 501],
      [0x02, 501],
    ] as const) {
      const m = matchCaller([ns(table(row(LO4, 40000, LO4, 7370, st, 0, inode)))], lo);
      expect('refused' in m, `state ${st} inode ${inode}`).toBe(true);
    }
  });

  it('a live ESTABLISHED row with inode 0 (no holder) is not believed', () => {
    const m = matchCaller([ns(table(row(LO4, 40000, LO4, 7370, 0x01, 0, 0)))], lo);
    expect('refused' in m).toBe(true);
  });

  it('a TIME_WAIT left on the same 4-tuple by someone else does not hide or replace the live row', () => {
    const m = matchCaller([ns(table(row(LO4, 40000, LO4, 7370, 0x06, 0, 0), row(LO4, 40000, LO4, 7370, 0x01, 1000, 501)))], lo);
    expect(m).toEqual({ caller: { netns: 'net:[4026531840]', uid: 1000 } });
  });

  it('two live rows for one connection, in one namespace or two, are ambiguous: refused', () => {
    const a = row(LO4, 40000, LO4, 7370, 0x01, 1000, 501);
    const b = row(LO4, 40000, LO4, 7370, 0x01, 0, 502);
    expect(matchCaller([ns(table(a, b))], lo)).toMatchObject({ refused: expect.stringMatching(/2 sockets match/) as unknown });
    expect(matchCaller([ns(table(a)), ns(table(b), table(), 'net:[4026532000]')], lo)).toMatchObject({
      refused: expect.stringMatching(/2 sockets match/) as unknown,
    });
  });

  it('regression: one socket listed twice (the file is not read atomically) is still one caller, not an ambiguity', () => {
    // Seen in the suite: "2 sockets match the connection (net:[…] uid 0, net:[…] uid 0)" for root's own request.
    const a = row(LO4, 40000, LO4, 7370, 0x01, 0, 501);
    expect(matchCaller([ns(table(a, a))], lo)).toEqual({ caller: { netns: 'net:[4026531840]', uid: 0 } });
  });

  it('rows of other connections (other port, other address, the reverse direction) do not match', () => {
    const m = matchCaller(
      [
        ns(
          table(
            serverRow,
            row(LO4, 40001, LO4, 7370, 0x01, 0, 600),
            row(LO4, 40000, LO4, 7371, 0x01, 0, 601),
            row(V4, 40000, LO4, 7370, 0x01, 0, 602),
          ),
        ),
      ],
      lo,
    );
    expect(m).toMatchObject({ refused: expect.stringMatching(/no socket of the caller/) as unknown });
  });

  it('IPv6: ::1 and a global address, in tcp6', () => {
    const s6: CallerSocket = { remoteAddress: '::1', remotePort: 40000, localAddress: '::1', localPort: 7370 };
    expect(matchCaller([ns(table(), table(row(LO6, 40000, LO6, 7370, 0x01, 1000, 501)))], s6)).toEqual({
      caller: { netns: 'net:[4026531840]', uid: 1000 },
    });
    const g: CallerSocket = { remoteAddress: 'fd00::2', remotePort: 40000, localAddress: 'fd00::1', localPort: 7370 };
    expect(matchCaller([ns(table(), table(row(FD00_2, 40000, FD00_1, 7370, 0x01, 1001, 501)))], g)).toEqual({
      caller: { netns: 'net:[4026531840]', uid: 1001 },
    });
    // Same closing rule in tcp6.
    expect('refused' in matchCaller([ns(table(), table(row(LO6, 40000, LO6, 7370, 0x05, 0, 0)))], s6)).toBe(true);
  });

  it('v4-mapped: a dual-stack server sees ::ffff:127.0.0.1, the client row is in tcp (AF_INET) or tcp6 (AF_INET6)', () => {
    const mapped: CallerSocket = {
      remoteAddress: '::ffff:127.0.0.1',
      remotePort: 40000,
      localAddress: '::ffff:127.0.0.1',
      localPort: 7370,
    };
    expect(matchCaller([ns(table(row(LO4, 40000, LO4, 7370, 0x01, 1000, 501)))], mapped)).toEqual({
      caller: { netns: 'net:[4026531840]', uid: 1000 },
    });
    expect(matchCaller([ns(table(), table(row(MAPPED_LO, 40000, MAPPED_LO, 7370, 0x01, 1000, 501)))], mapped)).toEqual({
      caller: { netns: 'net:[4026531840]', uid: 1000 },
    });
    // The same connection listed in both tables (never by the kernel; a hostile or confused table) is ambiguous.
    expect(
      'refused' in
        matchCaller(
          [ns(table(row(LO4, 40000, LO4, 7370, 0x01, 1000, 501)), table(row(MAPPED_LO, 40000, MAPPED_LO, 7370, 0x01, 0, 502)))],
          mapped,
        ),
    ).toBe(true);
  });

  it('a connection that is not IP (no addresses) is refused', () => {
    expect('refused' in matchCaller([ns(table())], { ...lo, remoteAddress: 'not-an-ip' })).toBe(true);
  });

  it('malformed rows never yield an owner; well-formed ones next to them still parse', () => {
    const good = row(LO4, 40000, LO4, 7370, 0x01, 1000, 501);
    const text = table(
      '  1: 0100007F:9C40 0100007F:1CCA 01', // cut short
      '  2: 0100007F:9C40 0100007F:1CCA 01 00000000:00000000 00:00000000 00000000 abc 0 501 1', // uid not a number
      '  3: 0100007F:9C40 00000000000000000000000001000000:1CCA 01 00000000:00000000 00:00000000 00000000 0 0 501 1', // mixed families
      '  4: ZZZZZZZZ:9C40 0100007F:1CCA 01 00000000:00000000 00:00000000 00000000 0 0 501 1',
      good,
    );
    expect(parseProcNetTcpOwned(text)).toEqual([
      { localAddress: '127.0.0.1', localPort: 40000, remoteAddress: '127.0.0.1', remotePort: 7370, state: 1, inode: 501, uid: 1000 },
    ]);
    expect(callerRows(text, lo)).toHaveLength(1);
    expect(matchCaller([ns(text)], lo)).toEqual({ caller: { netns: 'net:[4026531840]', uid: 1000 } });
  });

  it('the owned parser agrees with parseProcNetTcp on every well-formed row', () => {
    const text = table(serverRow, row(LO4, 40000, LO4, 7370, 0x05, 0, 0), row(V4, 22, '00000000', 0, 0x0a, 0, 7));
    expect(parseProcNetTcpOwned(text).map(({ uid: _uid, ...s }) => s)).toEqual(parseProcNetTcp(text));
  });
});
