// A LAN's config with its addresses parsed once: what the store, API and DHCP use.
import { tryParseIPv4, tryParseIPv4Range, tryParseSubnet, type Ipv4Range, type Subnet } from '@rackboot/wire'
import type { LanConfig } from './schema.js'
import { parseDuration } from './settings.js'

export interface Lan {
  readonly name: string
  readonly config: LanConfig
  readonly subnet: Subnet
  readonly address: number
  /** Every router (option 3), in the configured order. */
  readonly gateways: readonly number[]
  readonly pool: Ipv4Range | null
  readonly reserved: readonly Ipv4Range[]
  readonly leaseSeconds: number
  /** T1 and T2 (options 58 and 59), in seconds. */
  readonly renewalSeconds: number
  readonly rebindingSeconds: number
}

/** The configured routers as written (`gateway` is one address or a list). */
export function gatewayList (config: Pick<LanConfig, 'gateway'>): string[] {
  const g = config.gateway
  return g === undefined ? [] : typeof g === 'string' ? [g] : [...g]
}

/** T1 and T2 as configured, or ½ and ⅞ of the lease (RFC 2131 §4.4.5's defaults); null where unparseable. */
export function renewalTimes (config: Pick<LanConfig, 'renewalTime' | 'rebindingTime'>, leaseSeconds: number): { t1: number | null; t2: number | null } {
  return {
    t1: config.renewalTime === undefined ? Math.floor(leaseSeconds / 2) : parseDuration(config.renewalTime),
    t2: config.rebindingTime === undefined ? Math.floor(leaseSeconds * 7 / 8) : parseDuration(config.rebindingTime)
  }
}

/** Builds the runtime view of a LAN whose config already passed validation. */
export function compileLan (config: LanConfig): Lan {
  const subnet = tryParseSubnet(config.subnet)
  const address = tryParseIPv4(config.address)
  const leaseSeconds = parseDuration(config.leaseTime)
  const { t1, t2 } = renewalTimes(config, leaseSeconds ?? 0)
  if (subnet === null || address === null || leaseSeconds === null || t1 === null || t2 === null) throw new Error(`LAN ${config.name} was not validated`)
  const gateways = gatewayList(config).map(g => tryParseIPv4(g)).filter((g): g is number => g !== null)
  return Object.freeze({
    name: config.name,
    config,
    subnet,
    address,
    gateways,
    pool: config.pool === undefined ? null : tryParseIPv4Range(config.pool),
    reserved: (config.reserved ?? []).map(r => tryParseIPv4Range(r)).filter((r): r is Ipv4Range => r !== null),
    leaseSeconds,
    renewalSeconds: t1,
    rebindingSeconds: t2
  })
}

/** Why `ip` may not be reserved for a machine on `lan`; null when it may. */
export function reservationProblem (lan: Lan, ip: number): string | null {
  if (ip < lan.subnet.first || ip > lan.subnet.last) return `is outside LAN ${lan.name}'s subnet ${lan.config.subnet}`
  if (lan.subnet.prefix < 31 && (ip === lan.subnet.first || ip === lan.subnet.last)) return `is the network or broadcast address of ${lan.config.subnet}`
  if (ip === lan.address) return `is rackboot's own address on LAN ${lan.name}`
  if (lan.gateways.includes(ip)) return `is a gateway of LAN ${lan.name}`
  if (lan.pool !== null && ip >= lan.pool.start && ip <= lan.pool.end) return `is inside LAN ${lan.name}'s dynamic pool ${lan.config.pool ?? ''}; reserve an address outside it`
  const r = lan.config.reserved?.find((_, i) => { const x = lan.reserved[i]; return x !== undefined && ip >= x.start && ip <= x.end })
  if (r !== undefined) return `is in LAN ${lan.name}'s reserved range ${r}, which is never handed out`
  return null
}
