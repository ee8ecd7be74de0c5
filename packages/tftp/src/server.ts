/**
 * The UDP shell around the transfer state machine: it owns the sockets, the
 * clock, the timers and the FileSource handles, and nothing else. Every
 * decision is made by `start`/`step` in transfer.ts.
 *
 * - One listening socket receives requests. WRQ, unsupported modes and
 *   over-limit requests are answered with an ERROR from it.
 * - Each accepted transfer gets its own socket (a new TID, RFC 1350) bound to
 *   the same local address with an ephemeral port. Packets from any other
 *   address/port on that socket are answered with ERROR 5 and otherwise ignored.
 * - Per transfer at most one read-ahead buffer of the file is held
 *   (max(readAheadBytes, blksize) bytes), whatever the file size.
 * - The package does not log: completed transfers are reported through the
 *   'transfer' event, undecodable or stray packets through 'drop', and totals
 *   through `counters`.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import { isIPv6, type AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { TftpDecodeError, TftpErrorCode, TftpFileError } from './errors.js'
import type { FileSource, OpenFile, RequestContext } from './file-source.js'
import { decode, encode, Opcode, type RequestPacket, type TftpPacket } from './packet.js'
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
  /** Bytes read from the source at once, and the most held per transfer (at least one block). Default 65536. */
  readAheadBytes?: number
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

