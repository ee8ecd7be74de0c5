/**
 * The pure transfer state machine of a read request.
 *
 *   start(request, config, now)  → StepResult   (refuses WRQ and unsupported modes, or asks to open the file)
 *   step(state, event)           → StepResult   (opened / open-failed / packet / timeout / abort)
 *
 * No sockets, no clock, no file access: time comes in with every event, and the
 * result says what to send, when to deliver the next `timeout` event (`timer`,
 * an absolute time in the same unit as `now`, milliseconds), and whether the
 * transfer is over (`done`, with `error` for failures). DATA is described by
 * file offset and length; the shell reads those bytes from the FileSource, so
 * a transfer never holds more than one window of the file.
 *
 * Block numbers are tracked as absolute numbers (1..lastBlock, unbounded) and
 * put on the wire modulo 65536: the block after 65535 is 0 (what tftp-hpa,
 * atftp, curl, busybox and iPXE expect).
 *
 * Retransmission (no Sorcerer's Apprentice, RFC 1123 4.2.3.1): only a timeout
 * resends; an ACK resends nothing unless it acknowledges a block not acknowledged
 * before. In windowed mode (RFC 7440) an ACK for block n inside the last window
 * moves the window to start at n + 1; every distinct ACK value therefore
 * triggers at most one window, and duplicate ACKs trigger none.
 */
import { TftpErrorCode } from './errors.js'
import { defaultNegotiationLimits, negotiate, type NegotiationLimits } from './options.js'
import { Opcode, type RequestPacket, type TftpOption, type TftpPacket } from './packet.js'

export interface TransferConfig extends NegotiationLimits {
  /** First retransmission timeout when the client did not negotiate `timeout`. Default 1000 ms. */
  retransmitMs: number
  /** Cap of the exponential backoff (not below a negotiated timeout). Default 8000 ms. */
  maxRetransmitMs: number
  /**
   * Give up when no new block has been acknowledged for this long. Default 30000 ms.
   * A client that negotiates a long `timeout` gets at least two of its intervals.
   */
  deadlineMs: number
}

export const defaultTransferConfig: TransferConfig = {
  ...defaultNegotiationLimits,
  retransmitMs: 1000,
  maxRetransmitMs: 8000,
  deadlineMs: 30000
}

/**
 * How a transfer ended.
 * - complete: the last block was acknowledged.
 * - options-refused: the client answered the OACK with ERROR 8 (OVMF's tsize probe). Not a failure.
 * - rejected: refused before any data (WRQ, unsupported mode, file not found or forbidden).
 * - client-error: the client sent another ERROR.
 * - timeout: no progress before the deadline.
 * - protocol-error: the client sent a packet that has no place in a read transfer.
 * - aborted: ended by the server (shutdown, read failure).
 */
export type Outcome =
  | 'complete'
  | 'options-refused'
  | 'rejected'
  | 'client-error'
  | 'timeout'
  | 'protocol-error'
  | 'aborted'

export type TransferErrorCode =
  | 'RB_TFTP_WRITE_REFUSED'
  | 'RB_TFTP_BAD_MODE'
  | 'RB_TFTP_OPEN_FAILED'
  | 'RB_TFTP_CLIENT_ERROR'
  | 'RB_TFTP_TIMEOUT'
  | 'RB_TFTP_ILLEGAL_PACKET'
  | 'RB_TFTP_ABORTED'

export interface TransferError {
  code: TransferErrorCode
  message: string
  /** The TFTP error code sent to or received from the client, if any. */
  tftpCode?: number
}

/** A packet to send: OACK or ERROR as a packet, DATA as a file range (`block` is the wire number). */
export type Send =
  | { kind: 'packet', packet: TftpPacket }
  | { kind: 'data', block: number, offset: number, length: number, retransmit: boolean }

export type Phase = 'opening' | 'oack' | 'data' | 'done'

