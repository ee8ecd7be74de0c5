/**
 * A transfer's sockets, behind one interface with two implementations.
 *
 * Each transfer has its own port (a new TID, RFC 1350) on the server's address, with two
 * sockets on it (SO_REUSEADDR): one connected to the client, through which the transfer runs
 * (the kernel caches the route and skips the address on every send), and one unconnected,
 * which receives only what comes from any other address/port (Linux delivers to the connected
 * socket first); those strays are answered with ERROR 5 and otherwise ignored.
 *
 * - NativeIo (IPv4 on Linux): both are plain fds opened synchronously, watched by one UdpMux
 *   for all transfers (one JS call per loop turn for every ACK that arrived); a window of
 *   DATA goes out in sendmmsg(2) batches with headers and file bytes gathered in place. What
 *   the socket buffer cannot take waits in the transfer's backlog, in order, and leaves when
 *   the mux says the socket has room.
 * - DgramIo (IPv6, `io: 'dgram'`, no addon): node:dgram sockets, bound and connected
 *   asynchronously; DATA is built in a reused scratch buffer.
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram'
import { closeSync } from 'node:fs'
import { isIPv6 } from 'node:net'
import { performance } from 'node:perf_hooks'
import { MAX_GATHER, MUX_ADVANCED, MUX_SLOT_BYTES, MUX_WRITABLE, UdpMux, localPort, openConnectedUdp, openUdp, sendGather, sendTo, type MuxBatch } from '@rackboot/netbind'
import { TftpErrorCode } from './errors.js'
import { ackBlock, encode, Opcode } from './packet.js'
import type { Send } from './transfer.js'

const EMPTY = new Uint8Array(0)
const OPENED = Promise.resolve()
/** The answer to a packet from a wrong TID (the same bytes every time). */
const UNKNOWN_TID = encode({ opcode: Opcode.ERROR, errorCode: TftpErrorCode.UnknownTransferId, message: 'Unknown transfer ID' })
/** sendGather()'s -errno when the socket buffer is full. */
const EAGAIN_NEG = -11

/** What a transfer's sockets tell the server. */
export interface TransferIoHandler {
  /** An ACK from the client, read in place (nearly all of the traffic). */
  ack (block: number, at: number): void
  /** Any other datagram from the client, to decode. */
  datagram (bytes: Uint8Array, at: number): void
  /** A datagram too large to have come from a TFTP client. */
  oversized (limit: number): void
  /** A datagram from another address or port: RFC 1350 answers ERROR 5, the transfer goes on. */
  stray (address: string, port: number): void
  /** The sockets could not be opened: the transfer must abort. */
  failed (): void
  /** The fast path (arm) answered in-order ACKs: the client acknowledged `acked`, blocks up to `sent` went out (`bytes` of DATA). */
  advanced (acked: number, sent: number, bytes: number, at: number): void
}

export interface TransferIo {
  /** The sockets are open: sends go out (before, they wait for `opened`). */
  readonly ready: boolean
  /** Resolves once the sockets are open, or failed to. */
  readonly opened: Promise<void>
  /** DATA packets that found the socket's send buffer full and went out queued behind the others. */
  readonly queuedSends: number
  /** Sends `sends` in order; every DATA range lies in `body`, which starts at file offset `base`. Returns the DATA bytes. */
  sendWindow (sends: readonly Send[], body: Uint8Array, base: number): number
  sendData (block: number, data: Uint8Array): void
  sendPacket (bytes: Uint8Array): void
  /** ERROR 5 to a stray, from the transfer's port. */
  unknownTid (address: string, port: number): void
  /** Packets not yet handed to the kernel. */
  queued (): number
  /** Closes the sockets; a promise when that takes a callback (node:dgram). */
  close (): Promise<void> | undefined
  /**
   * Native I/O only: answer in-order ACKs of the window's last block with the next window from
   * `body` below JS until anything else arrives (UdpMux.arm); false when it cannot (a backlog).
   */
  arm? (body: Uint8Array, base: number, size: number, blksize: number, windowsize: number, acked: number, sent: number, lastBlock: number): boolean
  /** Native I/O only: where the fast path got to since last asked, or null. */
  progress? (): { acked: number, sent: number, bytes: number } | null
}

