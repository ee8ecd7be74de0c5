/**
 * The TFTP server: the listening socket and admission, and per transfer the glue between the
 * state machine (transfer.ts, which makes every decision), its sockets (transfer-io.ts: native
 * batched I/O or node:dgram), its file (read-ahead.ts), timers and the busy poll (busy-poll.ts).
 *
 * - One listening socket receives requests; WRQ, unsupported modes and requests over the limits
 *   (admission.ts) are answered with an ERROR from it. Each accepted transfer gets its own port.
 * - Packets whose bytes are already read are sent synchronously from the event that caused
 *   them (no promise hop per packet); a window whose bytes need a read waits in the transfer's
 *   queue, in order.
 * - The package does not log: completed transfers are reported through the 'transfer' event,
 *   undecodable or stray packets through 'drop', and totals through `counters`.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import { isIPv6, type AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { udpIoAvailable } from '@rackboot/netbind'
import { refusal } from './admission.js'
import { BusyPoll } from './busy-poll.js'
import { TftpDecodeError, TftpErrorCode, TftpFileError } from './errors.js'
import type { FileSource, OpenFile, RequestContext } from './file-source.js'
import { decode, encode, Opcode, type RequestPacket, type TftpPacket } from './packet.js'
import { ReadAhead } from './read-ahead.js'
import { DgramIo, NativeHub, socketOptions, type TransferIo, type TransferIoHandler } from './transfer-io.js'
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
  /**
   * With native I/O, a transfer whose remaining bytes are all in memory (a cached file) has its
   * in-order ACKs answered with the next window inside the I/O layer (UdpMux.arm), without a
   * turn through JS; anything else (a loss, a duplicate, the final ACK, a timeout) comes back
   * to the state machine, told first how far the fast path got. True turns that off (tests
   * compare both paths). Default false.
   */
  noFastPath?: boolean
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
  /** Of those, sent by the native fast path in answer to in-order ACKs (see `noFastPath`). */
  fastPathBytes: number
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

/** What a transfer asks of its server (one object per server, shared by its transfers). */
interface Host {
  server: TftpServer
  feed (t: Active, event: TransferEvent): void
  datagram (t: Active, bytes: Uint8Array, at: number): void
  oversized (t: Active, limit: number): void
  stray (t: Active, address: string, port: number): void
  advanced (t: Active, acked: number, sent: number, bytes: number, at: number): void
  readAheadBytes: number
}

const RESOLVED = Promise.resolve()

/** One transfer in progress: its state, sockets and file; its socket events go to the server. */
class Active implements TransferIoHandler {
  io!: TransferIo
  file: OpenFile | undefined = undefined
  /** The file's bytes, once it is open. */
  data: ReadAhead | undefined = undefined
  /** Queued asynchronous transmissions not yet done (0: a send may go out synchronously). */
  pending = 0
  timer: NodeJS.Timeout | undefined = undefined
  armedAt: number | null = null
  queue: Promise<void> = RESOLVED
  over = false
  readonly finished: Promise<void>
  resolveFinished!: () => void

  constructor (private readonly host: Host, readonly key: string, readonly client: RemoteInfo, public state: TransferState) {
    this.finished = new Promise<void>((resolve) => { this.resolveFinished = resolve })
  }

  // The ACK path (nearly all packets) calls the server directly: one frame fewer per packet
  // while the process is still warming up.
  ack (block: number, at: number): void { this.host.server.feed(this, { type: 'packet', now: at, packet: { opcode: Opcode.ACK, block } }) }
  datagram (bytes: Uint8Array, at: number): void { this.host.datagram(this, bytes, at) }
  oversized (limit: number): void { this.host.oversized(this, limit) }
  stray (address: string, port: number): void { this.host.stray(this, address, port) }
  failed (): void { this.host.feed(this, { type: 'abort', now: now(), message: 'Cannot open a transfer socket' }) }
  advanced (acked: number, sent: number, bytes: number, at: number): void { this.host.advanced(this, acked, sent, bytes, at) }

