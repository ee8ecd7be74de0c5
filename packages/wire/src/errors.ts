/**
 * Error types shared by every rackboot codec.
 *
 * Wire errors are data about a bad packet, not bugs: the service that owns the
 * socket catches `DecodeError`, counts it by `code`, logs it once and drops the
 * packet. Callers branch on `code`, never on the message text.
 */

/** Stable error codes of `@rackboot/wire`. */
export const WireErrorCode = {
  /** A read needed more bytes than the buffer holds. */
  Truncated: 'RB_WIRE_TRUNCATED',
  /** A length was negative or not an integer (a decoder bug or a hostile length). */
  BadLength: 'RB_WIRE_BAD_LENGTH',
  /** Bytes were left over after a value that must fill its buffer exactly. */
  TrailingBytes: 'RB_WIRE_TRAILING_BYTES',
  /** Text is not a dotted-quad IPv4 address. */
  BadIpv4: 'RB_WIRE_BAD_IPV4',
  /** Text is not `a.b.c.d/n` with n in 0..32. */
  BadCidr: 'RB_WIRE_BAD_CIDR',
  /** Text or bytes are not a 6-byte MAC address. */
  BadMac: 'RB_WIRE_BAD_MAC',
  /** A write went past the end of the destination buffer. */
  Overflow: 'RB_WIRE_OVERFLOW',
  /** A value does not fit the wire type (u8 300, u16 -1, 1.5). */
  ValueRange: 'RB_WIRE_VALUE_RANGE'
} as const

export type WireErrorCode = typeof WireErrorCode[keyof typeof WireErrorCode]

/**
 * A packet (or a piece of text) could not be decoded.
 *
 * `field` names the element being read (`xid`, `options.server-identifier`,
 * `ipv4`), `offset` is the byte (or character) offset where that element
 * starts or where the failure was detected.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError'
  readonly code: string
  readonly field: string
  readonly offset: number

  constructor (code: string, field: string, offset: number, message?: string) {
    super(message ?? `${field} at offset ${offset}: ${code}`)
    this.code = code
    this.field = field
    this.offset = offset
  }
}

/**
 * A value could not be encoded: it does not fit its wire type, the destination
 * buffer is too small, or the whole message exceeds the peer's maximum size.
 * Encoding never truncates silently.
 */
export class EncodeError extends Error {
  override readonly name = 'EncodeError'
  readonly code: string
  readonly field: string

  constructor (code: string, field: string, message?: string) {
    super(message ?? `${field}: ${code}`)
    this.code = code
    this.field = field
  }
}

export function isDecodeError (err: unknown): err is DecodeError {
  return err instanceof DecodeError
}

export function isEncodeError (err: unknown): err is EncodeError {
  return err instanceof EncodeError
}