// Peers are always IP literals: skip dns.lookup and its process.nextTick hop on every send.
const literal = (address: string, _family: unknown, callback: (err: null, address: string, family: number) => void): void => {
  callback(null, address, isIPv6(address) ? 6 : 4)
}
export const socketOptions = (type: 'udp4' | 'udp6'): SocketOptions => ({ type, lookup: literal as unknown as SocketOptions['lookup'] })

function sendQueueCount (socket: Socket): number {
  try {
    return socket.getSendQueueCount()
  } catch {
    return 0 // closed
  }
}

function closeFd (fd: number): void {
  if (fd < 0) return
  try {
    closeSync(fd)
  } catch {
    // already closed: nothing to release
  }
}

/** node:dgram sockets: sends wait for the binds and the connect; a failure aborts the transfer. */
export class DgramIo implements TransferIo {
  ready = false
  readonly opened: Promise<void>
  readonly queuedSends = 0
  private readonly socket: Socket
  private readonly conn: Socket
  /** Reused for DATA packets while sends complete synchronously. */
  private scratch: Buffer | undefined

  constructor (type: 'udp4' | 'udp6', address: string, client: { address: string, port: number }, private readonly blksize: () => number, handler: TransferIoHandler, private readonly onSent: () => void) {
    const socket = this.socket = createSocket({ ...socketOptions(type), reuseAddr: true })
    const conn = this.conn = createSocket({ ...socketOptions(type), reuseAddr: true })
    const onMessage = (msg: Buffer, from: { address: string, port: number }): void => {
      if (from.address !== client.address || from.port !== client.port) { handler.stray(from.address, from.port); return }
      const block = ackBlock(msg, 0, msg.length)
      if (block >= 0) handler.ack(block, performance.now())
      else handler.datagram(msg, performance.now())
    }
    socket.on('message', onMessage)
    conn.on('message', onMessage)
    this.opened = new Promise<void>((resolve) => {
      let failed = false
      const fail = (): void => {
        if (failed) return
        failed = true
        resolve()
        handler.failed()
      }
      socket.on('error', fail)
      conn.on('error', fail)
      socket.bind({ address, port: 0 }, () => {
        conn.bind({ address, port: socket.address().port }, () => {
          conn.connect(client.port, client.address, () => {
            // From here on, send errors (an unreachable client) must not abort: ignore them.
            socket.off('error', fail).on('error', () => {})
            conn.off('error', fail).on('error', () => {})
            if (failed) return
            this.ready = true
            resolve()
          })
        })
      })
    })
  }

  sendWindow (sends: readonly Send[], body: Uint8Array, base: number): number {
    let bytes = 0
    for (const s of sends) {
      if (s.kind === 'data') {
        bytes += s.length
        this.sendData(s.block, body.subarray(s.offset - base, s.offset - base + s.length))
      } else {
        this.sendPacket(encode(s.packet))
      }
    }
    return bytes
  }

  /**
   * A DATA packet built in the scratch buffer, not a new one per packet. Node sends
   * synchronously when it can (the kernel has copied the bytes on return); when the send had
   * to be queued the buffer is in flight, and the next packet gets a fresh one.
   */
  sendData (block: number, data: Uint8Array): void {
    const n = 4 + data.length
    let buf = this.scratch
    if (buf === undefined || buf.length < n) buf = Buffer.allocUnsafeSlow(Math.max(n, 4 + this.blksize()))
    buf.writeUInt16BE(Opcode.DATA, 0)
    buf.writeUInt16BE(block & 0xffff, 2)
    buf.set(data, 4)
    // A full block fills the buffer exactly: pass it whole (no slice object per packet).
    if (n === buf.length) this.conn.send(buf)
    else this.conn.send(buf, 0, n)
    this.scratch = sendQueueCount(this.conn) === 0 ? buf : undefined
    this.onSent()
  }

  sendPacket (bytes: Uint8Array): void {
    // No callback: Node then tries a synchronous send first and allocates no request.
    this.conn.send(bytes)
    this.onSent()
  }

  unknownTid (address: string, port: number): void {
    if (this.ready) this.socket.send(UNKNOWN_TID, port, address, () => {})
  }

  queued (): number {
    return sendQueueCount(this.socket) + sendQueueCount(this.conn)
  }

  async close (): Promise<void> {
    await Promise.all([this.socket, this.conn].map(async (socket) => {
      await new Promise<void>((resolve) => {
        try {
          socket.close(resolve)
        } catch {
          resolve() // never bound, or closed already
        }
      })
    }))
  }
}