  /**
   * Bytes per read (ReadAhead): readAheadBytes, or for windowed transfers 16 windows up to
   * 1 MiB, rounded down to whole blocks (at least `length`): a windowed client consumes a
   * 64 KiB read faster than the thread pool returns the next one. Blocks start at multiples of
   * blksize, so whole-block buffers never split a block between two reads (a block straddling
   * buffers would miss both and wait for a fresh read).
   */
  chunkBytes (length: number): number {
    const blk = this.state.blksize
    const want = Math.max(this.host.readAheadBytes, Math.min(WINDOWED_READ_MAX, 16 * blk * this.state.windowsize))
    return Math.max(length, blk * Math.max(1, Math.floor(want / blk)))
  }
}

const now = (): number => performance.now()

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
    fastPathBytes: 0,
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
  /** Native I/O for every transfer (IPv4 with the addon), else undefined: node:dgram. */
  private readonly hub: NativeHub | undefined
  private readonly busyPoll: BusyPoll
  private readonly host: Host

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
      noFastPath: false,
      ...options
    }
    this.config = { ...defaultTransferConfig, ...options.transfer }
    this.type = isIPv6(options.address) ? 'udp6' : 'udp4'
    this.host = {
      server: this,
      feed: (t, event) => { this.feed(t, event) },
      datagram: (t, bytes, at) => {
        const packet = this.decodeOrDrop(bytes, t.client)
        if (packet !== null) this.feed(t, { type: 'packet', now: at, packet })
      },
      oversized: (t, limit) => {
        this.counters.decodeErrors++
        this.drop('decode-error', t.client, new TftpDecodeError('RB_TFTP_OVERSIZED', 'datagram', 0, `datagram larger than ${limit} bytes (no client sends one to a transfer port)`))
      },
      stray: (t, address, port) => {
        // RFC 1350: a packet from a wrong TID gets ERROR 5 and does not disturb the transfer.
        this.counters.unknownTid++
        this.drop('unknown-tid', { address, port })
        t.io.unknownTid(address, port)
      },
      advanced: (t, acked, sent, bytes, at) => {
        this.counters.bytesSent += bytes
        this.counters.fastPathBytes += bytes
        this.feed(t, { type: 'advanced', now: at, acked, sent })
      },
      readAheadBytes: this.options.readAheadBytes
    }
    this.busyPoll = new BusyPoll(this.options.busyPollUs, () => this.active.size > 0, (on) => { this.hub?.spin(on) }, () => this.hub?.sentBelow() ?? false)
    if (this.options.io === 'auto' && this.type === 'udp4' && udpIoAvailable()) this.hub = new NativeHub(this.options.address, this.busyPoll.sent)
  }

  /** 'native' when transfers use @rackboot/netbind's batched I/O, else 'dgram'. */
  get io (): 'native' | 'dgram' {
    return this.hub !== undefined ? 'native' : 'dgram'
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
    this.hub?.close()
  }

  private drop (reason: DropInfo['reason'], rinfo: { address: string, port: number }, error?: TftpDecodeError): void {
    const info: DropInfo = { reason, address: rinfo.address, port: rinfo.port }
    if (error !== undefined) info.error = error
    this.emit('drop', info)
  }

  /** A packet, or null when it does not decode (counted and reported as a drop). */
  private decodeOrDrop (msg: Uint8Array, from: { address: string, port: number }): TftpPacket | null {
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
    const busy = refusal(this.active.size, this.perClient.get(rinfo.address) ?? 0, this.options)
    if (busy !== null) {
      this.counters.busy++
      this.sendFromMain({ opcode: Opcode.ERROR, errorCode: TftpErrorCode.NotDefined, message: busy }, rinfo)
      this.drop('busy', rinfo)
      return
    }
    this.begin(packet, first, rinfo, key)
  }

  private begin (request: RequestPacket, first: StepResult, rinfo: RemoteInfo, key: string): void {
    this.counters.transfers++
    const t = new Active(this.host, key, rinfo, first.state)
    t.io = this.hub !== undefined
      ? this.hub.open(rinfo, t)
      : new DgramIo(this.type, this.options.address, rinfo, () => t.state.blksize, t, this.busyPoll.sent)
    // Sends wait for the sockets (dgram I/O binds and connects asynchronously).
    if (!t.io.ready) t.queue = t.io.opened
    this.active.set(key, t)
    this.live.add(t)
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1)
    const context: RequestContext = { remoteAddress: rinfo.address, remotePort: rinfo.port }
    this.options.source.open(first.open ?? request.filename, context).then(
      (file) => {
        if (t.over) {
          void file.close().catch(() => {})
          return
        }
        t.file = file
        t.data = new ReadAhead(file, t)
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

  /** @internal A transfer's event for its state machine (transfers call it directly). */
  feed (t: Active, event: TransferEvent): void {
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
      // The native fast path may have moved the transfer on meanwhile: that first.
      const p = t.io.progress?.() ?? null
      if (p !== null) this.host.advanced(t, p.acked, p.sent, p.bytes, now())
      this.feed(t, { type: 'timeout', now: now() })
    }, Math.max(0, Math.ceil(at - now())))
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
    if (!t.io.ready) return false
    // Every DATA range in one buffer: only the window's first block may move the buffer on to
    // the read-ahead; a window across two buffers queues.
    const data = t.data
    let first = true
    for (const s of sends) {
      if (s.kind !== 'data') continue
      if (t.over || data === undefined || !data.covered(s.offset, s.length, first)) return false
      first = false
    }
    this.counters.bytesSent += t.io.sendWindow(sends, data?.body ?? EMPTY, data?.base ?? 0)
    // The rest of the file is in this one buffer (a cached file): the next windows can leave
    // from the I/O layer, in answer to in-order ACKs, without a turn through this code.
    const st = t.state
    if (t.io.arm !== undefined && data !== undefined && st.phase === 'data' && st.sent < st.lastBlock && !this.options.noFastPath &&
        data.base <= st.sent * st.blksize && data.base + data.body.length >= st.size) {
      t.io.arm(data.body, data.base, st.size, st.blksize, st.windowsize, st.acked, st.sent, st.lastBlock)
    }
    return true
  }

  /** The queued path: a window whose bytes need a read, one packet after the other. */
  private async transmit (t: Active, sends: Send[]): Promise<void> {
    for (const s of sends) {
      if (!t.io.ready) return
      if (s.kind !== 'data') { t.io.sendPacket(encode(s.packet)); continue }
      if (t.over) continue // the transfer ended while this window waited
      let bytes: Uint8Array | undefined
      try {
        // Bytes already read go out without an await; only a miss waits for the source.
        bytes = t.data?.cached(s.offset, s.length) ?? await t.data?.read(s.offset, s.length)
      } catch {
        bytes = undefined
      }
      if (bytes === undefined || bytes.length < s.length) {
        // The source failed, or the file shrank under us.
        this.feed(t, { type: 'abort', now: now(), message: 'File read error' })
        return
      }
      if (t.over) continue
      this.counters.bytesSent += bytes.length
      t.io.sendData(s.block, bytes)
    }
  }

  private async cleanup (t: Active): Promise<void> {
    // Closing a socket cancels its queued sends: let the last packets (the final ACK'd
    // block's ERROR, or an abort's) leave first.
    for (let i = 0; i < 1000 && t.io.ready && t.io.queued() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 1))
    const closed = t.io.close()
    if (closed !== undefined) await closed
    const reading = t.data?.release()
    t.data = undefined
    if (reading !== undefined) await reading // settle the read ahead before closing the file
    try {
      await t.file?.close()
    } catch {
      // a close failure changes nothing for the client
    }
    try {
      this.report(t.state, t.client, t.state.startedAt, t.io.queuedSends)
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
