import { EncodeError, WireErrorCode } from './errors.js'
import { parseIPv4 } from './ipv4.js'

/**
 * A bounds-checked cursor that writes into a caller-owned buffer.
 *
 * Encoders size first (`encodingLength`) and allocate once, so running out of
 * room is a caller bug: it throws `EncodeError` (`RB_WIRE_OVERFLOW`)
 * immediately, before anything is written past the end. Out-of-range values
 * throw `RB_WIRE_VALUE_RANGE` instead of wrapping.
 */
export class Writer {
  readonly buf: Uint8Array
  readonly end: number
  offset: number

  constructor (buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = buf
    this.end = Math.min(end, buf.length)
    if (!Number.isInteger(offset) || offset < 0 || offset > this.end) {
      throw new EncodeError(WireErrorCode.Overflow, 'offset', `offset ${offset} is outside the buffer (0..${this.end})`)
    }
    this.offset = offset
  }

  get remaining (): number {
    return this.end - this.offset
  }

  #take (n: number, field: string): number {
    if (n > this.end - this.offset) {
      throw new EncodeError(WireErrorCode.Overflow, field,
        `${field}: needs ${n} bytes at offset ${this.offset}, only ${this.end - this.offset} left`)
    }
    const at = this.offset
    this.offset += n
    return at
  }

  u8 (value: number, field = 'u8'): void {
    checkInt(value, 0xff, field)
    const at = this.#take(1, field)
    this.buf[at] = value
  }

  u16 (value: number, field = 'u16'): void {
    checkInt(value, 0xffff, field)
    const at = this.#take(2, field)
    this.buf[at] = value >>> 8
    this.buf[at + 1] = value & 0xff
  }

  u32 (value: number, field = 'u32'): void {
    checkInt(value, 0xffffffff, field)
    const at = this.#take(4, field)
    this.buf[at] = value >>> 24
    this.buf[at + 1] = (value >>> 16) & 0xff
    this.buf[at + 2] = (value >>> 8) & 0xff
    this.buf[at + 3] = value & 0xff
  }

  bytes (value: Uint8Array, field = 'bytes'): void {
    const at = this.#take(value.length, field)
    this.buf.set(value, at)
  }

  zeros (n: number, field = 'zeros'): void {
    if (!Number.isInteger(n) || n < 0) throw new EncodeError(WireErrorCode.ValueRange, field, `${field}: bad length ${n}`)
    const at = this.#take(n, field)
    this.buf.fill(0, at, at + n)
  }

  /** An IPv4 address given as a dotted quad or a uint32. */
  ipv4 (value: string | number, field = 'ipv4'): void {
    let n: number
    if (typeof value === 'number') {
      n = value
    } else {
      try {
        n = parseIPv4(value, field)
      } catch {
        throw new EncodeError(WireErrorCode.BadIpv4, field, `${field} (${JSON.stringify(value)}) is not an IPv4 address`)
      }
    }
    this.u32(n, field)
  }
}

function checkInt (value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(WireErrorCode.ValueRange, field, `${field} (${value}) is not an integer in 0..${max}`)
  }
}
