// Address helpers for config and inventory validation, on top of @rackboot/wire:
// lenient variants that return null (validation collects every problem) and ranges.
import { cidrBroadcast, formatIPv4, parseCidr as wireParseCidr, tryParseIPv4, tryParseMac } from '@rackboot/wire'

/** Parses a dotted quad (strict: no leading zeros); null when it is not one. */
export const parseIpv4 = tryParseIPv4
export const formatIpv4 = formatIPv4

export interface Cidr { network: number; prefix: number; first: number; last: number }

/** Parses `a.b.c.d/n`; `hostBits` is true when the address has bits set below the prefix. */
export function parseCidr (s: string): (Cidr & { hostBits: boolean }) | null {
  let c
  try { c = wireParseCidr(s, { strict: false }) } catch { return null }
  const addr = tryParseIPv4(s.slice(0, s.indexOf('/')))
  return { network: c.network, prefix: c.prefix, first: c.network, last: cidrBroadcast(c), hostBits: addr !== c.network }
}

export interface Range { start: number; end: number }

/** Parses `a.b.c.d-e.f.g.h` or a single address (a one-address range). */
export function parseRange (s: string): Range | null {
  const dash = s.indexOf('-')
  if (dash < 0) {
    const ip = parseIpv4(s.trim())
    return ip === null ? null : { start: ip, end: ip }
  }
  const start = parseIpv4(s.slice(0, dash).trim())
  const end = parseIpv4(s.slice(dash + 1).trim())
  if (start === null || end === null) return null
  return { start, end }
}

export function rangesOverlap (a: Range, b: Range): boolean {
  return a.start <= b.end && b.start <= a.end
}

/** Accepted spellings of a MAC, as a JSON-schema pattern (for API and config schemas). */
export const MAC_PATTERN =
  '^(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$'

/**
 * Normalises `aa:bb:cc:dd:ee:ff`, `AA-BB-…`, `aabb.ccdd.eeff` and `aabbccddeeff`
 * to lowercase colon form; null when it is none of them.
 */
export const normalizeMac = tryParseMac

/** `host:port` (host may be `[v6]`) → its parts; the config schema has checked the shape. */
export function splitHostPort (s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) }
}
