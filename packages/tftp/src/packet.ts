/**
 * TFTP packet codec: RRQ, WRQ, DATA, ACK, ERROR (RFC 1350) and OACK (RFC 2347).
 *
 * Strings are NUL-terminated octet strings on the wire. They are decoded as
 * latin1, which maps every byte to one UTF-16 code unit, so `decode(encode(p))`
 * and `encode(decode(b))` are exact for any bytes. A FileSource that wants
 * UTF-8 names converts (see `wireNameToUtf8`).
 *
 * `decode` throws only `TftpDecodeError` (never a Node RangeError): every read
 * is bounds-checked against the buffer length first.
 */
import { TftpDecodeError, TftpEncodeError } from './errors.js'

export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6
} as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** One option as it appeared on the wire: name spelling and order are kept. */
export interface TftpOption { name: string, value: string }

export interface RequestPacket {
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ
  filename: string
  mode: string
  options: TftpOption[]
}
export interface DataPacket { opcode: typeof Opcode.DATA, block: number, data: Uint8Array }
export interface AckPacket { opcode: typeof Opcode.ACK, block: number }
export interface ErrorPacket { opcode: typeof Opcode.ERROR, errorCode: number, message: string }
export interface OackPacket { opcode: typeof Opcode.OACK, options: TftpOption[] }

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket

/** Largest DATA payload any option can negotiate (RFC 2348). */
export const MAX_BLKSIZE = 65464
/** Block size without the blksize option (RFC 1350). */
export const DEFAULT_BLKSIZE = 512

function checkString (s: string, field: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0 || c > 0xff) {
      throw new TftpEncodeError('RB_TFTP_BAD_STRING', field,
        `${field} contains ${c === 0 ? 'a NUL byte' : `a character outside latin1 (U+${c.toString(16)})`} at index ${i}`)
    }
  }
}

function checkU16 (n: number, field: string, code: 'RB_TFTP_BAD_BLOCK' | 'RB_TFTP_BAD_ERROR_CODE'): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new TftpEncodeError(code, field, `${field} (${n}) is not an integer in 0..65535`)
  }
}

function optionsLength (options: readonly TftpOption[]): number {
  let n = 0
  for (const o of options) n += o.name.length + 1 + o.value.length + 1
  return n
}

/** Number of bytes `encode(packet)` produces. */
export function encodingLength (packet: TftpPacket): number {
  switch (packet.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return 2 + packet.filename.length + 1 + packet.mode.length + 1 + optionsLength(packet.options)
    case Opcode.DATA:
      return 4 + packet.data.length
    case Opcode.ACK:
      return 4
    case Opcode.ERROR:
      return 4 + packet.message.length + 1
    case Opcode.OACK:
      return 2 + optionsLength(packet.options)
  }
}

function writeString (buf: Buffer, offset: number, s: string, field: string): number {
  checkString(s, field)
  offset += buf.write(s, offset, 'latin1')
  buf[offset] = 0
  return offset + 1
}

function writeOptions (buf: Buffer, offset: number, options: readonly TftpOption[]): number {
  for (const o of options) {
    offset = writeString(buf, offset, o.name, 'option name')
    offset = writeString(buf, offset, o.value, `option ${o.name}`)
  }
  return offset
}

/**
 * Encode into `buf` at `offset`; returns the offset after the packet.
 * The caller sizes `buf` with `encodingLength`.
 */
export function encodeInto (packet: TftpPacket, buf: Buffer, offset = 0): number {
  const need = encodingLength(packet)
  if (offset < 0 || offset + need > buf.length) {
    throw new RangeError(`encodeInto: ${need} bytes do not fit at offset ${offset} of a ${buf.length}-byte buffer`)
  }
  buf.writeUInt16BE(packet.opcode, offset)
  offset += 2
  switch (packet.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      offset = writeString(buf, offset, packet.filename, 'filename')
      offset = writeString(buf, offset, packet.mode, 'mode')
      return writeOptions(buf, offset, packet.options)
    case Opcode.DATA:
      checkU16(packet.block, 'block', 'RB_TFTP_BAD_BLOCK')
      buf.writeUInt16BE(packet.block, offset)
      buf.set(packet.data, offset + 2)
      return offset + 2 + packet.data.length
    case Opcode.ACK:
      checkU16(packet.block, 'block', 'RB_TFTP_BAD_BLOCK')
      buf.writeUInt16BE(packet.block, offset)
      return offset + 2
    case Opcode.ERROR:
      checkU16(packet.errorCode, 'errorCode', 'RB_TFTP_BAD_ERROR_CODE')
      buf.writeUInt16BE(packet.errorCode, offset)
      return writeString(buf, offset + 2, packet.message, 'message')
    case Opcode.OACK:
      return writeOptions(buf, offset, packet.options)
  }
}

