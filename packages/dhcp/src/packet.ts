import {
  Reader, Writer, EncodeError, WireErrorCode, copyBytes, formatHardwareAddress, IPV4_ANY, type Codec
} from '@rackboot/wire'
import { DhcpErrorCode } from './errors.js'
import { Option } from './option-table.js'
import { OptionCollector, decodeOptionsArea, encodeOptions, optionsLength, type Options } from './options.js'
import { BootOp, expectedOp, messageTypeName } from './message-type.js'
import { latin1Bytes, latin1Text } from './option-values.js'
import { maxMessageSize } from './accessors.js'

/**
 * A BOOTP/DHCP message (RFC 2131 §2, figure 1). Wire names stay RFC names.
 * Addresses are dotted quads; `chaddr` holds exactly `hlen` bytes (the rest
 * of the 16-byte field is zero on the wire); `sname`/`file` are Latin-1 text
 * up to the first NUL. Options are raw bytes by code (see options.ts); option
 * 52 (overload) is consumed by the decoder and never appears in the map.
 */
export interface DhcpPacket {
  op: number
  htype: number
  hlen: number
  hops: number
  xid: number
  secs: number
  flags: number
  ciaddr: string
  yiaddr: string
  siaddr: string
  giaddr: string
  chaddr: Uint8Array
  sname: string
  file: string
  options: Options
}

export const MAGIC_COOKIE = 0x63825363
/** Fixed header up to and including the magic cookie. */
export const HEADER_LENGTH = 240
/** Offsets of the header fields (for error reporting and tests). */
export const FieldOffset = {
  op: 0, htype: 1, hlen: 2, hops: 3, xid: 4, secs: 8, flags: 10, ciaddr: 12, yiaddr: 16, siaddr: 20, giaddr: 24,
  chaddr: 28, sname: 44, file: 108, magicCookie: 236, options: 240
} as const
export const CHADDR_LENGTH = 16
export const SNAME_LENGTH = 64
export const FILE_LENGTH = 128
/**
 * RFC 1542 §3.4 / RFC 951: BOOTP relays and old clients expect at least the
 * 64-byte BOOTP vendor area, so messages are padded to 300 bytes.
 */
export const BOOTP_MIN_LENGTH = 300
/** RFC 2131 §2: the broadcast bit of `flags`. */
export const BROADCAST_FLAG = 0x8000
export const HardwareType = { Ethernet: 1, Ieee802: 6, Infiniband: 32 } as const

/**
 * Option 57 counts the largest DHCP message a client accepts and "The minimum
 * legal value is 576 octets" (RFC 2132 §9.10). RFC 2131 §2 ties 576 to "the
 * minimum IP datagram size" with a 312-octet options field, i.e. a 548-byte
 * DHCP message once the 20-byte IP and 8-byte UDP headers are counted. ISC
 * dhcpd reads option 57 that way (IP datagram size); iPXE sends 1472
 * (1500 − 28), i.e. reads it as the UDP payload. We take the conservative
 * reading: the largest reply is `max(576, option 57) − 28`, which fits either.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 576
export const IP_UDP_HEADER_LENGTH = 28
export const DEFAULT_MAX_REPLY_SIZE = DEFAULT_MAX_MESSAGE_SIZE - IP_UDP_HEADER_LENGTH

/** A packet with every field zero/empty; fill in what you need. */
export function createPacket (fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BootOp.Request,
    htype: HardwareType.Ethernet,
    hlen: fields.chaddr?.length ?? 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: IPV4_ANY,
    yiaddr: IPV4_ANY,
    siaddr: IPV4_ANY,
    giaddr: IPV4_ANY,
    chaddr: new Uint8Array(6),
    sname: '',
    file: '',
    options: new Map(),
    ...fields
  }
}

/** `chaddr` as lowercase colon hex (`aa:bb:cc:dd:ee:ff` for Ethernet). */
export function clientHardwareAddress (packet: DhcpPacket): string {
  return formatHardwareAddress(packet.chaddr)
}

