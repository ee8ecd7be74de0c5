// A LAN's config with its addresses parsed once: what the store, API and DHCP use.
import { tryParseIPv4, tryParseIPv4Range, tryParseSubnet, type Ipv4Range, type Subnet } from '@rackboot/wire'
import type { LanConfig } from './schema.js'
import { parseDuration } from './settings.js'

export interface Lan {
  readonly name: string
  readonly config: LanConfig
  readonly subnet: Subnet
  readonly address: number
  readonly gateway: number | null
  readonly pool: Ipv4Range | null
  readonly reserved: readonly Ipv4Range[]
  readonly leaseSeconds: number
}

/** Builds the runtime view of a LAN whose config already passed validation. */
export function compileLan (config: LanConfig): Lan {
  const subnet = tryParseSubnet(config.subnet)
  const address = tryParseIPv4(config.address)
  const leaseSeconds = parseDuration(config.leaseTime)
  if (subnet === null || address === null || leaseSeconds === null) throw new Error(`LAN ${config.name} was not validated`)
  return Object.freeze({
    name: config.name,
    config,
    subnet,
    address,
    gateway: config.gateway === undefined ? null : tryParseIPv4(config.gateway),
    pool: config.pool === undefined ? null : tryParseIPv4Range(config.pool),
    reserved: (config.reserved ?? []).map(r => tryParseIPv4Range(r)).filter((r): r is Ipv4Range => r !== null),
    leaseSeconds
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
