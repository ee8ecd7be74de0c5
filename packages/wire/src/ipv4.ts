import { DecodeError, WireErrorCode } from './errors.js'

/**
 * IPv4 helpers. Three representations: dotted-quad text (`'10.0.0.1'`, what
 * packets and config use), a uint32 (for arithmetic and comparisons) and 4
 * network-order bytes.
 */

export const IPV4_ANY = '0.0.0.0'
export const IPV4_BROADCAST = '255.255.255.255'

/**
 * Parse a dotted quad into a uint32. Strict: exactly four decimal octets
 * 0..255, no leading zeros (`010` is octal to some parsers and decimal to
 * others, so it is refused), no whitespace. Throws `DecodeError`
 * `RB_WIRE_BAD_IPV4` whose offset is the character where parsing failed.
 */
export function parseIPv4 (text: string, field = 'ipv4'): number {
  const n = scanIPv4(text)
  if (n < 0) {
    throw new DecodeError(WireErrorCode.BadIpv4, field, -n - 1,
      `${field} (${JSON.stringify(text)}) is not an IPv4 address`)
  }
  return n
}

/** Like `parseIPv4` but returns null instead of throwing. */
export function tryParseIPv4 (text: string): number | null {
  const n = scanIPv4(text)
  return n < 0 ? null : n
}

export function isIPv4 (text: unknown): text is string {
  return typeof text === 'string' && scanIPv4(text) >= 0
}

/** Returns the uint32, or -(failing character index + 1). */
function scanIPv4 (text: string): number {
  if (typeof text !== 'string') return -1
  let value = 0
  let i = 0
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(i) !== 0x2e) return -(i + 1)
      i++
    }
    const begin = i
    let octet = 0
    while (i < text.length && i - begin < 4) {
      const c = text.charCodeAt(i)
      if (c < 0x30 || c > 0x39) break
      octet = octet * 10 + (c - 0x30)
      i++
    }
    const digits = i - begin
    if (digits === 0 || digits > 3 || octet > 255) return -(begin + 1)
    if (digits > 1 && text.charCodeAt(begin) === 0x30) return -(begin + 1)
    value = value * 256 + octet
  }
  if (i !== text.length) return -(i + 1)
  return value
}

/** Format a uint32 as a dotted quad. A non-uint32 is a caller bug (TypeError). */
export function formatIPv4 (value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new TypeError(`${value} is not a uint32 IPv4 address`)
  }
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`
}

/** 4 network-order bytes of an address given as text or uint32. */
export function ipv4ToBytes (address: string | number): Uint8Array {
  const n = typeof address === 'number' ? address : parseIPv4(address)
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new TypeError(`${n} is not a uint32 IPv4 address`)
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
}

/** Dotted quad from 4 bytes at `offset`. Throws `DecodeError` `RB_WIRE_TRUNCATED` if fewer remain. */
export function ipv4FromBytes (bytes: Uint8Array, offset = 0): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + 4 > bytes.length) {
    throw new DecodeError(WireErrorCode.Truncated, 'ipv4', offset)
  }
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`
}

export function ipv4ToUint32 (address: string): number {
  return parseIPv4(address)
}

export function uint32ToIPv4 (value: number): string {
  return formatIPv4(value)
}