export function isBroadcastFlagSet (packet: DhcpPacket): boolean {
  return (packet.flags & BROADCAST_FLAG) !== 0
}

function fixedText (bytes: Uint8Array): string {
  const nul = bytes.indexOf(0)
  return latin1Text(nul < 0 ? bytes : bytes.subarray(0, nul))
}

function decodePacket (r: Reader): DhcpPacket {
  const start = r.offset
  const op = r.u8('op')
  const htype = r.u8('htype')
  const hlen = r.u8('hlen')
  const hops = r.u8('hops')
  const xid = r.u32('xid')
  const secs = r.u16('secs')
  const flags = r.u16('flags')
  const ciaddr = r.ipv4('ciaddr')
  const yiaddr = r.ipv4('yiaddr')
  const siaddr = r.ipv4('siaddr')
  const giaddr = r.ipv4('giaddr')
  const chaddrField = r.view(CHADDR_LENGTH, 'chaddr')
  const snameStart = r.offset
  const snameField = r.view(SNAME_LENGTH, 'sname')
  const fileStart = r.offset
  const fileField = r.view(FILE_LENGTH, 'file')
  const cookie = r.u32('magicCookie')
  r.check()

  if (op !== BootOp.Request && op !== BootOp.Reply) {
    r.fail(DhcpErrorCode.BadOp, 'op', start + FieldOffset.op, `op ${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`)
  }
  // RFC 2131 §2: chaddr is 16 bytes; a larger hlen cannot be honoured.
  if (hlen > CHADDR_LENGTH) {
    r.fail(DhcpErrorCode.BadHlen, 'hlen', start + FieldOffset.hlen, `hlen ${hlen} exceeds the 16-byte chaddr field`)
  }
  if (cookie !== MAGIC_COOKIE) {
    r.fail(DhcpErrorCode.BadCookie, 'magicCookie', start + FieldOffset.magicCookie,
      `magic cookie 0x${cookie.toString(16).padStart(8, '0')} is not 0x63825363`)
  }
  r.check()

  const collector = new OptionCollector()
  decodeOptionsArea(r, collector, 'options')
  r.check()

  let sname = fixedText(snameField)
  let file = fixedText(fileField)
  // RFC 2131 §4.1 / RFC 2132 §9.3: option 52 says file and/or sname carry
  // options. RFC 3396 §7: the aggregate is options, then file, then sname.
  const overload = collector.get(Option.Overload)
  if (overload !== undefined) {
    collector.delete(Option.Overload)
    const value = overload.length === 1 ? overload[0] ?? 0 : 0
    if (value < 1 || value > 3) {
      r.fail(DhcpErrorCode.BadOverload, 'options.overload', start + FieldOffset.options,
        `option 52 (overload) must be one byte 1..3, got ${overload.length} bytes`)
      r.check()
    }
    if ((value & 1) !== 0) {
      decodeOverloadedArea(r, fileStart, FILE_LENGTH, collector, 'file')
      file = ''
    }
    r.check()
    if ((value & 2) !== 0) {
      decodeOverloadedArea(r, snameStart, SNAME_LENGTH, collector, 'sname')
      sname = ''
    }
  }
  const options = collector.toMap()

  // Strict where RFC 2131 is: a client message type must be a BOOTREQUEST
  // and a server message type a BOOTREPLY. A mismatch is a forged or broken
  // packet; nothing good comes of answering it. A missing or malformed option
  // 53 is not checked here (BOOTP, or `messageType()` reads as absent).
  const mt = options.get(Option.MessageType)
  if (mt !== undefined && mt.length === 1 && r.ok) {
    const want = expectedOp(mt[0] ?? 0)
    if (want !== undefined && want !== op) {
      r.fail(DhcpErrorCode.OpMismatch, 'op', start + FieldOffset.op,
        `message type ${messageTypeName(mt[0] ?? 0)} travels with op ${want}, got op ${op}`)
    }
  }
  r.check()

  return {
    op,
    htype,
    hlen,
    hops,
    xid,
    secs,
    flags,
    ciaddr,
    yiaddr,
    siaddr,
    giaddr,
    chaddr: copyBytes(chaddrField, 0, hlen),
    sname,
    file,
    options
  }
}

