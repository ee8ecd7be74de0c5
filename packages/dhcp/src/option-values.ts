import { formatIPv4, type Codec, type Reader, EncodeError } from '@rackboot/wire'
import { DhcpErrorCode } from './errors.js'

/**
 * Codecs for option *values* (the bytes after code and length). Each decodes
 * from a reader bounded to exactly one option's value; a value that does not
 * fit its type records `RB_DHCP_BAD_VALUE`, and the typed accessor then
 * reports the option as absent (insomniacslk: a bad value is no value).
 */

export function badValue (r: Reader, what: string): void {
  r.fail(DhcpErrorCode.BadValue, 'value', r.offset, `value at offset ${r.offset}: ${what}`)
}

export function encodeFail (field: string, what: string): never {
  throw new EncodeError(DhcpErrorCode.BadValue, field, `${field}: ${what}`)
}

export const u8Value: Codec<number> = {
  encodingLength: () => 1,
  encode: (v, w) => w.u8(v, 'value'),
  decode: r => r.u8('value')
}

export const u16Value: Codec<number> = {
  encodingLength: () => 2,
  encode: (v, w) => w.u16(v, 'value'),
  decode: r => r.u16('value')
}

export const u32Value: Codec<number> = {
  encodingLength: () => 4,
  encode: (v, w) => w.u32(v, 'value'),
  decode: r => r.u32('value')
}

/** A u16 with a floor: option 57 (≥ 576), option 26 (≥ 68). Below the floor reads as absent. */
export function u16AtLeast (min: number): Codec<number> {
  return {
    encodingLength: () => 2,
    encode (v, w) {
      if (v < min) encodeFail('value', `${v} is below the minimum ${min}`)
      w.u16(v, 'value')
    },
    decode (r) {
      const v = r.u16('value')
      if (r.ok && v < min) badValue(r, `${v} is below the minimum ${min}`)
      return v
    }
  }
}

/** Signed 32-bit (option 2, time offset). */
export const i32Value: Codec<number> = {
  encodingLength: () => 4,
  encode (v, w) {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) encodeFail('value', `${v} is not an int32`)
    w.u32(v >>> 0, 'value')
  },
  decode: r => r.u32('value') | 0
}

/** Zero-length flag option (rapid commit): present means true. */
export const flagValue: Codec<true> = {
  encodingLength: () => 0,
  encode () {},
  decode: () => true
}

export const ipv4Value: Codec<string> = {
  encodingLength: () => 4,
  encode: (v, w) => w.ipv4(v, 'value'),
  decode: r => r.ipv4('value')
}

/** One or more IPv4 addresses (routers, DNS, NTP). Empty or a length not divisible by 4 is invalid. */
export const ipv4ListValue: Codec<string[]> = {
  encodingLength: v => 4 * v.length,
  encode (v, w) {
    if (v.length === 0) encodeFail('value', 'an address list needs at least one address')
    for (const a of v) w.ipv4(a, 'value')
  },
  decode (r) {
    if (r.remaining === 0 || r.remaining % 4 !== 0) {
      badValue(r, `address list of ${r.remaining} bytes`)
      return []
    }
    const out: string[] = []
    while (r.remaining > 0) out.push(formatIPv4(r.u32('value')))
    return out
  }
}

/** Byte list (option 55). Empty is invalid. */
export const u8ListValue: Codec<number[]> = {
  encodingLength: v => v.length,
  encode (v, w) {
    if (v.length === 0) encodeFail('value', 'the list needs at least one entry')
    for (const n of v) w.u8(n, 'value')
  },
  decode (r) {
    if (r.remaining === 0) badValue(r, 'empty list')
    const out: number[] = []
    while (r.remaining > 0) out.push(r.u8('value'))
    return out
  }
}

/** uint16 list (option 93). Empty or odd length is invalid. */
export const u16ListValue: Codec<number[]> = {
  encodingLength: v => 2 * v.length,
  encode (v, w) {
    if (v.length === 0) encodeFail('value', 'the list needs at least one entry')
    for (const n of v) w.u16(n, 'value')
  },
  decode (r) {
    if (r.remaining === 0 || r.remaining % 2 !== 0) {
      badValue(r, `uint16 list of ${r.remaining} bytes`)
      return []
    }
    const out: number[] = []
    while (r.remaining > 0) out.push(r.u16('value'))
    return out
  }
}

/** Latin-1 bytes of text; throws `EncodeError` for characters above U+00FF. */
export function latin1Bytes (text: string, field: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 0xff) {
      throw new EncodeError(DhcpErrorCode.BadField, field, `${field}: character ${JSON.stringify(text[i])} at ${i} is not a single byte`)
    }
    out[i] = c
  }
  return out
}

export function latin1Text (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] ?? 0)
  return s
}

/**
 * NVT ASCII text (host name, domain name, vendor class, boot file name), kept
 * byte-exact as Latin-1. Trailing NULs are dropped on decode: some clients
 * NUL-terminate string options although RFC 2132 says they must not (seen
 * from old Windows and embedded DHCP clients).
 */
export const stringValue: Codec<string> = {
  encodingLength: v => v.length,
  encode: (v, w) => w.bytes(latin1Bytes(v, 'value'), 'value'),
  decode (r) {
    const b = r.rest('value')
    let end = b.length
    while (end > 0 && b[end - 1] === 0) end--
    return latin1Text(b.subarray(0, end))
  }
}

