/**
 * Batched UDP I/O for servers that run many connected sockets (a TFTP server's transfers):
 * what Node's dgram costs per datagram (two 64 KiB buffers, an address string and an rinfo
 * object per received datagram plus a failing recvmsg; a request object per send) is paid
 * here per batch. Linux only; `udpIoAvailable()` says whether the addon is there.
 *
 *   const mux = new UdpMux((b) => { for (let i = 0; i < b.count; i++) … b.id(i), b.data(i) … })   // one call per loop turn
 *   const any = openUdp('10.0.0.1', 0); const port = localPort(any)   // a port of its own
 *   const fd = openConnectedUdp('10.0.0.1', port, client, clientPort) // shares it: the client's datagrams
 *   mux.add(fd, id)                       // its datagrams arrive tagged with `id`
 *   mux.add(any, id, true)                // everyone else's, with their source (fromAddress/fromPort)
 *   sendGather(fd, head, body, layout, n) // n datagrams in one sendmmsg, head+body slices each
 *   mux.writable(fd)                      // the buffer was full: say once when it has room (length -2)
 *   mux.remove(fd); closeSync(fd); mux.close()
 */
import { isIPv4 } from 'node:net'
import { native, type NativeMux } from './addon.js'
import { NetbindErrorCode, netbindError } from './errors.js'

/** Datagrams larger than this arrive with `length` -1 (and no bytes). */
export const MUX_SLOT_BYTES = 1500
/** At most this many datagrams per `sendGather` call. */
export const MAX_GATHER = 64
/** Int32 entries per datagram in the mux's metadata. */
const META = 5

/** True when the native addon is built and loads (Linux). */
export function udpIoAvailable (): boolean {
  try {
    native()
    return true
  } catch {
    return false
  }
}

/**
 * A non-blocking, close-on-exec AF_INET UDP socket with SO_REUSEADDR, bound to
 * `localAddress:localPort` and connected to `remoteAddress:remotePort`; returns its fd, which
 * the caller closes (`fs.closeSync`). With SO_REUSEADDR it can share the port of an unconnected
 * socket: Linux delivers the remote's datagrams to the connected one, and the rest to the other.
 */
export function openConnectedUdp (localAddress: string, localPort: number, remoteAddress: string, remotePort: number): number {
  if (!isIPv4(localAddress) || !isIPv4(remoteAddress)) {
    throw netbindError(NetbindErrorCode.InvalidArgument, `openConnectedUdp: ${localAddress} and ${remoteAddress} must be IPv4 addresses`)
  }
  return native().openConnectedUdp(localAddress, localPort, remoteAddress, remotePort)
}

/**
 * A non-blocking, close-on-exec, unconnected AF_INET UDP socket with SO_REUSEADDR bound to
 * `localAddress:localPort` (0: any free port, see `localPort`); returns its fd, which the caller
 * closes. Connected sockets (`openConnectedUdp`) can share its port; it gets what they do not.
 */
export function openUdp (localAddress: string, localPort: number): number {
  if (!isIPv4(localAddress)) {
    throw netbindError(NetbindErrorCode.InvalidArgument, `openUdp: ${localAddress} must be an IPv4 address`)
  }
  return native().openUdp(localAddress, localPort)
}

/** The local port an IPv4 socket fd is bound to. */
export function localPort (fd: number): number {
  return native().localPort(fd)
}

/**
 * One datagram to `address:port` on unconnected socket `fd`, never blocking: the bytes sent,
 * or -errno (-11 EAGAIN when the socket buffer is full). Never throws for I/O errors.
 */
export function sendTo (fd: number, data: Uint8Array, address: string, port: number): number {
  return native().sendTo(fd, data, address, port)
}

/**
 * Sends `count` (≤ 64) datagrams on connected socket `fd` with one sendmmsg(2), without copying:
 * datagram i is `head[layout[4i], +layout[4i+1]]` then `body[layout[4i+2], +layout[4i+3]]`.
 * Returns how many left (from 0 when the socket buffer is full) or -errno when the first failed
 * (e.g. -111 ECONNREFUSED after the peer's port became unreachable). Never throws for I/O errors.
 */
export function sendGather (fd: number, head: Uint8Array, body: Uint8Array, layout: Int32Array, count: number): number {
  return native().sendGather(fd, head, body, layout, count)
}

/** `MuxBatch.length(i)` of an entry that says the socket has room for sends again (`UdpMux.writable`). */
export const MUX_WRITABLE = -2
/** The `length` of an entry saying how far an armed socket's fast path got (UdpMux.arm). */
export const MUX_ADVANCED = -3

/**
 * The datagrams of one loop turn, valid only during the `UdpMux` callback (the buffers are
 * reused): datagram i came from the socket added with `id(i)` and is
 * `bytes[offset(i), offset(i) + length(i))`, or `length(i)` is -1 when it was larger than
 * MUX_SLOT_BYTES, or MUX_WRITABLE (-2) for no datagram but "this socket can take sends again".
 * `data(i)` is that range as a view (it costs a typed array; hot paths read `bytes` at
 * `offset(i)`). From sockets added with `from`, `fromPort(i)` and `fromAddress(i)` say who sent
 * it (else 0 and '0.0.0.0'). The same object is passed every turn: no allocation per datagram.
 */