export interface TransferState {
  readonly config: TransferConfig
  readonly request: RequestPacket
  phase: Phase
  size: number
  blksize: number
  windowsize: number
  /** The accepted options (empty when no OACK was sent). */
  oack: TftpOption[]
  /** Absolute number of the final (short, possibly empty) block. */
  lastBlock: number
  /** Highest absolute block acknowledged (0 before any). */
  acked: number
  /** Highest absolute block sent. */
  sent: number
  /** Retransmission timeout after the last progress, and the current (backed-off) one. */
  baseRetransmitMs: number
  retransmitMs: number
  /** Effective deadline: max(config.deadlineMs, 2 × baseRetransmitMs). */
  deadlineMs: number
  /** When to deliver the next timeout event, or null. */
  timerAt: number | null
  startedAt: number
  /** Time of the last progress (start, OACK acknowledged, new block acknowledged). */
  progressAt: number
  /** Packets sent again after a timeout. */
  retransmits: number
  /** True once the file was opened (size, blksize and windowsize are then final). */
  opened: boolean
  outcome: Outcome | null
  error: TransferError | null
}

export type TransferEvent =
  | { type: 'opened', now: number, size: number }
  | { type: 'open-failed', now: number, tftpCode: number, message: string }
  | { type: 'packet', now: number, packet: TftpPacket }
  | { type: 'timeout', now: number }
  | { type: 'abort', now: number, message: string }
  /** The I/O layer answered in-order ACKs itself (a native fast path): the client acknowledged `acked`, blocks up to `sent` went out. */
  | { type: 'advanced', now: number, acked: number, sent: number }

export interface StepResult {
  state: TransferState
  /** Packets to send, in order. */
  send?: Send[]
  /** Absolute time at which to deliver a `timeout` event; absent when done or nothing is pending. */
  timer?: number
  /** Only from `start`: the file to open, answered with an `opened` or `open-failed` event. */
  open?: string
  done?: Outcome
  error?: TransferError
}

function errorPacket (errorCode: number, message: string): Send {
  // The message goes on the wire as latin1 up to a NUL: a FileSource's message may hold
  // anything (an ellipsis, a NUL from the client's name). Unencodable characters become '?'.
  // eslint-disable-next-line no-control-regex
  return { kind: 'packet', packet: { opcode: Opcode.ERROR, errorCode, message: message.replace(/[^\u0001-\u00ff]/g, '?') } }
}

/**
 * A copy of `state` for the next step. Written out field by field rather than `{ ...state }`:
 * every copy then has one hidden class, and V8 copies it in a few instructions. The spread
 * took its generic path (a property definition per field) on every packet, which cost more
 * than the rest of a step.
 */
function copy (s: TransferState): TransferState {
  return {
    config: s.config,
    request: s.request,
    phase: s.phase,
    size: s.size,
    blksize: s.blksize,
    windowsize: s.windowsize,
    oack: s.oack,
    lastBlock: s.lastBlock,
    acked: s.acked,
    sent: s.sent,
    baseRetransmitMs: s.baseRetransmitMs,
    retransmitMs: s.retransmitMs,
    deadlineMs: s.deadlineMs,
    timerAt: s.timerAt,
    startedAt: s.startedAt,
    progressAt: s.progressAt,
    retransmits: s.retransmits,
    opened: s.opened,
    outcome: s.outcome,
    error: s.error
  }
}

function finish (state: TransferState, outcome: Outcome, send: Send[], error?: TransferError): StepResult {
  const next = copy(state)
  next.phase = 'done'
  next.timerAt = null
  next.outcome = outcome
  next.error = error ?? null
  const result: StepResult = { state: next, done: outcome }
  if (send.length > 0) result.send = send
  if (error !== undefined) result.error = error
  return result
}