/**
 * The native transfers of one server: the UdpMux over their sockets, who is who, and the
 * sendGather() scratch (one DATA header per datagram, and the layout of up to MAX_GATHER).
 */
export class NativeHub {
  private mux: UdpMux | undefined
  private readonly byId = new Map<number, NativeIo>()
  private nextId = 0
  readonly heads = Buffer.alloc(4 * MAX_GATHER)
  readonly layout = new Int32Array(4 * MAX_GATHER)

  constructor (private readonly address: string, private readonly onSent: () => void) {}

  /** A transfer's fds, open at once; a failure is reported to the handler in a microtask. */
  open (client: { address: string, port: number }, handler: TransferIoHandler): NativeIo {
    const io = new NativeIo(this, handler, this.onSent)
    try {
      io.strayFd = openUdp(this.address, 0)
      io.fd = openConnectedUdp(this.address, localPort(io.strayFd), client.address, client.port)
      io.id = this.nextId = (this.nextId + 1) & 0x7fffffff
      this.byId.set(io.id, io)
      this.mux ??= new UdpMux((batch) => { this.onBatch(batch) })
      this.mux.add(io.fd, io.id)
      this.mux.add(io.strayFd, io.id, true)
      io.ready = true
    } catch {
      io.close()
      queueMicrotask(() => { handler.failed() })
    }
    return io
  }

  /** What arrived on the transfers' sockets in one loop turn. */
  private onBatch (b: MuxBatch): void {
    const at = performance.now()
    for (let i = 0; i < b.count; i++) {
      const io = this.byId.get(b.id(i))
      if (io === undefined) continue // closed in this round
      const length = b.length(i)
      if (length === MUX_WRITABLE) { io.flushBacklog(); continue }
      if (length === MUX_ADVANCED) { io.handler.advanced(b.advancedAcked(i), b.advancedSent(i), b.advancedBytes(i), at); continue }
      const port = b.fromPort(i)
      // On the unconnected fd: not from the client.
      if (port !== 0) { io.handler.stray(b.fromAddress(i), port); continue }
      if (length < 0) { io.handler.oversized(MUX_SLOT_BYTES); continue }
      const block = ackBlock(b.bytes, b.offset(i), length)
      if (block >= 0) io.handler.ack(block, at)
      else io.handler.datagram(b.data(i) as Uint8Array, at)
    }
  }

  writable (fd: number): void { this.mux?.writable(fd) }

  arm (fd: number, body: Uint8Array, base: number, size: number, blksize: number, windowsize: number, acked: number, sent: number, lastBlock: number): void {
    this.mux?.arm(fd, body, base, size, blksize, windowsize, acked, sent, lastBlock)
  }

  progress (fd: number): { acked: number, sent: number, bytes: number } | null { return this.mux?.progress(fd) ?? null }

  /** Whether the fast path sent a window since last asked. */
  sentBelow (): boolean { return (this.mux?.takeFastSends() ?? 0) > 0 }

  /** While the server busy-polls, the sockets leave epoll and are scanned each loop turn. */
  spin (on: boolean): void { this.mux?.spin(on) }

  remove (io: NativeIo): void {
    for (const fd of [io.fd, io.strayFd]) if (fd >= 0) this.mux?.remove(fd)
    this.byId.delete(io.id)
  }

  close (): void {
    this.mux?.close()
    this.mux = undefined
  }
}

export class NativeIo implements TransferIo {
  ready = false
  readonly opened = OPENED
  /** Connected to the client; -1 until open. */
  fd = -1
  /** Unconnected, on the same port: packets from wrong TIDs; -1 when not open. */
  strayFd = -1
  id = -1
  queuedSends = 0
  /** Whole packets the socket buffer did not take yet, in order (later ones queue behind). */
  private backlog: Buffer[] = []

  private readonly heads: Buffer
  private readonly layout: Int32Array

  constructor (private readonly hub: NativeHub, readonly handler: TransferIoHandler, private readonly onSent: () => void) {
    this.heads = hub.heads
    this.layout = hub.layout
  }