export class MuxBatch {
  /** How many datagrams this turn. */
  count = 0
  constructor (readonly bytes: Uint8Array, private readonly meta: Int32Array) {}
  id (i: number): number { return this.meta[META * i] as number }
  offset (i: number): number { return this.meta[META * i + 1] as number }
  length (i: number): number { return this.meta[META * i + 2] as number }
  fromPort (i: number): number { return this.meta[META * i + 4] as number }
  /** Entries of length MUX_ADVANCED (see UdpMux.arm): the transfer's acked and sent blocks, DATA bytes sent. */
  advancedAcked (i: number): number { return this.meta[META * i + 3] as number }
  advancedSent (i: number): number { return this.meta[META * i + 4] as number }
  advancedBytes (i: number): number { return this.meta[META * i + 1] as number }
  fromAddress (i: number): string {
    const a = this.meta[META * i + 3] as number // the address as a host-order 32-bit number
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`
  }
  /** A view of datagram i (null when oversized). */
  data (i: number): Uint8Array | null {
    const off = this.offset(i)
    const len = this.length(i)
    return len < 0 ? null : this.bytes.subarray(off, off + len)
  }
}

/**
 * Watches many UDP sockets (a libuv poll handle each, doing no JS). In each turn of the event
 * loop, one datagram is read from every readable socket and `onBatch` gets them all in one
 * call, right after the I/O phase; a socket with more waiting is read again next turn. The
 * handles do not keep the process alive by themselves.
 */
export class UdpMux {
  private readonly mux: NativeMux
  private closed = false

  constructor (onBatch: (batch: MuxBatch) => void, options: { maxPerRound?: number } = {}) {
    const slots = Math.max(1, Math.min(4096, options.maxPerRound ?? 256))
    const rx = new Uint8Array(slots * (MUX_SLOT_BYTES + 8))
    const meta = new Int32Array(slots * META)
    const batch = new MuxBatch(rx, meta)
    this.mux = new (native().UdpMux)((count) => {
      batch.count = count
      onBatch(batch)
    }, rx, meta)
  }

  /**
   * Watch `fd`; its datagrams are reported with `id` (0 to 2^31-1), and with their source
   * when `from` is true (for an unconnected socket: a recvfrom instead of a recv).
   */
  add (fd: number, id: number, from = false): void {
    if (this.closed) throw netbindError(NetbindErrorCode.InvalidArgument, 'UdpMux is closed')
    this.mux.add(fd, id, from)
  }

  /**
   * Report once, as an entry of length MUX_WRITABLE, when watched `fd` has room in its send
   * buffer again (after a send returned EAGAIN). Ignored on a closed mux.
   */
  writable (fd: number): void {
    if (!this.closed) this.mux.writable(fd)
  }

  /**
   * While on, the caller's loop spins (libuv polls with a zero timeout) and the sockets added
   * without `from` are scanned once a turn with poll(2) instead of sitting in libuv's epoll:
   * a datagram arriving for a socket in an epoll set runs an epoll callback on the sender's CPU
   * even when nobody waits; a socket nobody waits on only queues it. For the microseconds after
   * sending, when replies are due; turn it off when idle (it keeps a CPU busy). Off by default;
   * ignored on a closed mux.
   */
  spin (on: boolean): void {
    if (!this.closed) this.mux.spin(on)
  }

  /**
   * The fast path of a TFTP read transfer on connected `fd`: until anything else arrives on it,
   * an ACK of block `sent` (absolute numbers; 16-bit on the wire) is answered in native code
   * with the next window (DATA blocks of `blksize` from `body`, which holds the file's bytes
   * from offset `base`; the last block ends at `size`), without a call into JS, as long as that
   * window lies in `body` and `sent < lastBlock`. Whatever else arrives (a duplicate, a loss,
   * the final ACK, an error) is reported as usual, preceded by an entry of length MUX_ADVANCED
   * (`advancedAcked`, `advancedSent`, `advancedBytes`) when the fast path moved the transfer on;
   * `progress(fd)` asks the same in between (for the caller's timers).
   */
  arm (fd: number, body: Uint8Array, base: number, size: number, blksize: number, windowsize: number, acked: number, sent: number, lastBlock: number): void {
    if (!this.closed) this.mux.arm(fd, body, base, size, blksize, windowsize, acked, sent, lastBlock)
  }

  /** Where the fast path of `fd` got to since the caller last heard: { acked, sent, bytes }, or null. */
  progress (fd: number): { acked: number, sent: number, bytes: number } | null {
    if (this.closed) return null
    const p = this.mux.progress(fd)
    return p === null ? null : { acked: p[0] as number, sent: p[1] as number, bytes: p[2] as number }
  }

  /** How many windows the fast path (arm) sent since the last call: a caller that busy-polls after its own sends counts these too. */
  takeFastSends (): number {
    return this.closed ? 0 : this.mux.takeFastSends()
  }

  /** Stop watching `fd` (before closing it). Unknown fds are ignored. */
  remove (fd: number): void {
    if (!this.closed) this.mux.remove(fd)
  }

  /** Stop polling; watched fds stay open (they are the caller's). Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.mux.close()
  }
}