/** Begin handling a request. */
export function start (request: RequestPacket, config: TransferConfig, now: number): StepResult {
  const state: TransferState = {
    config,
    request,
    phase: 'opening',
    size: 0,
    blksize: 512,
    windowsize: 1,
    oack: [],
    lastBlock: 1,
    acked: 0,
    sent: 0,
    baseRetransmitMs: config.retransmitMs,
    retransmitMs: config.retransmitMs,
    deadlineMs: config.deadlineMs,
    timerAt: null,
    startedAt: now,
    progressAt: now,
    retransmits: 0,
    opened: false,
    outcome: null,
    error: null
  }
  if (request.opcode === Opcode.WRQ) {
    const message = 'Write requests are not accepted'
    return finish(state, 'rejected', [errorPacket(TftpErrorCode.AccessViolation, message)],
      { code: 'RB_TFTP_WRITE_REFUSED', message, tftpCode: TftpErrorCode.AccessViolation })
  }
  const mode = request.mode.toLowerCase()
  if (mode !== 'octet') {
    // netascii would need line-ending conversion (and changes the size); mail is
    // obsolete. PXE ROMs, iPXE and curl use octet; tftp-hpa needs `-m binary`.
    const message = `Transfer mode ${request.mode} is not supported, use octet (binary)`
    return finish(state, 'rejected', [errorPacket(TftpErrorCode.IllegalOperation, message)],
      { code: 'RB_TFTP_BAD_MODE', message, tftpCode: TftpErrorCode.IllegalOperation })
  }
  return { state, open: request.filename }
}

/** Bytes of the file the client has acknowledged. */
export function bytesAcked (state: TransferState): number {
  return Math.min(state.size, state.acked * state.blksize)
}

/** Append DATA sends for the absolute blocks from..to. */
function pushWindow (state: TransferState, from: number, to: number, retransmit: boolean, send: Send[]): void {
  for (let b = from; b <= to; b++) {
    const offset = (b - 1) * state.blksize
    const length = Math.max(0, Math.min(state.blksize, state.size - offset))
    send.push({ kind: 'data', block: b & 0xffff, offset, length, retransmit })
  }
}

/** The window after block `acked` (default: the state's), as one new state. */
function sendNextWindow (state: TransferState, now: number, acked = state.acked): StepResult {
  const from = acked + 1
  const to = Math.min(acked + state.windowsize, state.lastBlock)
  const send: Send[] = []
  pushWindow(state, from, to, false, send)
  const next = copy(state)
  next.acked = acked
  next.phase = 'data'
  next.sent = to
  next.progressAt = now
  next.retransmitMs = state.baseRetransmitMs
  const timerAt = now + state.baseRetransmitMs
  next.timerAt = timerAt
  return { state: next, send, timer: timerAt }
}

function pending (state: TransferState): StepResult {
  return state.timerAt === null ? { state } : { state, timer: state.timerAt }
}

function onOpened (state: TransferState, size: number, now: number): StepResult {
  const n = negotiate(state.request.options, size, state.config)
  const base = n.timeout !== undefined ? n.timeout * 1000 : state.config.retransmitMs
  const next = copy(state)
  next.opened = true
  next.size = size
  next.blksize = n.blksize
  next.windowsize = n.windowsize
  next.oack = n.oack
  next.lastBlock = Math.floor(size / n.blksize) + 1
  next.baseRetransmitMs = base
  next.retransmitMs = base
  next.deadlineMs = Math.max(state.config.deadlineMs, 2 * base)
  next.progressAt = now
  if (n.oack.length === 0) return sendNextWindow(next, now)
  next.phase = 'oack'
  next.timerAt = now + base
  return {
    state: next,
    send: [{ kind: 'packet', packet: { opcode: Opcode.OACK, options: n.oack } }],
    timer: next.timerAt
  }
}

function onAck (state: TransferState, wire: number, now: number): StepResult {
  if (state.phase === 'oack') {
    // RFC 2347: the client acknowledges the OACK with ACK 0. Anything else is stale.
    return wire === 0 ? sendNextWindow(state, now) : pending(state)
  }
  // Map the 16-bit number onto the outstanding range [acked, sent]; a window of
  // at most 65535 blocks keeps this unambiguous across rollover.
  const abs = state.acked + ((wire - (state.acked & 0xffff)) & 0xffff)
  if (abs > state.sent) return pending(state) // a block never sent (or long gone): stale
  if (abs === state.acked) return pending(state) // duplicate: only a timeout resends
  if (abs === state.lastBlock) {
    const done = finish(state, 'complete', [])
    done.state.acked = abs
    return done
  }
  // abs === sent: the window is done; abs < sent: the client lost abs + 1 (RFC 7440),
  // resend from there. Either way the next window starts at abs + 1.
  return sendNextWindow(state, now, abs)
}

