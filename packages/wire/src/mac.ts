import { DecodeError, WireErrorCode } from './errors.js'

/**
 * MAC address helpers. The canonical form everywhere in rackboot is lowercase,
 * colon separated: `aa:bb:cc:dd:ee:ff`.
 *
 * Accepted input spellings (any case): `aa:bb:cc:dd:ee:ff`,
 * `aa-bb-cc-dd-ee-ff` (Windows), `aabb.ccdd.eeff` (Cisco), `aabbccddeeff`
 * (bare, as BMCs and some inventories print it). Mixed separators are refused.
 */

const COLON = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/
const DASH = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/
const DOT = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/
const BARE = /^[0-9a-f]{12}$/

/**
 * The accepted spellings as one JSON-schema `pattern` (for API and config schemas): exactly
 * what tryParseMac accepts.
 */
export const MAC_PATTERN =
  '^(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$'

/** Normalised MAC, or null. */
export function tryParseMac (text: string): string | null {
  if (typeof text !== 'string' || text.length > 17) return null
  const t = text.toLowerCase()
  let hex: string
  if (COLON.test(t) || DASH.test(t)) hex = t.replace(/[:-]/g, '')
  else if (DOT.test(t)) hex = t.replace(/\./g, '')
  else if (BARE.test(t)) hex = t
  else return null
  return hex.match(/../g)?.join(':') ?? null
}

/** Normalise a MAC; throws `DecodeError` `RB_WIRE_BAD_MAC`. */
export function parseMac (text: string, field = 'mac'): string {
  const mac = tryParseMac(text)
  if (mac === null) {
    throw new DecodeError(WireErrorCode.BadMac, field, 0, `${field} (${JSON.stringify(text)}) is not a MAC address`)
  }
  return mac
}

export function isMac (text: unknown): text is string {
  return typeof text === 'string' && tryParseMac(text) !== null
}

/** 6 bytes of a MAC given in any accepted spelling. */
export function macToBytes (text: string): Uint8Array {
  const mac = parseMac(text)
  const out = new Uint8Array(6)
  for (let i = 0; i < 6; i++) out[i] = parseInt(mac.slice(i * 3, i * 3 + 2), 16)
  return out
}

/** Canonical MAC from 6 bytes at `offset`; throws `DecodeError` `RB_WIRE_BAD_MAC` if fewer remain. */
export function macFromBytes (bytes: Uint8Array, offset = 0): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + 6 > bytes.length) {
    throw new DecodeError(WireErrorCode.BadMac, 'mac', offset, `mac at offset ${offset}: needs 6 bytes`)
  }
  return formatHardwareAddress(bytes.subarray(offset, offset + 6))
}

/** Any hardware address (chaddr of any hlen) as lowercase colon-separated hex; '' for none. */
export function formatHardwareAddress (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) s += ':'
    s += (bytes[i] ?? 0).toString(16).padStart(2, '0')
  }
  return s
}