/** Decode an overloaded `file`/`sname` field; its error (if any) becomes the packet reader's error. */
function decodeOverloadedArea (r: Reader, start: number, length: number, into: OptionCollector, area: string): void {
  const sub = new Reader(r.buf, start, start + length)
  decodeOptionsArea(sub, into, area)
  const err = sub.error
  if (err !== null) r.fail(err.code, err.field, err.offset, err.message)
}

function checkHeader (p: DhcpPacket): { sname: Uint8Array, file: Uint8Array } {
  if (p.hlen > CHADDR_LENGTH || p.chaddr.length !== p.hlen) {
    throw new EncodeError(DhcpErrorCode.BadHlen, 'chaddr',
      `chaddr has ${p.chaddr.length} bytes and hlen is ${p.hlen}; they must match and be at most 16`)
  }
  const sname = latin1Bytes(p.sname, 'sname')
  const file = latin1Bytes(p.file, 'file')
  if (sname.length > SNAME_LENGTH) throw new EncodeError(DhcpErrorCode.BadField, 'sname', `sname is ${sname.length} bytes (max 64)`)
  if (file.length > FILE_LENGTH) throw new EncodeError(DhcpErrorCode.BadField, 'file', `file is ${file.length} bytes (max 128)`)
  return { sname, file }
}

/** Bytes `p` takes on the wire (padded to 300); `extra` for options the codec adds (option 52). */
function packetLength (p: DhcpPacket, extra = 0): number {
  return Math.max(BOOTP_MIN_LENGTH, HEADER_LENGTH + extra + optionsLength(p.options) + 1)
}

function encodePacket (p: DhcpPacket, w: Writer): void {
  const { sname, file } = checkHeader(p)
  const start = w.offset
  const length = packetLength(p)
  if (w.remaining < length) {
    throw new EncodeError(WireErrorCode.Overflow, 'packet', `packet needs ${length} bytes, the buffer has ${w.remaining} left`)
  }
  w.u8(p.op, 'op')
  w.u8(p.htype, 'htype')
  w.u8(p.hlen, 'hlen')
  w.u8(p.hops, 'hops')
  w.u32(p.xid, 'xid')
  w.u16(p.secs, 'secs')
  w.u16(p.flags, 'flags')
  w.ipv4(p.ciaddr, 'ciaddr')
  w.ipv4(p.yiaddr, 'yiaddr')
  w.ipv4(p.siaddr, 'siaddr')
  w.ipv4(p.giaddr, 'giaddr')
  w.bytes(p.chaddr, 'chaddr')
  w.zeros(CHADDR_LENGTH - p.chaddr.length, 'chaddr')
  w.bytes(sname, 'sname')
  w.zeros(SNAME_LENGTH - sname.length, 'sname')
  w.bytes(file, 'file')
  w.zeros(FILE_LENGTH - file.length, 'file')
  w.u32(MAGIC_COOKIE, 'magicCookie')
  encodeOptions(p.options, w)
  w.u8(Option.End, 'options.end')
  w.zeros(length - (w.offset - start), 'padding')
}

/**
 * The packet codec. `encodingLength` includes the padding to 300 bytes.
 * `decode` throws the single `DecodeError` of the packet (it reads to the end
 * of the reader's window: the UDP payload is the packet).
 */
export const packetCodec: Codec<DhcpPacket> = {
  encodingLength: packetLength,
  encode: encodePacket,
  decode (r) {
    const p = decodePacket(r)
    r.offset = r.end // trailing bytes after End are padding
    return p
  }
}