  /**
   * DATA in batches of up to MAX_GATHER datagrams per sendmmsg, each a 4-byte header from the
   * hub's `heads` and the block's bytes straight from `body`; other packets in order between.
   */
  sendWindow (sends: readonly Send[], body: Uint8Array, base: number): number {
    let n = 0
    let bytes = 0
    for (const s of sends) {
      if (s.kind !== 'data') {
        if (n > 0) this.gather(body, n)
        n = 0
        this.packet(encode(s.packet))
        continue
      }
      this.describeData(n, s.block, s.offset - base, s.length)
      bytes += s.length
      if (++n === MAX_GATHER) {
        this.gather(body, n)
        n = 0
      }
    }
    if (n > 0) this.gather(body, n)
    this.onSent()
    return bytes
  }

  sendData (block: number, data: Uint8Array): void {
    this.describeData(0, block, 0, data.length)
    this.gather(data, 1)
    this.onSent()
  }

  sendPacket (bytes: Uint8Array): void {
    this.packet(bytes)
    this.onSent()
  }

  unknownTid (address: string, port: number): void {
    if (this.ready && this.strayFd >= 0) sendTo(this.strayFd, UNKNOWN_TID, address, port)
  }

  arm (body: Uint8Array, base: number, size: number, blksize: number, windowsize: number, acked: number, sent: number, lastBlock: number): boolean {
    // Never around packets waiting in the backlog: the fast path would overtake them.
    if (!this.ready || this.fd < 0 || this.backlog.length > 0) return false
    this.hub.arm(this.fd, body, base, size, blksize, windowsize, acked, sent, lastBlock)
    return true
  }

  progress (): { acked: number, sent: number, bytes: number } | null {
    return this.fd < 0 ? null : this.hub.progress(this.fd)
  }

  queued (): number {
    return this.backlog.length
  }

  close (): undefined {
    if (this.id >= 0) this.hub.remove(this)
    closeFd(this.fd)
    closeFd(this.strayFd)
    this.fd = this.strayFd = -1
    this.backlog = []
  }

  /** One whole packet (`bytes` is the head). */
  private packet (bytes: Uint8Array): void {
    const layout = this.layout
    layout[0] = 0; layout[1] = bytes.length; layout[2] = 0; layout[3] = 0
    this.gather(EMPTY, 1, bytes)
  }

  /** Datagram `i` of the next gather(): a DATA header for `block`, then `length` bytes of the body at `at`. */
  private describeData (i: number, block: number, at: number, length: number): void {
    const h = 4 * i
    const heads = this.heads
    heads[h] = 0
    heads[h + 1] = Opcode.DATA
    heads[h + 2] = (block >> 8) & 0xff
    heads[h + 3] = block & 0xff
    const layout = this.layout
    layout[h] = h
    layout[h + 1] = 4
    layout[h + 2] = at
    layout[h + 3] = length
  }

  /**
   * sendGather() of the first `n` datagrams described in `head`/`layout`. What the socket buffer
   * did not take is copied to the backlog, and while anything waits there later packets queue
   * behind it so the order holds; the mux says when the socket has room (flushBacklog). Other
   * errors (ECONNREFUSED from a client that went away) lose the packets, as a send on the wire
   * would: retransmission and the deadline deal with it.
   */
  private gather (body: Uint8Array, n: number, head: Uint8Array = this.heads): void {
    const layout = this.layout
    const sent = this.backlog.length > 0 ? 0 : sendGather(this.fd, head, body, layout, n)
    if (sent >= n || (sent < 0 && sent !== EAGAIN_NEG)) return
    for (let i = Math.max(0, sent); i < n; i++) {
      const h = 4 * i
      const packet = Buffer.allocUnsafe(layout[h + 1] as number + (layout[h + 3] as number))
      packet.set(head.subarray(layout[h], (layout[h] as number) + (layout[h + 1] as number)), 0)
      packet.set(body.subarray(layout[h + 2], (layout[h + 2] as number) + (layout[h + 3] as number)), layout[h + 1])
      this.backlog.push(packet)
      this.queuedSends++
    }
    this.hub.writable(this.fd)
  }

  /** The socket has room again: send what waits in the backlog, in order, as far as it goes. */
  flushBacklog (): void {
    const layout = this.layout
    let done = 0
    for (const packet of this.backlog) {
      layout[0] = 0; layout[1] = packet.length; layout[2] = 0; layout[3] = 0
      const sent = sendGather(this.fd, packet, EMPTY, layout, 1)
      if (sent === EAGAIN_NEG) break
      done++ // sent, or lost to an error as on the wire
    }
    this.backlog.splice(0, done)
    if (this.backlog.length > 0) this.hub.writable(this.fd)
  }
}
