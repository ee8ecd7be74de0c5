/**
 * The UDP shell around the transfer state machine: it owns the sockets, the
 * clock, the timers and the FileSource handles, and nothing else. Every
 * decision is made by `start`/`step` in transfer.ts.
 *
 * - One listening socket receives requests. WRQ, unsupported modes and
 *   over-limit requests are answered with an ERROR from it.
 * - Each accepted transfer gets its own port (a new TID, RFC 1350) on the same
 *   local address, with two sockets on it (SO_REUSEADDR): one connected to the
 *   client, through which the transfer runs (the kernel then caches the route
 *   and skips the address on every send), and one unconnected, which receives
 *   only what comes from any other address/port (Linux delivers to the
 *   connected socket first); those strays are answered with ERROR 5 and
 *   otherwise ignored. With native I/O both are plain fds opened synchronously
 *   (no Node socket object, bind callback or address lookup per transfer: in a
 *   storm of small files that was a large part of each transfer's cost).
 * - I/O on the connected sockets (IPv4 on Linux, `io: 'auto'`) goes through
 *   @rackboot/netbind's batched UDP I/O: one UdpMux for all transfers, one JS
 *   call per loop turn for every ACK that arrived, and a window of DATA
 *   packets in one sendmmsg(2) with headers and file bytes gathered in place;
 *   what the socket buffer cannot take waits in the transfer's backlog, in
 *   order, and leaves when the mux says the socket has room again.
 *   Node's dgram spends more per small datagram than the kernel does (two 64 KiB
 *   allocations, an address string and an object per datagram received, a
 *   request object per send): with it, a 50-client boot storm and windowed
 *   transfers were CPU-bound in Node, not in the network. `io: 'dgram'` (and
 *   IPv6, and platforms without the addon) uses node:dgram sockets throughout.
 * - Per transfer at most two read-ahead buffers of the file are held (the
 *   one being sent and the next, read ahead of need so a transfer never waits
 *   for the disk): 2 × max(readAheadBytes, blksize, min(1 MiB, 16 windows))
 *   bytes, whatever the file size. A file its source already holds in memory
 *   (`OpenFile.bytes`: the daemon's file cache) is sent from there, unread.
 * - Packets whose bytes are already read are sent synchronously from the
 *   event that caused them (no promise hop per packet); sockets resolve
 *   addresses without dns.lookup (the peer is always an IP literal).
 * - The package does not log: completed transfers are reported through the
 *   'transfer' event, undecodable or stray packets through 'drop', and totals
 *   through `counters`.
 */
import { createSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram'
import { EventEmitter } from 'node:events'
import { isIPv6, type AddressInfo } from 'node:net'
import { closeSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { MAX_GATHER, MUX_SLOT_BYTES, MUX_WRITABLE, UdpMux, localPort, openConnectedUdp, openUdp, sendGather, sendTo, udpIoAvailable, type MuxBatch } from '@rackboot/netbind'
import { TftpDecodeError, TftpErrorCode, TftpFileError } from './errors.js'
import type { FileSource, OpenFile, RequestContext } from './file-source.js'
import { ackBlock, decode, encode, Opcode, type RequestPacket, type TftpPacket } from './packet.js'
import {
  bytesAcked, defaultTransferConfig, start, step,
  type Outcome, type Send, type StepResult, type TransferConfig, type TransferError, type TransferEvent, type TransferState
} from './transfer.js'

export interface TftpServerOptions {
  source: FileSource
  /** Local address to listen on (required: no default that would listen everywhere). */
  address: string
  /** Default 69. 0 picks an ephemeral port (see `address()`). */
  port?: number
  /** Concurrent transfers overall; requests beyond get ERROR 0 "Server busy". Default 256. */
  maxTransfers?: number
  /** Concurrent transfers per client IP address. Default 8. */
  maxTransfersPerClient?: number
  /** How long `close()` lets in-flight transfers finish before aborting them. Default 5000 ms. */
  closeTimeoutMs?: number
  /**
   * Bytes read from the source at once (at least one block; windowed transfers read 16 windows,
   * up to 1 MiB, when that is more). Two buffers are held per transfer. Default 65536.
   */
  readAheadBytes?: number
  /**
   * After sending, keep the event loop polling instead of sleeping for up to this many
   * microseconds while transfers are active: the next ACK is then handled without the
   * wake-up latency of an idle CPU, which bounds lockstep throughput, and without making the
   * client's CPU wake this process for every ACK (an IPI; in a boot storm on a VM those
   * wake-ups cost the clients' side more than the server's own work). With native I/O the
   * transfers' sockets are scanned each loop turn instead of sitting in epoll meanwhile
   * (`UdpMux.spin`). Costs CPU while transfers run. Default 0 (off).
   */
  busyPollUs?: number
  /**
   * 'auto' (default): batched native I/O for IPv4 transfers when @rackboot/netbind's addon
   * is built (Linux), else node:dgram. 'dgram': node:dgram always.
   */
  io?: 'auto' | 'dgram'
  /** Negotiation limits and retransmission timing. */
  transfer?: Partial<TransferConfig>
}

/** Reported once per request through the 'transfer' event. */
export interface TransferInfo {
  client: { address: string, port: number }
  file: string
  outcome: Outcome
  error?: TransferError
  /** File bytes the client acknowledged. */
  bytes: number
  /** File size, or null when the file was never opened. */
  size: number | null
  blksize: number
  windowsize: number
  /** Options accepted in the OACK (empty when none was sent). */
  options: Record<string, string>
  durationMs: number
  /** Packets sent again after a timeout. */
  retransmits: number
  /**
   * DATA packets the socket's send buffer could not take at once (native I/O), sent queued behind
   * the ones before: a link slower than the server, or a queue in front of it (qdisc, shaper).
   */
  queuedSends: number
}

export interface DropInfo {
  reason: 'decode-error' | 'unexpected-opcode' | 'duplicate-request' | 'unknown-tid' | 'closing' | 'busy'
  address: string
  port: number
  error?: TftpDecodeError
}

export interface TftpCounters {
  /** Requests received (RRQ and WRQ). */
  requests: number
  /** Transfers started (file opened or being opened). */
  transfers: number
  completed: number
  optionsRefused: number
  /** Refused before any data: WRQ, bad mode, file not found, access violation. */
  rejected: number
  /** Ended by timeout, client error, protocol error or abort. */
  failed: number
  /** Requests refused by the concurrency limits. */
  busy: number
  /** DATA payload bytes sent, retransmissions included. */
  bytesSent: number
  retransmits: number
  decodeErrors: number
  unknownTid: number
}

export interface TftpServerEvents {
  transfer: [TransferInfo]
  drop: [DropInfo]
}

const EMPTY = new Uint8Array(0)
/** Largest read-ahead buffer of a windowed transfer (two are held: 2 MiB per transfer at most). */
const WINDOWED_READ_MAX = 1 << 20
/** The answer to a packet from a wrong TID (the same bytes every time). */
const UNKNOWN_TID = encode({ opcode: Opcode.ERROR, errorCode: TftpErrorCode.UnknownTransferId, message: 'Unknown transfer ID' })
/** sendGather()'s -errno when the socket buffer is full. */
const EAGAIN_NEG = -11

function sendQueueCount (socket: Socket | undefined): number {
  if (socket === undefined) return 0
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

interface Active {
  key: string
  client: RemoteInfo
  state: TransferState
  /** Dgram I/O, unconnected: packets from wrong TIDs arrive here (ERROR 5). */
  socket: Socket | undefined
  /** Connected to the client (dgram I/O): the transfer's packets, both ways. */
  conn: Socket | undefined
  /** Connected to the client (native I/O), watched by the server's UdpMux; -1 until open or with dgram I/O. */
  fd: number
  /** Native I/O, unconnected, on the same port: packets from wrong TIDs (ERROR 5); -1 when not open. */
  strayFd: number
  /** Key in the server's `byId` (native I/O). */
  id: number
  /** Native I/O: whole packets the socket buffer did not take yet, in order (later ones queue behind). */
  backlog: Buffer[]
  /** Native I/O: packets that ever waited there (TransferInfo.queuedSends). */
  queuedSends: number
  /** Reused for DATA packets while sends complete synchronously. */
  scratch: Buffer | undefined
  bound: boolean
  file: OpenFile | undefined
  cache: { offset: number, data: Uint8Array } | undefined
  /** The next read-ahead chunk, being read (undefined data: the read failed); `ready` once it is read whole. */
  next: { offset: number, length: number, data: Promise<Uint8Array | undefined>, ready?: Uint8Array } | undefined
  /** Queued asynchronous transmissions not yet done (0: a send may go out synchronously). */
  pending: number
  timer: NodeJS.Timeout | undefined
  armedAt: number | null
  queue: Promise<void>
  over: boolean
  finished: Promise<void>
  resolveFinished: () => void
}

const now = (): number => performance.now()

// Peers are always IP literals: skip dns.lookup and its process.nextTick hop on every send.
const literal = (address: string, _family: unknown, callback: (err: null, address: string, family: number) => void): void => {
  callback(null, address, isIPv6(address) ? 6 : 4)
}
const socketOptions = (type: 'udp4' | 'udp6'): SocketOptions => ({ type, lookup: literal as unknown as SocketOptions['lookup'] })

export class TftpServer extends EventEmitter<TftpServerEvents> {
  readonly counters: TftpCounters = {
    requests: 0,
    transfers: 0,
    completed: 0,
    optionsRefused: 0,
    rejected: 0,
    failed: 0,
    busy: 0,
    bytesSent: 0,
    retransmits: 0,
    decodeErrors: 0,
    unknownTid: 0
  }

  private readonly options: Required<Omit<TftpServerOptions, 'transfer'>>
  private readonly config: TransferConfig
  private readonly type: 'udp4' | 'udp6'
  private socket: Socket | undefined
  private closing: Promise<void> | undefined
  private unlistening: Promise<void> | undefined
  /** Transfers in progress, by client address and port. */
  private readonly active = new Map<string, Active>()
  /** Transfers not yet cleaned up (a superset of `active`). */
  private readonly live = new Set<Active>()
  private readonly perClient = new Map<string, number>()
  /** Native I/O: the poll handle over every transfer's connected socket, and who is who. */
  private mux: UdpMux | undefined
  private readonly byId = new Map<number, Active>()
  private nextId = 0
  private readonly native: boolean
  /** sendGather scratch: one DATA header per datagram, and the layout of up to MAX_GATHER datagrams. */
  private readonly heads = Buffer.alloc(4 * MAX_GATHER)
  private readonly layout = new Int32Array(4 * MAX_GATHER)

  constructor (options: TftpServerOptions) {
    super()
    this.options = {
      port: 69,
      maxTransfers: 256,
      maxTransfersPerClient: 8,
      closeTimeoutMs: 5000,
      readAheadBytes: 65536,
      busyPollUs: 0,
      io: 'auto',
      ...options
    }
    this.config = { ...defaultTransferConfig, ...options.transfer }
    this.type = isIPv6(options.address) ? 'udp6' : 'udp4'
    this.native = this.options.io === 'auto' && this.type === 'udp4' && udpIoAvailable()
  }

  /** 'native' when transfers use @rackboot/netbind's batched I/O, else 'dgram'. */
  get io (): 'native' | 'dgram' {
    return this.native ? 'native' : 'dgram'
  }

  /** Bind the listening socket. */
  async start (): Promise<void> {
    if (this.socket !== undefined) throw new Error('TftpServer already started')
    const socket = createSocket(socketOptions(this.type))
    this.socket = socket
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind({ address: this.options.address, port: this.options.port, exclusive: true }, () => {
          socket.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      this.socket = undefined
      socket.close()
      throw err
    }
    // Send errors (an unreachable client) are reported to the send callback; keep
    // the socket alive for everything else.
    socket.on('error', () => {})
    socket.on('message', (msg, rinfo) => { this.onRequest(msg, rinfo) })
  }

  /** The bound address of the listening socket. */
  address (): AddressInfo {
    if (this.socket === undefined) throw new Error('TftpServer not started')
    return this.socket.address()
  }

  /** Number of transfers in progress. */
  get activeTransfers (): number {
    return this.active.size
  }

  /**
   * Stop accepting requests, let in-flight transfers finish for up to
   * `closeTimeoutMs`, then abort the rest (each client gets ERROR 0).
   */
  async close (): Promise<void> {
    this.closing ??= this.shutdown()
    return await this.closing
  }

  /**
   * Close the listening socket: no new requests, while transfers in progress go
   * on over their own sockets. Lets a replacement server bind the same port
   * (a reload) before this one drains with `close()`.
   */
  async stopListening (): Promise<void> {
    this.unlistening ??= new Promise<void>((resolve) => {
      const socket = this.socket
      if (socket === undefined) { resolve(); return }
      try {
        socket.close(resolve)
      } catch {
        resolve() // already closed
      }
    })
    return await this.unlistening
  }

  private async shutdown (): Promise<void> {
    await this.stopListening()
    // `live` (not `active`): a transfer leaves `active` when it ends, but is
    // finished only once its last packet left and its socket and file are closed.
    const all = (): Promise<void[]> => Promise.all([...this.live].map(async (t) => await t.finished))
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      all().then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.options.closeTimeoutMs) })
    ])
    clearTimeout(timer)
    if (!drained) {
      for (const t of [...this.live]) this.feed(t, { type: 'abort', now: now(), message: 'Server shutting down' })
      await all()
    }
    this.mux?.close()
    this.mux = undefined
  }

  private drop (reason: DropInfo['reason'], rinfo: { address: string, port: number }, error?: TftpDecodeError): void {
    const info: DropInfo = { reason, address: rinfo.address, port: rinfo.port }
    if (error !== undefined) info.error = error
    this.emit('drop', info)
  }

  /** A packet, or null when it does not decode (counted and reported as a drop). */
  private decodeOrDrop (msg: Uint8Array, from: RemoteInfo): TftpPacket | null {
    try {
      return decode(msg)
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err
      this.counters.decodeErrors++
      this.drop('decode-error', from, err)
      return null
    }
  }

  private sendFromMain (packet: TftpPacket, rinfo: RemoteInfo): void {
    this.socket?.send(encode(packet), rinfo.port, rinfo.address, () => {})
  }

  private onRequest (msg: Buffer, rinfo: RemoteInfo): void {
    const packet = this.decodeOrDrop(msg, rinfo)
    if (packet === null) return
    if (packet.opcode !== Opcode.RRQ && packet.opcode !== Opcode.WRQ) {
      this.drop('unexpected-opcode', rinfo)
      return
    }
    if (this.closing !== undefined) {
      this.drop('closing', rinfo)
      return
    }
    this.counters.requests++
    const key = `${rinfo.address}|${rinfo.port}`
    if (this.active.has(key)) {
      // The client retransmitted its request before our first answer arrived.
      this.drop('duplicate-request', rinfo)
      return
    }
    const began = now()
    const first = start(packet, this.config, began)
    if (first.done !== undefined) {
      for (const s of first.send ?? []) if (s.kind === 'packet') this.sendFromMain(s.packet, rinfo)
      this.counters.rejected++
      this.report(first.state, rinfo, began, 0)
      return
    }
    const perClient = this.perClient.get(rinfo.address) ?? 0
    if (this.active.size >= this.options.maxTransfers || perClient >= this.options.maxTransfersPerClient) {
      this.counters.busy++
      const message = this.active.size >= this.options.maxTransfers
        ? 'Server busy, try again later'
        : 'Server busy: too many transfers from this client, try again later'
      this.sendFromMain({ opcode: Opcode.ERROR, errorCode: TftpErrorCode.NotDefined, message }, rinfo)
      this.drop('busy', rinfo)
      return
    }
    this.begin(packet, first, rinfo, key)
  }

  private begin (request: RequestPacket, first: StepResult, rinfo: RemoteInfo, key: string): void {
    this.counters.transfers++
    const socket = this.native ? undefined : createSocket({ ...socketOptions(this.type), reuseAddr: true })
    const conn = this.native ? undefined : createSocket({ ...socketOptions(this.type), reuseAddr: true })
    let resolveFinished!: () => void
    const finished = new Promise<void>((resolve) => { resolveFinished = resolve })
    const t: Active = {
      key,
      client: rinfo,
      state: first.state,
      socket,
      conn,
      fd: -1,
      strayFd: -1,
      id: -1,
      backlog: [],
      queuedSends: 0,
      scratch: undefined,
      bound: false,
      file: undefined,
      cache: undefined,
      next: undefined,
      pending: 0,
      timer: undefined,
      armedAt: null,
      queue: Promise.resolve(),
      over: false,
      finished,
      resolveFinished
    }
    this.active.set(key, t)
    this.live.add(t)
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1)
    if (socket === undefined || conn === undefined) {
      this.openNative(t)
    } else {
      this.openDgram(t, socket, conn)
    }
    const context: RequestContext = { remoteAddress: rinfo.address, remotePort: rinfo.port }
    this.options.source.open(first.open ?? request.filename, context).then(
      (file) => {
        if (t.over) {
          void file.close().catch(() => {})
          return
        }
        t.file = file
        // Already in memory: every DATA is sent from it, with no reads.
        if (file.bytes !== undefined && file.bytes.length === file.size) t.cache = { offset: 0, data: file.bytes }
        this.feed(t, { type: 'opened', now: now(), size: file.size })
      },
      (err: unknown) => {
        const known = err instanceof TftpFileError && err.code !== 'RB_TFTP_FILE_ERROR'
        this.feed(t, {
          type: 'open-failed',
          now: now(),
          tftpCode: known ? err.tftpCode : TftpErrorCode.NotDefined,
          message: known ? err.message : 'Cannot read file'
        })
      }
    )
  }

  /**
   * Native I/O: a port of the transfer's own (the unconnected fd), the connected fd on it, both
   * watched by the mux; synchronous. A failure aborts the transfer (ERROR 0 is not sent: no socket).
   */
  private openNative (t: Active): void {
    try {
      t.strayFd = openUdp(this.options.address, 0)
      t.fd = openConnectedUdp(this.options.address, localPort(t.strayFd), t.client.address, t.client.port)
      t.id = this.nextId = (this.nextId + 1) & 0x7fffffff
      this.byId.set(t.id, t)
      this.mux ??= new UdpMux((batch) => { this.onMuxBatch(batch) })
      this.mux.add(t.fd, t.id)
      this.mux.add(t.strayFd, t.id, true)
      t.bound = true
    } catch {
      queueMicrotask(() => { this.feed(t, { type: 'abort', now: now(), message: 'Cannot open a transfer socket' }) })
    }
  }

  /** Dgram I/O: sends wait for the binds and the connect; a failure aborts the transfer (sends are skipped). */
  private openDgram (t: Active, socket: Socket, conn: Socket): void {
    socket.on('message', (msg, from) => { this.onTransferMessage(t, msg, from) })
    conn.on('message', (msg, from) => { this.onTransferMessage(t, msg, from) })
    t.queue = new Promise<void>((resolve) => {
      let failed = false
      const fail = (): void => {
        if (failed) return
        failed = true
        resolve()
        this.feed(t, { type: 'abort', now: now(), message: 'Cannot open a transfer socket' })
      }
      socket.on('error', fail)
      conn.on('error', fail)
      socket.bind({ address: this.options.address, port: 0 }, () => {
        conn.bind({ address: this.options.address, port: socket.address().port }, () => {
          conn.connect(t.client.port, t.client.address, () => {
            // From here on, send errors (an unreachable client) must not abort: ignore them.
            socket.off('error', fail).on('error', () => {})
            conn.off('error', fail).on('error', () => {})
            if (failed) return
            t.bound = true
            resolve()
          })
        })
      })
    })
  }

  /** Native I/O: what arrived on the transfers' sockets in one loop turn. */
  private onMuxBatch (b: MuxBatch): void {
    const at = now()
    for (let i = 0; i < b.count; i++) {
      const t = this.byId.get(b.id(i))
      if (t === undefined) continue // closed in this round
      const length = b.length(i)
      if (length === MUX_WRITABLE) {
        this.flushBacklog(t)
        continue
      }
      const port = b.fromPort(i)
      if (port !== 0) {
        // On the unconnected fd: not from the client (RFC 1350: ERROR 5, the transfer goes on).
        this.unknownTid(t, b.fromAddress(i), port)
        continue
      }
      if (length < 0) {
        this.counters.decodeErrors++
        this.drop('decode-error', t.client, new TftpDecodeError('RB_TFTP_OVERSIZED', 'datagram', 0, `datagram larger than ${MUX_SLOT_BYTES} bytes (no client sends one to a transfer port)`))
        continue
      }
      // ACKs are nearly all of the traffic: read them in place (no view, no generic decode).
      const block = ackBlock(b.bytes, b.offset(i), length)
      const packet = block >= 0 ? { opcode: Opcode.ACK, block } : this.decodeOrDrop(b.data(i) as Uint8Array, t.client)
      if (packet !== null) this.feed(t, { type: 'packet', now: at, packet })
    }
  }

  /** RFC 1350: a packet from a wrong TID gets ERROR 5 and does not disturb the transfer. */
  private unknownTid (t: Active, address: string, port: number): void {
    this.counters.unknownTid++
    this.drop('unknown-tid', { address, port })
    if (!t.bound) return
    if (t.strayFd >= 0) sendTo(t.strayFd, UNKNOWN_TID, address, port)
    else t.socket?.send(UNKNOWN_TID, port, address, () => {})
  }

  private onTransferMessage (t: Active, msg: Buffer, from: RemoteInfo): void {
    if (from.address !== t.client.address || from.port !== t.client.port) {
      this.unknownTid(t, from.address, from.port)
      return
    }
    const packet = this.decodeOrDrop(msg, from)
    if (packet === null) return
    this.feed(t, { type: 'packet', now: now(), packet })
  }

  private feed (t: Active, event: TransferEvent): void {
    if (t.over) return
    this.apply(t, step(t.state, event))
  }

  private apply (t: Active, result: StepResult): void {
    this.counters.retransmits += result.state.retransmits - t.state.retransmits
    t.state = result.state
    const sends = result.send
    if (sends !== undefined && !(t.pending === 0 && this.tryTransmitNow(t, sends))) {
      // A failure here is a bug; abort the transfer so it is still cleaned up and reported.
      t.pending++
      t.queue = t.queue.then(async () => { await this.transmit(t, sends) })
        .catch(() => { this.feed(t, { type: 'abort', now: now(), message: 'Internal server error' }) })
        .finally(() => { t.pending-- })
    }
    if (result.done !== undefined) {
      t.over = true
      if (t.timer !== undefined) clearTimeout(t.timer)
      // Free the slot now: a client may reuse its port for the next request at once.
      this.active.delete(t.key)
      const n = (this.perClient.get(t.client.address) ?? 1) - 1
      if (n > 0) this.perClient.set(t.client.address, n)
      else this.perClient.delete(t.client.address)
      switch (result.done) {
        case 'complete': this.counters.completed++; break
        case 'options-refused': this.counters.optionsRefused++; break
        case 'rejected': this.counters.rejected++; break
        default: this.counters.failed++
      }
      t.queue = t.queue.then(async () => { await this.cleanup(t) })
      return
    }
    if (result.timer !== undefined && result.timer !== t.armedAt) this.arm(t, result.timer)
  }

  private arm (t: Active, at: number): void {
    // Every acknowledged block moves the deadline later. A timer already due at or before
    // `at` stays: when it fires early the state machine answers with the current deadline
    // (a timeout before `timerAt` changes nothing) and it is armed again. One timer per
    // retransmission interval, not a clearTimeout/setTimeout pair per packet.
    if (t.timer !== undefined && t.armedAt !== null && t.armedAt <= at) return
    if (t.timer !== undefined) clearTimeout(t.timer)
    t.armedAt = at
    t.timer = setTimeout(() => {
      t.timer = undefined
      t.armedAt = null
      this.feed(t, { type: 'timeout', now: now() })
    }, Math.max(0, Math.ceil(at - now())))
  }

  /**
   * Bytes per read: readAheadBytes, or for windowed transfers 16 windows up to 1 MiB, rounded
   * down to whole blocks (at least `length`). A windowed client consumes 64 KiB in a fraction of
   * a millisecond: with 64 KiB reads the thread-pool round trip per read held windowsize 16 to
   * ~160 MB/s; 16 windows per read reach ~200 MB/s (bench/tftp (b)). Blocks start at multiples
   * of blksize, so whole-block buffers never split a block between two reads: a block straddling
   * buffers would miss both and wait for a fresh read.
   */
  private chunkBytes (t: Active, length: number): number {
    const blk = t.state.blksize
    const want = Math.max(this.options.readAheadBytes, Math.min(WINDOWED_READ_MAX, 16 * blk * t.state.windowsize))
    return Math.max(length, blk * Math.max(1, Math.floor(want / blk)))
  }

  /** The bytes if they are in the read-ahead buffer, else undefined. Starts the next read ahead. */
  private cached (t: Active, offset: number, length: number): Uint8Array | undefined {
    if (length === 0) return EMPTY
    if (!this.covered(t, offset, length)) return undefined
    const c = t.cache as { offset: number, data: Uint8Array }
    return c.data.subarray(offset - c.offset, offset - c.offset + length)
  }

  /** Whether the read-ahead buffer holds these bytes (a view costs a typed array: the hot path only asks). Starts the next read ahead. */
  private covered (t: Active, offset: number, length: number, promote = true): boolean {
    if (length === 0) return true
    let c = t.cache
    if (c === undefined || offset < c.offset || offset + length > c.offset + c.data.length) {
      // The read ahead is done and holds these bytes: it becomes the buffer now, without the
      // promise hop of readRange() (one per chunk: 16 per MiB at the default 64 KiB reads).
      // Not when `promote` is false: a window already checked against the current buffer
      // is sent from that one buffer.
      const n = t.next
      if (!promote || n?.ready === undefined || offset < n.offset || offset + length > n.offset + n.ready.length) return false
      c = t.cache = { offset: n.offset, data: n.ready }
      t.next = undefined
    }
    const end = c.offset + c.data.length
    // Past half of this buffer: read the next one ahead of need.
    if (t.next === undefined && t.file !== undefined && end < t.file.size && offset + length > c.offset + (c.data.length >> 1)) {
      const size = Math.min(this.chunkBytes(t, length), t.file.size - end)
      const next: NonNullable<Active['next']> = {
        offset: end,
        length: size,
        data: t.file.read(end, size).then((d) => {
          if (d.length === size) next.ready = d
          return d
        }, () => undefined)
      }
      t.next = next
    }
    return true
  }

  private async readRange (t: Active, offset: number, length: number): Promise<Uint8Array> {
    const hit = this.cached(t, offset, length)
    if (hit !== undefined) return hit
    const file = t.file
    if (file === undefined) throw new Error('read before open')
    const n = t.next
    if (n !== undefined) {
      t.next = undefined
      const data = await n.data
      if (data === undefined || data.length < n.length) throw new Error('read failed')
      t.cache = { offset: n.offset, data }
      const again = this.cached(t, offset, length)
      if (again !== undefined) return again
    }
    const want = Math.min(this.chunkBytes(t, length), file.size - offset)
    t.cache = undefined // at most two buffers: drop this one before reading another
    const data = await file.read(offset, want)
    t.cache = { offset, data }
    if (data.length < length) return data
    return this.cached(t, offset, length) ?? data.subarray(0, length)
  }

  /**
   * Sends at once, without a promise hop, when every DATA range is already read.
   * Returns false (and sends nothing) when a read is needed: the caller queues.
   */
  private tryTransmitNow (t: Active, sends: Send[]): boolean {
    try {
      return this.transmitNow(t, sends)
    } catch {
      // A bug (an unencodable packet): abort the transfer as the queued path does, never crash.
      queueMicrotask(() => { this.feed(t, { type: 'abort', now: now(), message: 'Internal server error' }) })
      return true
    }
  }

  private transmitNow (t: Active, sends: Send[]): boolean {
    if (!t.bound) return false
    // Every DATA range in one buffer (transmitGathered sends from t.cache): only the window's
    // first block may move t.cache on to the read-ahead; a window across two buffers queues.
    let first = true
    for (const s of sends) {
      if (s.kind !== 'data') continue
      if (t.over || !this.covered(t, s.offset, s.length, first)) return false
      first = false
    }
    if (t.fd >= 0) {
      this.transmitGathered(t, sends)
      return true
    }
    for (const s of sends) {
      if (s.kind === 'data') {
        const data = this.cached(t, s.offset, s.length) as Uint8Array
        this.counters.bytesSent += data.length
        this.sendData(t, s.block, data)
      } else {
        this.sendPacket(t, encode(s.packet))
      }
    }
    return true
  }

  /**
   * Native I/O, every DATA range in `t.cache`: the DATA packets go out in batches of up to
   * MAX_GATHER datagrams per sendmmsg, each a 4-byte header from `heads` and the block's bytes
   * straight from the read-ahead buffer; other packets (OACK, ERROR) in order between them.
   */
  private transmitGathered (t: Active, sends: Send[]): void {
    const body = t.cache?.data ?? EMPTY
    const base = t.cache?.offset ?? 0
    let n = 0
    for (const s of sends) {
      if (s.kind !== 'data') {
        if (n > 0) this.gather(t, body, n)
        n = 0
        this.sendPacket(t, encode(s.packet))
        continue
      }
      this.describeData(n, s.block, s.offset - base, s.length)
      this.counters.bytesSent += s.length
      if (++n === MAX_GATHER) {
        this.gather(t, body, n)
        n = 0
      }
    }
    if (n > 0) this.gather(t, body, n)
    this.afterSend()
  }

  /** Datagram `i` of the next sendGather(): a DATA header for `block`, then `length` bytes of the body at `at`. */
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
   * sendGather() of the first `n` datagrams described in `head`/`layout` (head: `heads`, or one
   * whole packet). What the socket buffer did not take is copied to the transfer's backlog, and
   * while anything waits there, later packets queue behind it so the order holds; the mux says
   * when the socket has room (flushBacklog). Other errors (ECONNREFUSED from a client that went
   * away) lose the packets, as a send on the wire would: retransmission and the deadline deal
   * with it.
   */
  private gather (t: Active, body: Uint8Array, n: number, head: Uint8Array = this.heads): void {
    const sent = t.backlog.length > 0 ? 0 : sendGather(t.fd, head, body, this.layout, n)
    if (sent >= n || (sent < 0 && sent !== EAGAIN_NEG)) return
    const layout = this.layout
    for (let i = Math.max(0, sent); i < n; i++) {
      const h = 4 * i
      const packet = Buffer.allocUnsafe(layout[h + 1] as number + (layout[h + 3] as number))
      packet.set(head.subarray(layout[h], (layout[h] as number) + (layout[h + 1] as number)), 0)
      packet.set(body.subarray(layout[h + 2], (layout[h + 2] as number) + (layout[h + 3] as number)), layout[h + 1])
      t.backlog.push(packet)
      t.queuedSends++
    }
    this.mux?.writable(t.fd)
  }

  /** The socket has room again: send what waits in the backlog, in order, as far as it goes. */
  private flushBacklog (t: Active): void {
    const layout = this.layout
    let done = 0
    for (const packet of t.backlog) {
      layout[0] = 0; layout[1] = packet.length; layout[2] = 0; layout[3] = 0
      const sent = sendGather(t.fd, packet, EMPTY, layout, 1)
      if (sent === EAGAIN_NEG) break
      done++ // sent, or lost to an error as on the wire
    }
    t.backlog.splice(0, done)
    if (t.backlog.length > 0) this.mux?.writable(t.fd)
  }

  /**
   * A DATA packet built in the transfer's scratch buffer, not a new one per packet. Node sends
   * synchronously when it can (the kernel has copied the bytes on return); when the send had
   * to be queued the buffer is in flight, and the next packet gets a fresh one.
   */
  private sendData (t: Active, block: number, data: Uint8Array): void {
    if (t.fd >= 0) {
      this.describeData(0, block, 0, data.length)
      this.gather(t, data, 1)
      this.afterSend()
      return
    }
    const conn = t.conn as Socket
    const n = 4 + data.length
    let buf = t.scratch
    if (buf === undefined || buf.length < n) buf = Buffer.allocUnsafeSlow(Math.max(n, 4 + t.state.blksize))
    buf.writeUInt16BE(Opcode.DATA, 0)
    buf.writeUInt16BE(block & 0xffff, 2)
    buf.set(data, 4)
    // A full block fills the buffer exactly: pass it whole (no slice object per packet).
    if (n === buf.length) conn.send(buf)
    else conn.send(buf, 0, n)
    t.scratch = sendQueueCount(conn) === 0 ? buf : undefined
    this.afterSend()
  }

  private sendPacket (t: Active, bytes: Uint8Array): void {
    if (t.fd >= 0) {
      const layout = this.layout
      layout[0] = 0; layout[1] = bytes.length; layout[2] = 0; layout[3] = 0
      // `bytes` is the head here.
      this.gather(t, EMPTY, 1, bytes)
      this.afterSend()
      return
    }
    // No callback: Node then tries a synchronous send first and allocates no request.
    // Errors go to the socket's 'error' event; cleanup() waits for the send queue to empty.
    t.conn?.send(bytes)
    this.afterSend()
  }

  private afterSend (): void {
    if (this.options.busyPollUs > 0) {
      this.sentSincePoll = true
      if (!this.polling) {
        this.polling = true
        this.mux?.spin(true)
        setImmediate(this.poll)
      }
    }
  }

  private lastSendAt = 0
  private sentSincePoll = false
  private polling = false
  /**
   * A pending setImmediate makes libuv poll with a zero timeout: the loop spins instead of
   * sleeping, until busyPollUs after the last loop turn that sent (one clock read per turn,
   * not one per send).
   */
  private readonly poll = (): void => {
    const at = now()
    if (this.sentSincePoll) {
      this.lastSendAt = at
      this.sentSincePoll = false
    }
    if (this.active.size > 0 && at - this.lastSendAt < this.options.busyPollUs / 1000) setImmediate(this.poll)
    else {
      this.polling = false
      this.mux?.spin(false)
    }
  }

  private async transmit (t: Active, sends: Send[]): Promise<void> {
    for (const s of sends) {
      if (!t.bound) return
      let packet: TftpPacket
      if (s.kind === 'data') {
        if (t.over) continue // the transfer ended while this window waited
        // Bytes already read go out without an await; only a miss waits for the source.
        let data: Uint8Array | undefined = this.cached(t, s.offset, s.length)
        if (data === undefined) {
          try {
            data = await this.readRange(t, s.offset, s.length)
          } catch {
            data = undefined
          }
        }
        if (data === undefined || data.length < s.length) {
          // The source failed, or the file shrank under us.
          this.feed(t, { type: 'abort', now: now(), message: 'File read error' })
          return
        }
        if (t.over) continue
        this.counters.bytesSent += data.length
        this.sendData(t, s.block, data)
        continue
      } else {
        packet = s.packet
      }
      this.sendPacket(t, encode(packet))
    }
  }

  private async cleanup (t: Active): Promise<void> {
    t.cache = undefined
    // Closing a socket cancels its queued sends: let the last packets (the final ACK'd
    // block's ERROR, or an abort's) leave first.
    const queued = (): number => sendQueueCount(t.socket) + sendQueueCount(t.conn) + t.backlog.length
    for (let i = 0; i < 1000 && t.bound && queued() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 1))
    if (t.id >= 0) {
      for (const fd of [t.fd, t.strayFd]) if (fd >= 0) this.mux?.remove(fd)
      this.byId.delete(t.id)
    }
    closeFd(t.fd)
    closeFd(t.strayFd)
    t.fd = t.strayFd = -1
    t.backlog = []
    const next = t.next
    t.next = undefined
    if (next !== undefined) await next.data // settle the read ahead before closing the file
    try {
      await t.file?.close()
    } catch {
      // a close failure changes nothing for the client
    }
    await Promise.all([t.socket, t.conn].map(async (socket) => {
      if (socket === undefined) return
      await new Promise<void>((resolve) => {
        try {
          socket.close(resolve)
        } catch {
          resolve() // never bound, or closed already
        }
      })
    }))
    try {
      this.report(t.state, t.client, t.state.startedAt, t.queuedSends)
    } catch (err) {
      // A throwing 'transfer' listener is the listener's bug: surface it as an
      // uncaught exception, as any EventEmitter would, without wedging close().
      process.nextTick(() => { throw err })
    } finally {
      this.live.delete(t)
      t.resolveFinished()
    }
  }

  private report (state: TransferState, client: RemoteInfo, began: number, queuedSends: number): void {
    const info: TransferInfo = {
      client: { address: client.address, port: client.port },
      file: state.request.filename,
      outcome: state.outcome ?? 'aborted',
      bytes: bytesAcked(state),
      size: state.opened ? state.size : null,
      blksize: state.blksize,
      windowsize: state.windowsize,
      options: Object.fromEntries(state.oack.map((o) => [o.name.toLowerCase(), o.value])),
      durationMs: now() - began,
      retransmits: state.retransmits,
      queuedSends
    }
    if (state.error !== null) info.error = state.error
    this.emit('transfer', info)
  }
}
