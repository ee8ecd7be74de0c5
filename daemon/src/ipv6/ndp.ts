// Router solicitations and advertisements (RFC 4861 §4.1, §4.2, §6.1) as pure functions: what
// the router-answer service reads and sends. The kernel fills in ICMPv6 checksums.

export const ICMP6_ROUTER_SOLICIT = 133
export const ICMP6_ROUTER_ADVERT = 134
/** Neighbour discovery packets are only valid with this hop limit (RFC 4861 §6.1): they cannot have crossed a router. */
export const NDP_HOP_LIMIT = 255
const OPT_SOURCE_LINK_ADDRESS = 1

export type NdpPacket =
  | { kind: 'solicit'; sourceMac: string | null }
  | { kind: 'advert'; routerLifetime: number; managed: boolean; other: boolean; prefixes: number }

/**
 * Parses a received RS or RA, applying the validity checks of RFC 4861 §6.1.1 and §6.1.2
 * (hop limit 255, code 0, length, well-formed options, RA from a link-local source, no
 * source link-layer option from an unspecified source); null for anything invalid.
 */
export function parseNdp (bytes: Uint8Array, source: string, hopLimit: number): NdpPacket | null {
  if (hopLimit !== NDP_HOP_LIMIT || bytes.length < 8 || bytes[1] !== 0) return null
  const type = bytes[0]
  const optionsAt = type === ICMP6_ROUTER_SOLICIT ? 8 : type === ICMP6_ROUTER_ADVERT ? 16 : -1
  if (optionsAt < 0 || bytes.length < optionsAt) return null
  let sourceMac: string | null = null
  let prefixes = 0
  for (let at = optionsAt; at < bytes.length;) {
    if (at + 2 > bytes.length) return null
    const len = (bytes[at + 1] as number) * 8
    if (len === 0 || at + len > bytes.length) return null
    const code = bytes[at] as number
    if (code === OPT_SOURCE_LINK_ADDRESS && len >= 8) sourceMac = [...bytes.subarray(at + 2, at + 8)].map(b => b.toString(16).padStart(2, '0')).join(':')
    if (code === 3) prefixes++
    at += len
  }
  const unspecified = source === '::'
  if (type === ICMP6_ROUTER_SOLICIT) {
    if (unspecified && sourceMac !== null) return null
    return { kind: 'solicit', sourceMac }
  }
  if (!source.toLowerCase().startsWith('fe80:')) return null
  const flags = bytes[5] as number
  return { kind: 'advert', routerLifetime: ((bytes[6] as number) << 8) | (bytes[7] as number), managed: (flags & 0x80) !== 0, other: (flags & 0x40) !== 0, prefixes }
}

/**
 * The advertisement that ends a host's wait for a router and configures nothing: current hop
 * limit unspecified, managed (M) and other-configuration (O) flags off (no DHCPv6), router
 * lifetime 0 (RFC 4861 §4.2: "not a default router"), reachable time and retransmit timer
 * unspecified, no prefix information; only the source link-layer address, when known.
 */
export function emptyAdvertisement (mac: string | null): Buffer {
  const ra = Buffer.alloc(mac === null ? 16 : 24)
  ra[0] = ICMP6_ROUTER_ADVERT
  if (mac !== null) {
    ra[16] = OPT_SOURCE_LINK_ADDRESS
    ra[17] = 1
    Buffer.from(mac.replace(/[:-]/g, ''), 'hex').copy(ra, 18)
  }
  return ra
}