/** The netmask (uint32) of a prefix length 0..32. */
export function prefixToMask (prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new TypeError(`${prefix} is not a prefix length 0..32`)
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/** The prefix length of a contiguous netmask, or null if the mask has holes. */
export function maskToPrefix (mask: string | number): number | null {
  const m = typeof mask === 'number' ? mask : tryParseIPv4(mask)
  if (m === null || !Number.isInteger(m) || m < 0 || m > 0xffffffff) return null
  const inverted = (~m) >>> 0
  // contiguous iff the inverted mask is 2^k - 1
  if ((inverted & (inverted + 1)) !== 0) return null
  return 32 - countBits(inverted)
}

function countBits (n: number): number {
  let c = 0
  for (let v = n; v !== 0; v >>>= 1) c += v & 1
  return c
}

export interface Cidr {
  /** Network address (host bits cleared), uint32. */
  readonly network: number
  readonly prefix: number
  /** Netmask, uint32. */
  readonly mask: number
}

/**
 * Parse `a.b.c.d/n`. By default host bits must be zero (`10.0.0.1/24` is
 * refused: it usually means a typo); pass `{ strict: false }` to mask them.
 * Throws `DecodeError` `RB_WIRE_BAD_CIDR`.
 */
export function parseCidr (text: string, options: { strict?: boolean, field?: string } = {}): Cidr {
  const field = options.field ?? 'cidr'
  const bad = (offset: number): DecodeError => new DecodeError(WireErrorCode.BadCidr, field, offset,
    `${field} (${JSON.stringify(text)}) is not an IPv4 CIDR like 10.0.0.0/24`)
  if (typeof text !== 'string') throw bad(0)
  const slash = text.indexOf('/')
  if (slash < 0) throw bad(text.length)
  const address = tryParseIPv4(text.slice(0, slash))
  if (address === null) throw bad(0)
  const prefixText = text.slice(slash + 1)
  if (!/^(?:0|[1-9]\d?)$/.test(prefixText) || Number(prefixText) > 32) throw bad(slash + 1)
  const prefix = Number(prefixText)
  const mask = prefixToMask(prefix)
  const network = (address & mask) >>> 0
  if (options.strict !== false && network !== address) throw bad(0)
  return { network, prefix, mask }
}

export function formatCidr (cidr: Cidr): string {
  return `${formatIPv4(cidr.network)}/${cidr.prefix}`
}

/** Whether `address` lies inside `cidr` (given parsed or as text). */
export function cidrContains (cidr: Cidr | string, address: string | number): boolean {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr
  const a = typeof address === 'number' ? address : parseIPv4(address)
  return ((a & c.mask) >>> 0) === c.network
}

/** The directed broadcast address of a CIDR, uint32. */
export function cidrBroadcast (cidr: Cidr): number {
  return (cidr.network | (~cidr.mask >>> 0)) >>> 0
}

/** Whether two CIDRs share any address. */
export function cidrOverlaps (a: Cidr, b: Cidr): boolean {
  const mask = a.prefix < b.prefix ? a.mask : b.mask
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0)
}

/** Whether `address` lies in the inclusive range `first..last`. */
export function ipv4InRange (address: string | number, first: string | number, last: string | number): boolean {
  const a = typeof address === 'number' ? address : parseIPv4(address)
  const lo = typeof first === 'number' ? first : parseIPv4(first)
  const hi = typeof last === 'number' ? last : parseIPv4(last)
  return a >= lo && a <= hi
}

/** Number of addresses in the inclusive range `first..last` (0 if last < first). */
export function ipv4RangeSize (first: string | number, last: string | number): number {
  const lo = typeof first === 'number' ? first : parseIPv4(first)
  const hi = typeof last === 'number' ? last : parseIPv4(last)
  return hi < lo ? 0 : hi - lo + 1
}

/** `address + delta` as text, or null if it leaves 0.0.0.0..255.255.255.255. */
export function ipv4Add (address: string | number, delta: number): string | null {
  const a = typeof address === 'number' ? address : parseIPv4(address)
  const r = a + delta
  return Number.isInteger(r) && r >= 0 && r <= 0xffffffff ? formatIPv4(r) : null
}

/** A parsed CIDR with its first and last address, and whether the text had host bits set. */
export interface Subnet extends Cidr {
  /** The network address (= `network`), uint32. */
  readonly first: number
  /** The broadcast address, uint32. */
  readonly last: number
  /** `10.77.0.5/24`: the address had bits below the prefix (masked off in `network`). */
  readonly hostBits: boolean
}

/** Parse `a.b.c.d/n`, host bits allowed and reported; null when it is not a CIDR. */
export function tryParseSubnet (text: string): Subnet | null {
  let c: Cidr
  try { c = parseCidr(text, { strict: false }) } catch { return null }
  const address = tryParseIPv4(text.slice(0, text.indexOf('/')))
  return { ...c, first: c.network, last: cidrBroadcast(c), hostBits: address !== c.network }
}

/** An inclusive range of addresses, uint32. */
export interface Ipv4Range { readonly start: number; readonly end: number }

/**
 * Parse `first-last` or a single address (a range of one); null when it is neither. Does not
 * require start <= end: callers say which end is wrong.
 */
export function tryParseIPv4Range (text: string): Ipv4Range | null {
  if (typeof text !== 'string') return null
  const dash = text.indexOf('-')
  if (dash < 0) {
    const ip = tryParseIPv4(text.trim())
    return ip === null ? null : { start: ip, end: ip }
  }
  const start = tryParseIPv4(text.slice(0, dash).trim())
  const end = tryParseIPv4(text.slice(dash + 1).trim())
  return start === null || end === null ? null : { start, end }
}

/** Whether two ranges share an address. */
export function rangesOverlap (a: Ipv4Range, b: Ipv4Range): boolean {
  return a.start <= b.end && b.start <= a.end
}
