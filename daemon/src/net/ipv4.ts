// IPv4 and MAC helpers for config and inventory validation.
// Addresses are handled as unsigned 32-bit integers; strings are dotted quads.

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Parses a dotted quad; returns null when it is not one (no leading zeros beyond "0"). */
export function parseIpv4 (s: string): number | null {
  const m = QUAD.exec(s)
  if (m === null) return null
  let n = 0
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string
    if (part.length > 1 && part.startsWith('0')) return null
    const v = Number(part)
    if (v > 255) return null
    n = n * 256 + v
  }
  return n
}

export function formatIpv4 (n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export interface Cidr { network: number; prefix: number; first: number; last: number }

/** Parses `a.b.c.d/n`; `hostBits` is true when the address has bits set below the prefix. */
export function parseCidr (s: string): (Cidr & { hostBits: boolean }) | null {
  const slash = s.indexOf('/')
  if (slash < 0) return null
  const addr = parseIpv4(s.slice(0, slash))
  const p = s.slice(slash + 1)
  if (addr === null || !/^\d{1,2}$/.test(p)) return null
  const prefix = Number(p)
  if (prefix > 32) return null
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (addr & mask) >>> 0
  const last = (network | (~mask >>> 0)) >>> 0
  return { network, prefix, first: network, last, hostBits: network !== addr }
}

export function cidrContains (c: Cidr, ip: number): boolean {
  return ip >= c.first && ip <= c.last
}

export function formatCidr (c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`
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

export function formatRange (r: Range): string {
  return r.start === r.end ? formatIpv4(r.start) : `${formatIpv4(r.start)}-${formatIpv4(r.end)}`
}

export function rangesOverlap (a: Range, b: Range): boolean {
  return a.start <= b.end && b.start <= a.end
}

export function inRange (r: Range, ip: number): boolean {
  return ip >= r.start && ip <= r.end
}

const MAC_FORMS = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/
]

/** Accepted spellings of a MAC, as a JSON-schema pattern (for API and config schemas). */
export const MAC_PATTERN =
  '^(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$'

/**
 * Normalises `aa:bb:cc:dd:ee:ff`, `AA-BB-…`, `aabb.ccdd.eeff` and `aabbccddeeff`
 * to lowercase colon form; null when it is none of them. Separators may not be mixed.
 */
export function normalizeMac (s: string): string | null {
  const lower = s.trim().toLowerCase()
  if (lower.length === 17 && new Set([2, 5, 8, 11, 14].map(i => lower[i])).size !== 1) return null
  for (const re of MAC_FORMS) {
    const m = re.exec(lower)
    if (m !== null) return m.slice(1, 7).join(':')
  }
  return null
}