export const bytesValue: Codec<Uint8Array> = {
  encodingLength: v => v.length,
  encode: (v, w) => w.bytes(v, 'value'),
  decode: r => r.rest('value')
}

/** Option 61: a hardware type (1 = Ethernet, 0 = opaque/DUID style) and an identifier. */
export interface ClientIdentifier {
  type: number
  id: Uint8Array
}

export const clientIdentifierValue: Codec<ClientIdentifier> = {
  encodingLength: v => 1 + v.id.length,
  encode (v, w) {
    if (v.id.length === 0) encodeFail('value', 'a client identifier needs at least one identifier byte')
    w.u8(v.type, 'value')
    w.bytes(v.id, 'value')
  },
  decode (r) {
    // RFC 2132 §9.14: "The minimum length is 2".
    if (r.remaining < 2) badValue(r, 'client identifier shorter than 2 bytes')
    const type = r.u8('value')
    return { type, id: r.rest('value') }
  }
}

/** Option 94: the client's UNDI network interface (type 1 = UNDI) and its version. */
export interface ClientNetworkInterface {
  type: number
  major: number
  minor: number
}

export const clientNetworkInterfaceValue: Codec<ClientNetworkInterface> = {
  encodingLength: () => 3,
  encode (v, w) {
    w.u8(v.type, 'value')
    w.u8(v.major, 'value')
    w.u8(v.minor, 'value')
  },
  decode (r) {
    if (r.remaining !== 3) badValue(r, `client network interface of ${r.remaining} bytes, expected 3`)
    return { type: r.u8('value'), major: r.u8('value'), minor: r.u8('value') }
  }
}

/** Option 97: machine identifier type (0 = GUID) and the 16-byte GUID. */
export interface ClientMachineId {
  type: number
  guid: Uint8Array
}

export const clientMachineIdValue: Codec<ClientMachineId> = {
  encodingLength: () => 17,
  encode (v, w) {
    if (v.guid.length !== 16) encodeFail('value', `a client GUID has 16 bytes, not ${v.guid.length}`)
    w.u8(v.type, 'value')
    w.bytes(v.guid, 'value')
  },
  decode (r) {
    // RFC 4578 §2.3 and PXE 2.1: 17 bytes, type 0 then the GUID. Real ROMs
    // are sloppier: some firmware sends the 16 GUID bytes without the type
    // byte (smee notes the same), so 16 bytes read as type 0 + GUID. Other
    // lengths cannot be mapped to a GUID and read as absent.
    if (r.remaining === 16) return { type: 0, guid: r.bytes(16, 'value') }
    if (r.remaining !== 17) {
      badValue(r, `client machine id of ${r.remaining} bytes, expected 17 (or 16)`)
      return { type: 0, guid: new Uint8Array(16) }
    }
    return { type: r.u8('value'), guid: r.bytes(16, 'value') }
  }
}

/**
 * A GUID as 8-4-4-4-12 lowercase hex, bytes in wire order. PXE firmware sends
 * the SMBIOS UUID, whose first three fields are little-endian, so this string
 * can differ from `dmidecode`'s in the first 8 bytes; compare in one form.
 */
export function formatGuid (guid: Uint8Array): string {
  let hex = ''
  for (const b of guid) hex += b.toString(16).padStart(2, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** Option 77, user class. */
export interface UserClass {
  classes: string[]
  /** true: RFC 3004 length-prefixed list; false: one plain string (iPXE, many ROMs). */
  rfc3004: boolean
}

/**
 * RFC 3004 says option 77 is a list of length-prefixed user class strings.
 * iPXE (and much PXE-era software) sends a plain string instead: option 77 is
 * the 4 bytes `iPXE`, which as RFC 3004 would claim a 105-byte first entry.
 * Be lenient: parse as RFC 3004 when the lengths tile the value exactly with
 * non-empty entries, otherwise read the whole value as one plain string.
 */
export const userClassValue: Codec<UserClass> = {
  encodingLength: v => v.rfc3004 ? v.classes.reduce((n, c) => n + 1 + c.length, 0) : (v.classes[0]?.length ?? 0),
  encode (v, w) {
    if (!v.rfc3004) {
      if (v.classes.length !== 1 || v.classes[0] === undefined || v.classes[0].length === 0) {
        encodeFail('value', 'a plain user class holds exactly one non-empty string')
      }
      w.bytes(latin1Bytes(v.classes[0], 'value'), 'value')
      return
    }
    if (v.classes.length === 0) encodeFail('value', 'a user class list needs at least one class')
    for (const c of v.classes) {
      if (c.length === 0 || c.length > 255) encodeFail('value', `user class of ${c.length} bytes (1..255)`)
      w.u8(c.length, 'value')
      w.bytes(latin1Bytes(c, 'value'), 'value')
    }
  },
  decode (r) {
    const b = r.rest('value')
    if (b.length === 0) {
      badValue(r, 'empty user class')
      return { classes: [], rfc3004: false }
    }
    const classes: string[] = []
    let at = 0
    while (at < b.length) {
      const n = b[at] ?? 0
      if (n === 0 || at + 1 + n > b.length) return { classes: [latin1Text(b)], rfc3004: false }
      classes.push(latin1Text(b.subarray(at + 1, at + 1 + n)))
      at += 1 + n
    }
    return { classes, rfc3004: true }
  }
}