export interface EncodeOptions {
  /**
   * Largest acceptable message in bytes (the UDP payload). Default 548
   * (`DEFAULT_MAX_REPLY_SIZE`); for a reply use `maxReplySize(request)`.
   */
  maxSize?: number
}

/**
 * Encode into a fresh buffer: size once, check against `maxSize`, allocate
 * once. A message that does not fit throws `EncodeError` `RB_DHCP_TOO_LARGE`;
 * nothing is ever silently dropped or truncated.
 */
export function encode (packet: DhcpPacket, options: EncodeOptions = {}): Buffer {
  const maxSize = options.maxSize ?? DEFAULT_MAX_REPLY_SIZE
  const length = packetLength(packet)
  if (length > maxSize) {
    throw new EncodeError(DhcpErrorCode.TooLarge, 'packet',
      `the message needs ${length} bytes but the peer accepts at most ${maxSize}`)
  }
  const buf = Buffer.alloc(length)
  encodePacket(packet, new Writer(buf))
  return buf
}

/**
 * Encode with option overload (RFC 2132 §9.3): `p.options` in the options field after
 * option 52, `file` and/or `sname` carrying the options given for them, each area ended
 * by End. The header's `file`/`sname` text must be empty where the area carries options.
 * No size check: `encodeFitted` sizes the areas.
 */
export function encodeOverloaded (p: DhcpPacket, areas: { file?: Options; sname?: Options }): Buffer {
  const overload = (areas.file === undefined ? 0 : 1) | (areas.sname === undefined ? 0 : 2)
  if (overload === 0) return encode(p, { maxSize: Number.MAX_SAFE_INTEGER })
  if ((areas.file !== undefined && p.file !== '') || (areas.sname !== undefined && p.sname !== '')) {
    throw new EncodeError(DhcpErrorCode.BadOverload, 'packet', 'an overloaded file or sname field cannot also carry its text')
  }
  const length = packetLength(p, 3)
  const buf = Buffer.alloc(length)
  const w = new Writer(buf)
  // The header, then 52 first in the options field (option 82 stays the last option).
  encodePacket({ ...p, options: new Map() }, w)
  w.offset = FieldOffset.options
  w.u8(Option.Overload, 'options.overload')
  w.u8(1, 'options.overload')
  w.u8(overload, 'options.overload')
  encodeOptions(p.options, w)
  w.u8(Option.End, 'options.end')
  const area = (options: Options, start: number, size: number, field: string): void => {
    const aw = new Writer(buf.subarray(start, start + size))
    encodeOptions(options, aw)
    if (aw.remaining < 1) throw new EncodeError(WireErrorCode.Overflow, field, `the options for ${field} need more than its ${size} bytes`)
    aw.u8(Option.End, `${field}.end`)
  }
  if (areas.file !== undefined) area(areas.file, FieldOffset.file, FILE_LENGTH, 'file')
  if (areas.sname !== undefined) area(areas.sname, FieldOffset.sname, SNAME_LENGTH, 'sname')
  return buf
}

/** Encode into a caller-owned buffer at `offset`; returns the number of bytes written. */
export function encodeInto (packet: DhcpPacket, buf: Uint8Array, offset = 0): number {
  const w = new Writer(buf, offset)
  encodePacket(packet, w)
  return w.offset - offset
}

/** Decode a whole UDP payload. Throws only `DecodeError`. */
export function decode (buf: Uint8Array): DhcpPacket {
  return decodePacket(new Reader(buf))
}

/**
 * The largest reply `request`'s sender accepts: `max(576, option 57) − 28`
 * (see `DEFAULT_MAX_MESSAGE_SIZE`). Option 57 below 576 is illegal and reads
 * as absent.
 */
export function maxReplySize (request: DhcpPacket): number {
  return Math.max(DEFAULT_MAX_MESSAGE_SIZE, maxMessageSize(request) ?? 0) - IP_UDP_HEADER_LENGTH
}