/** Encode a packet into a new buffer of exactly `encodingLength(packet)` bytes. */
export function encode (packet: TftpPacket): Buffer {
  const buf = Buffer.allocUnsafe(encodingLength(packet))
  encodeInto(packet, buf, 0)
  return buf
}

/** Read a NUL-terminated string starting at `offset`; returns [value, offset after the NUL]. */
function readString (buf: Uint8Array, offset: number, field: string): [string, number] {
  const end = buf.indexOf(0, offset)
  if (end < 0) {
    throw new TftpDecodeError('RB_TFTP_UNTERMINATED_STRING', field, offset,
      `${field} at offset ${offset} has no terminating NUL byte`)
  }
  return [Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString('latin1'), end + 1]
}

function allZero (buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}

function readOptions (buf: Uint8Array, offset: number): TftpOption[] {
  const options: TftpOption[] = []
  while (offset < buf.length) {
    // Some PXE ROMs pad requests with NUL bytes after the last option: an
    // empty option name followed only by NULs ends the list.
    if (buf[offset] === 0) {
      if (allZero(buf, offset)) break
      throw new TftpDecodeError('RB_TFTP_BAD_OPTIONS', 'option name', offset,
        `empty option name at offset ${offset}`)
    }
    const [name, afterName] = readString(buf, offset, 'option name')
    if (afterName >= buf.length) {
      throw new TftpDecodeError('RB_TFTP_BAD_OPTIONS', `option ${name}`, afterName,
        `option ${name} has no value`)
    }
    const [value, afterValue] = readString(buf, afterName, `option ${name}`)
    options.push({ name, value })
    offset = afterValue
  }
  return options
}

/**
 * The block number when `buf[offset, offset + length)` is an ACK, else -1 (decode() it then).
 * What decode() would answer for an ACK, without a view or an object: the server's hot path.
 */
export function ackBlock (buf: Uint8Array, offset: number, length: number): number {
  if (length < 4 || buf[offset] !== 0 || buf[offset + 1] !== Opcode.ACK) return -1
  return (buf[offset + 2]! << 8) | buf[offset + 3]!
}

/**
 * Decode one TFTP packet. DATA payloads are views into `buf` (no copy).
 * Throws `TftpDecodeError` with a stable `code`.
 */
export function decode (buf: Uint8Array): TftpPacket {
  if (buf.length < 2) {
    throw new TftpDecodeError('RB_TFTP_TRUNCATED', 'opcode', 0,
      `packet of ${buf.length} bytes is shorter than an opcode`)
  }
  const opcode = (buf[0]! << 8) | buf[1]!
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const [filename, afterName] = readString(buf, 2, 'filename')
      const [mode, afterMode] = readString(buf, afterName, 'mode')
      return { opcode, filename, mode, options: readOptions(buf, afterMode) }
    }
    case Opcode.DATA:
    case Opcode.ACK:
    case Opcode.ERROR: {
      if (buf.length < 4) {
        const field = opcode === Opcode.ERROR ? 'errorCode' : 'block'
        throw new TftpDecodeError('RB_TFTP_TRUNCATED', field, 2,
          `${field} needs 2 bytes at offset 2, packet has ${buf.length} bytes`)
      }
      const n = (buf[2]! << 8) | buf[3]!
      if (opcode === Opcode.DATA) return { opcode, block: n, data: buf.subarray(4) }
      // Trailing bytes after an ACK are ignored (some embedded clients pad).
      if (opcode === Opcode.ACK) return { opcode, block: n }
      // An ERROR message without its NUL is accepted up to the end of the packet:
      // it is informational and some clients omit the terminator.
      const end = buf.indexOf(0, 4)
      const message = Buffer.from(buf.buffer, buf.byteOffset + 4, (end < 0 ? buf.length : end) - 4).toString('latin1')
      return { opcode, errorCode: n, message }
    }
    case Opcode.OACK:
      return { opcode, options: readOptions(buf, 2) }
    default:
      throw new TftpDecodeError('RB_TFTP_BAD_OPCODE', 'opcode', 0, `unknown opcode ${opcode}`)
  }
}

/** The option value for `name` (case-insensitive, first occurrence), or undefined. */
export function getOption (options: readonly TftpOption[], name: string): string | undefined {
  const lower = name.toLowerCase()
  for (const o of options) if (o.name.toLowerCase() === lower) return o.value
  return undefined
}

/**
 * Convert a wire (latin1) string to the UTF-8 name it spells, or undefined if
 * the bytes are not valid UTF-8.
 */
export function wireNameToUtf8 (name: string): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(name, 'latin1'))
  } catch {
    return undefined
  }
}

/** Convert a UTF-8 name to the wire (latin1) string a client sends for it. */
export function utf8ToWireName (name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1')
}
