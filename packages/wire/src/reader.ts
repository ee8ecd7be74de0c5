import { DecodeError, WireErrorCode } from './errors.js'
import { formatIPv4 } from './ipv4.js'
import { copyBytes } from './bytes.js'

/**
 * A bounds-checked cursor over a byte buffer with a sticky error
 * (insomniacslk/dhcp `uio.Lexer` style).
 *
 * A read that does not fit records the first failure (field and offset) and
 * returns 0 or an empty array; every later read also returns 0/empty. A
 * decoder reads all fields straight through and calls `check()` once, which
 * throws the single recorded `DecodeError`. No read ever throws a Node
 * `RangeError`.
 */
export class Reader {
  readonly buf: Uint8Array
  /** First readable byte (inclusive). */
  readonly start: number
  /** End of the readable window (exclusive). */
  readonly end: number
  /** Offset of the next read, absolute in `buf`. */
  offset: number
  #error: DecodeError | null = null

  constructor (buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf
    this.end = clamp(end, 0, buf.length)
    this.start = clamp(start, 0, this.end)
    this.offset = this.start
  }

  /** The first recorded failure, or null. */
  get error (): DecodeError | null {
    return this.#error
  }

  get ok (): boolean {
    return this.#error === null
  }

  /** Bytes left to read; 0 once an error is recorded. */
  get remaining (): number {
    return this.#error === null ? this.end - this.offset : 0
  }

  /** Record a failure unless one is already recorded. Returns the recorded (first) error. */
  fail (code: string, field: string, offset = this.offset, message?: string): DecodeError {
    if (this.#error === null) this.#error = new DecodeError(code, field, offset, message)
    return this.#error
  }

  /** Throw the recorded error, if any. */
  check (): void {
    if (this.#error !== null) throw this.#error
  }

  /** Reserve `n` bytes; returns their offset or -1 (and records the failure). */
  #take (n: number, field: string): number {
    if (this.#error !== null) return -1
    if (!Number.isInteger(n) || n < 0) {
      this.fail(WireErrorCode.BadLength, field, this.offset, `${field} at offset ${this.offset}: bad length ${n}`)
      return -1
    }
    if (n > this.end - this.offset) {
      this.fail(WireErrorCode.Truncated, field, this.offset,
        `${field} at offset ${this.offset}: needs ${n} bytes, ${this.end - this.offset} left`)
      return -1
    }
    const at = this.offset
    this.offset += n
    return at
  }

  u8 (field: string): number {
    const at = this.#take(1, field)
    return at < 0 ? 0 : this.buf[at] ?? 0
  }

  u16 (field: string): number {
    const at = this.#take(2, field)
    if (at < 0) return 0
    return ((this.buf[at] ?? 0) << 8) | (this.buf[at + 1] ?? 0)
  }

  u32 (field: string): number {
    const at = this.#take(4, field)
    if (at < 0) return 0
    return (((this.buf[at] ?? 0) << 24) | ((this.buf[at + 1] ?? 0) << 16) |
      ((this.buf[at + 2] ?? 0) << 8) | (this.buf[at + 3] ?? 0)) >>> 0
  }

  /** `n` bytes as a fresh plain Uint8Array (never aliases the input, even when it is a Buffer). */
  bytes (n: number, field: string): Uint8Array {
    const at = this.#take(n, field)
    return at < 0 ? new Uint8Array(0) : copyBytes(this.buf, at, at + n)
  }

  /** `n` bytes as a view into the input buffer (no copy). */
  view (n: number, field: string): Uint8Array {
    const at = this.#take(n, field)
    return at < 0 ? new Uint8Array(0) : this.buf.subarray(at, at + n)
  }

  /** All remaining bytes as a copy. */
  rest (field: string): Uint8Array {
    return this.bytes(this.remaining, field)
  }

  skip (n: number, field: string): void {
    this.#take(n, field)
  }

  /** Four bytes as a dotted-quad string. */
  ipv4 (field: string): string {
    return formatIPv4(this.u32(field))
  }

  /**
   * A reader over the next `n` bytes (offsets stay absolute in `buf`, so errors
   * from the sub-reader point into the original packet). On failure the
   * returned reader is empty and this reader holds the error.
   */
  sub (n: number, field: string): Reader {
    const at = this.#take(n, field)
    return at < 0 ? new Reader(this.buf, this.end, this.end) : new Reader(this.buf, at, at + n)
  }

  /** Record `RB_WIRE_TRAILING_BYTES` if anything is left unread. */
  expectEnd (field: string): void {
    if (this.#error === null && this.offset < this.end) {
      this.fail(WireErrorCode.TrailingBytes, field, this.offset,
        `${field} at offset ${this.offset}: ${this.end - this.offset} unexpected trailing bytes`)
    }
  }
}

function clamp (n: number, lo: number, hi: number): number {
  if (!Number.isFinite(n)) return n > 0 ? hi : lo
  return Math.min(Math.max(Math.trunc(n), lo), hi)
}
