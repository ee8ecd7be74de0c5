// A LAN's config with its addresses parsed once: what the store, API and DHCP use.
import type { LanConfig } from './schema.js'
import { parseCidr, parseIpv4, parseRange, type Cidr, type Range } from '../net/ipv4.js'

export interface Lan {
  readonly name: string
  readonly config: LanConfig
  readonly subnet: Cidr
  readonly address: number
  readonly gateway: number | null
  readonly pool: Range | null
  readonly reserved: readonly Range[]
  readonly leaseSeconds: number
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds; null when malformed. */
export function parseDuration (s: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(s)
  if (m === null) return null
  return Number(m[1]) * (UNIT[m[2] === '' ? 's' : m[2] as string] as number)
}

/** Builds the runtime view of a LAN whose config already passed validation. */
export function compileLan (config: LanConfig): Lan {
  const subnet = parseCidr(config.subnet)
  const address = parseIpv4(config.address)
  if (subnet === null || address === null) throw new Error(`LAN ${config.name} was not validated`)
  return Object.freeze({
    name: config.name,
    config,
    subnet,
    address,
    gateway: config.gateway === undefined ? null : parseIpv4(config.gateway),
    pool: config.pool === undefined ? null : parseRange(config.pool),
    reserved: (config.reserved ?? []).map(r => parseRange(r)).filter((r): r is Range => r !== null),
    leaseSeconds: parseDuration(config.leaseTime) ?? 3600
  })
}

/** Why `ip` may not be reserved for a machine on `lan`; null when it may. */
export function reservationProblem (lan: Lan, ip: number): string | null {
  if (ip < lan.subnet.first || ip > lan.subnet.last) return `is outside LAN ${lan.name}'s subnet ${lan.config.subnet}`
  if (lan.subnet.prefix < 31 && (ip === lan.subnet.first || ip === lan.subnet.last)) return `is the network or broadcast address of ${lan.config.subnet}`
  if (ip === lan.address) return `is rackboot's own address on LAN ${lan.name}`
  if (ip === lan.gateway) return `is the gateway of LAN ${lan.name}`
  if (lan.pool !== null && ip >= lan.pool.start && ip <= lan.pool.end) return `is inside LAN ${lan.name}'s dynamic pool ${lan.config.pool ?? ''}; reserve an address outside it`
  const r = lan.config.reserved?.find((_, i) => { const x = lan.reserved[i]; return x !== undefined && ip >= x.start && ip <= x.end })
  if (r !== undefined) return `is in LAN ${lan.name}'s reserved range ${r}, which is never handed out`
  return null
}