/** Progress made below the state machine (in-order ACKs answered with the next window): taken as if it had made it. */
function onAdvanced (state: TransferState, acked: number, sent: number, now: number): StepResult {
  if (state.phase !== 'data' || acked < state.acked || sent < state.sent || acked > sent || sent > state.lastBlock) return pending(state)
  const next = copy(state)
  next.acked = acked
  next.sent = sent
  next.progressAt = now
  next.retransmitMs = state.baseRetransmitMs
  next.timerAt = now + state.baseRetransmitMs
  return { state: next, timer: next.timerAt }
}

function onTimeout (state: TransferState, now: number): StepResult {
  if (state.timerAt === null || now < state.timerAt) return pending(state)
  const { config } = state
  if (now - state.progressAt >= state.deadlineMs) {
    const message = `No acknowledgement for ${Math.round((now - state.progressAt) / 1000)} s, transfer abandoned`
    return finish(state, 'timeout', [errorPacket(TftpErrorCode.NotDefined, 'Transfer timed out')],
      { code: 'RB_TFTP_TIMEOUT', message })
  }
  const send: Send[] = []
  if (state.phase === 'oack') {
    send.push({ kind: 'packet', packet: { opcode: Opcode.OACK, options: state.oack } })
  } else {
    pushWindow(state, state.acked + 1, state.sent, true, send)
  }
  const backoff = Math.min(state.retransmitMs * 2, Math.max(config.maxRetransmitMs, state.baseRetransmitMs))
  const timerAt = Math.min(now + backoff, state.progressAt + state.deadlineMs)
  const next = copy(state)
  next.retransmitMs = backoff
  next.timerAt = timerAt
  next.retransmits = state.retransmits + send.length
  return { state: next, send, timer: timerAt }
}

function onPacket (state: TransferState, packet: TftpPacket, now: number): StepResult {
  switch (packet.opcode) {
    case Opcode.ACK:
      return onAck(state, packet.block, now)
    case Opcode.ERROR: {
      if (packet.errorCode === TftpErrorCode.OptionNegotiation && state.phase === 'oack') {
        // OVMF's UEFI PXE client asks for tsize only, then refuses the OACK
        // with ERROR 8 and sends a new RRQ: a normal probe, not a failure.
        return finish(state, 'options-refused', [])
      }
      return finish(state, 'client-error', [], {
        code: 'RB_TFTP_CLIENT_ERROR',
        message: `Client sent ERROR ${packet.errorCode}: ${packet.message}`,
        tftpCode: packet.errorCode
      })
    }
    default: {
      const message = 'Illegal TFTP operation'
      return finish(state, 'protocol-error', [errorPacket(TftpErrorCode.IllegalOperation, message)], {
        code: 'RB_TFTP_ILLEGAL_PACKET',
        message: `Client sent opcode ${packet.opcode} during a read transfer`,
        tftpCode: TftpErrorCode.IllegalOperation
      })
    }
  }
}

/** Advance a transfer by one event. Events after the end are ignored. */
export function step (state: TransferState, event: TransferEvent): StepResult {
  if (state.phase === 'done') return { state }
  switch (event.type) {
    case 'opened':
      if (state.phase !== 'opening') return pending(state)
      return onOpened(state, event.size, event.now)
    case 'open-failed':
      if (state.phase !== 'opening') return pending(state)
      return finish(state, 'rejected', [errorPacket(event.tftpCode, event.message)], {
        code: 'RB_TFTP_OPEN_FAILED', message: event.message, tftpCode: event.tftpCode
      })
    case 'packet':
      // Before the file is open the client does not know this transfer's TID.
      if (state.phase === 'opening') return pending(state)
      return onPacket(state, event.packet, event.now)
    case 'timeout':
      return onTimeout(state, event.now)
    case 'advanced':
      return onAdvanced(state, event.acked, event.sent, event.now)
    case 'abort':
      return finish(state, 'aborted', [errorPacket(TftpErrorCode.NotDefined, event.message)], {
        code: 'RB_TFTP_ABORTED', message: event.message
      })
  }
}