interface Active {
  key: string
  client: RemoteInfo
  state: TransferState
  socket: Socket
  bound: boolean
  file: OpenFile | undefined
  cache: { offset: number, data: Uint8Array } | undefined
  timer: NodeJS.Timeout | undefined
  armedAt: number | null
  queue: Promise<void>
  /** Settles when the latest send has left (dgram sends are asynchronous: close only after it). */
  lastSend: Promise<void>
  over: boolean
  finished: Promise<void>
  resolveFinished: () => void
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
    retransmits: 0,
    decodeErrors: 0,
    unknownTid: 0
  }

  private readonly options: Required<Omit<TftpServerOptions, 'transfer'>>
  private readonly config: TransferConfig
  private readonly type: 'udp4' | 'udp6'
  private socket: Socket | undefined
  private closing: Promise<void> | undefined
  /** Transfers in progress, by client address and port. */
  private readonly active = new Map<string, Active>()
  /** Transfers not yet cleaned up (a superset of `active`). */
  private readonly live = new Set<Active>()
  private readonly perClient = new Map<string, number>()

  constructor (options: TftpServerOptions) {
    super()
    this.options = {
      port: 69,
      maxTransfers: 256,
      maxTransfersPerClient: 8,
      closeTimeoutMs: 5000,
      readAheadBytes: 65536,
      ...options
    }
    this.config = { ...defaultTransferConfig, ...options.transfer }
    this.type = isIPv6(options.address) ? 'udp6' : 'udp4'
  }

  /** Bind the listening socket. */
  async start (): Promise<void> {
    if (this.socket !== undefined) throw new Error('TftpServer already started')
    const socket = createSocket({ type: this.type })
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

  private async shutdown (): Promise<void> {
    const socket = this.socket
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(resolve))
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
  }

  private drop (reason: DropInfo['reason'], rinfo: RemoteInfo, error?: TftpDecodeError): void {
    const info: DropInfo = { reason, address: rinfo.address, port: rinfo.port }
    if (error !== undefined) info.error = error
    this.emit('drop', info)
  }

  private sendFromMain (packet: TftpPacket, rinfo: RemoteInfo): void {
    this.socket?.send(encode(packet), rinfo.port, rinfo.address, () => {})
  }

  private onRequest (msg: Buffer, rinfo: RemoteInfo): void {
    let packet: TftpPacket
    try {
      packet = decode(msg)
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err
      this.counters.decodeErrors++
      this.drop('decode-error', rinfo, err)
      return
    }
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
      this.report(first.state, rinfo, began)
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
    const socket = createSocket({ type: this.type })
    let resolveFinished!: () => void
    const finished = new Promise<void>((resolve) => { resolveFinished = resolve })
    const t: Active = {
      key,
      client: rinfo,
      state: first.state,
      socket,
      bound: false,
      file: undefined,
      cache: undefined,
      timer: undefined,
      armedAt: null,
      queue: Promise.resolve(),
      lastSend: Promise.resolve(),
      over: false,
      finished,
      resolveFinished
    }
    this.active.set(key, t)
    this.live.add(t)
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1)
    socket.on('error', () => {})
    socket.on('message', (msg, from) => { this.onTransferMessage(t, msg, from) })
    // Sends wait for the bind; a failed bind aborts the transfer (sends are skipped).
    t.queue = new Promise<void>((resolve) => {
      const fail = (): void => { resolve(); this.feed(t, { type: 'abort', now: now(), message: 'Cannot open a transfer socket' }) }
      socket.once('error', fail)
      socket.bind({ address: this.options.address, port: 0 }, () => {
        socket.off('error', fail)
        t.bound = true
        resolve()
      })
    })
    const context: RequestContext = { remoteAddress: rinfo.address, remotePort: rinfo.port }
    this.options.source.open(first.open ?? request.filename, context).then(
      (file) => {
        if (t.over) {
          void file.close().catch(() => {})
          return
        }
        t.file = file
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

  private onTransferMessage (t: Active, msg: Buffer, from: RemoteInfo): void {
    if (from.address !== t.client.address || from.port !== t.client.port) {
      // RFC 1350: a packet from a wrong TID gets ERROR 5 and does not disturb the transfer.
      this.counters.unknownTid++
      this.drop('unknown-tid', from)
      const packet = encode({ opcode: Opcode.ERROR, errorCode: TftpErrorCode.UnknownTransferId, message: 'Unknown transfer ID' })
      if (t.bound) t.socket.send(packet, from.port, from.address, () => {})
      return
    }
    let packet: TftpPacket
    try {
      packet = decode(msg)
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err
      this.counters.decodeErrors++
      this.drop('decode-error', from, err)
      return
    }
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
    if (sends !== undefined) {
      // A failure here is a bug; abort the transfer so it is still cleaned up and reported.
      t.queue = t.queue.then(async () => { await this.transmit(t, sends) })
        .catch(() => { this.feed(t, { type: 'abort', now: now(), message: 'Internal server error' }) })
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
    if (t.timer !== undefined) clearTimeout(t.timer)
    t.armedAt = at
    t.timer = setTimeout(() => {
      t.timer = undefined
      t.armedAt = null
      this.feed(t, { type: 'timeout', now: now() })
    }, Math.max(0, Math.ceil(at - now())))
  }

  private async readRange (t: Active, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0)
    const c = t.cache
    if (c !== undefined && offset >= c.offset && offset + length <= c.offset + c.data.length) {
      return c.data.subarray(offset - c.offset, offset - c.offset + length)
    }
    const file = t.file
    if (file === undefined) throw new Error('read before open')
    const want = Math.min(Math.max(length, this.options.readAheadBytes), file.size - offset)
    const data = await file.read(offset, want)
    t.cache = { offset, data }
    return data.subarray(0, length)
  }

  private async transmit (t: Active, sends: Send[]): Promise<void> {
    for (const s of sends) {
      if (!t.bound) return
      let packet: TftpPacket
      if (s.kind === 'data') {
        if (t.over) continue // the transfer ended while this window waited
        let data: Uint8Array | undefined
        try {
          data = await this.readRange(t, s.offset, s.length)
        } catch {
          data = undefined
        }
        if (data === undefined || data.length < s.length) {
          // The source failed, or the file shrank under us.
          this.feed(t, { type: 'abort', now: now(), message: 'File read error' })
          return
        }
        if (t.over) continue
        packet = { opcode: Opcode.DATA, block: s.block, data }
        this.counters.bytesSent += data.length
      } else {
        packet = s.packet
      }
      const bytes = encode(packet)
      t.lastSend = new Promise((resolve) => { t.socket.send(bytes, t.client.port, t.client.address, () => { resolve() }) })
    }
  }

  private async cleanup (t: Active): Promise<void> {
    t.cache = undefined
    await t.lastSend
    try {
      await t.file?.close()
    } catch {
      // a close failure changes nothing for the client
    }
    await new Promise<void>((resolve) => {
      try {
        t.socket.close(resolve)
      } catch {
        resolve()
      }
    })
    try {
      this.report(t.state, t.client, t.state.startedAt)
    } catch (err) {
      // A throwing 'transfer' listener is the listener's bug: surface it as an
      // uncaught exception, as any EventEmitter would, without wedging close().
      process.nextTick(() => { throw err })
    } finally {
      this.live.delete(t)
      t.resolveFinished()
    }
  }

  private report (state: TransferState, client: RemoteInfo, began: number): void {
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
      retransmits: state.retransmits
    }
    if (state.error !== null) info.error = state.error
    this.emit('transfer', info)
  }
}
