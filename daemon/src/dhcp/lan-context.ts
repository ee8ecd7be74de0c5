// What the DHCP service knows about one LAN, computed once per (re)load: the static
// reply options already encoded, and the boot URLs with the LAN's address filled in.
import {
  linkAddress, classlessStaticRoutes, domainName, domainNameServers, domainSearch, interfaceMtu, ntpServers, routers, subnetMask,
  type BootFileParams, type DhcpPacket
} from '@rackboot/dhcp'
import { formatIPv4, ipv4ToBytes, prefixToMask, tryParseIPv4, tryParseSubnet } from '@rackboot/wire'
import type { LoadedConfig } from '../config/load.js'
import { gatewayList, type Lan } from '../config/lan.js'

export interface LanContext {
  readonly lan: Lan
  /** Server identifier (option 54): the LAN's `address`. */
  readonly serverId: string
  /** `siaddr` for PXE firmware: the LAN's `nextServer`, else its `address`. */
  readonly nextServer: string
  /** Options every reply on this LAN carries (subject to the client's option 55). */
  readonly options: ReadonlyMap<number, Uint8Array>
  readonly boot: BootFileParams
  readonly leaseSeconds: number
  readonly renewalSeconds: number
  readonly rebindingSeconds: number
  /** Dynamic-pool leases belong to the client identifier (option 61) when one is sent. */
  readonly byClientId: boolean
}

function customValue (o: NonNullable<Lan['config']['options']>[number]): Uint8Array {
  if (o.text !== undefined) return new TextEncoder().encode(o.text)
  if (o.hex !== undefined) return Uint8Array.from(Buffer.from(o.hex.replace(/:/g, ''), 'hex'))
  if (o.ipv4 !== undefined) {
    const out = new Uint8Array(o.ipv4.length * 4)
    o.ipv4.forEach((ip, i) => out.set(ipv4ToBytes(ip), i * 4))
    return out
  }
  const n = o.u8 ?? o.u16 ?? o.u32 ?? 0
  const size = o.u8 !== undefined ? 1 : o.u16 !== undefined ? 2 : 4
  const b = Buffer.alloc(size)
  b.writeUIntBE(n, 0, size)
  return Uint8Array.from(b)
}

export function lanContext (lan: Lan, loaded: LoadedConfig): LanContext {
  const config = loaded.config
  const c = lan.config
  const scratch: DhcpPacket = { options: new Map() } as unknown as DhcpPacket
  subnetMask.set(scratch, formatIPv4(prefixToMask(lan.subnet.prefix)))
  const gateways = gatewayList(c)
  if (gateways.length > 0) routers.set(scratch, gateways)
  if (c.dns !== undefined && c.dns.length > 0) domainNameServers.set(scratch, [...c.dns])
  if (c.domain !== undefined) domainName.set(scratch, c.domain)
  if (c.domainSearch !== undefined && c.domainSearch.length > 0) domainSearch.set(scratch, [...c.domainSearch])
  if (c.ntp !== undefined && c.ntp.length > 0) ntpServers.set(scratch, [...c.ntp])
  if (c.mtu !== undefined) interfaceMtu.set(scratch, c.mtu)
  if (c.routes !== undefined && c.routes.length > 0) {
    // RFC 3442: a client that uses option 121 ignores option 3, so the default route goes in too.
    const routes = c.routes.map(r => {
      const d = tryParseSubnet(r.destination)
      return { destination: `${formatIPv4(d?.network ?? 0)}/${d?.prefix ?? 0}`, router: r.gateway }
    })
    if (gateways[0] !== undefined) routes.push({ destination: '0.0.0.0/0', router: gateways[0] })
    classlessStaticRoutes.set(scratch, routes)
  }
  for (const o of c.options ?? []) scratch.options.set(o.code, customValue(o))
  const fill = (t: string) => t.replace(/\{address\}/g, c.address).replace(/\{httpPort\}/g, String(loaded.settings.boot.http.port))
  return Object.freeze({
    lan,
    serverId: c.address,
    nextServer: c.nextServer ?? c.address,
    options: scratch.options,
    leaseSeconds: lan.leaseSeconds,
    renewalSeconds: lan.renewalSeconds,
    rebindingSeconds: lan.rebindingSeconds,
    byClientId: c.leaseIdentity === 'client-id',
    boot: {
      bios: config.boot.files.bios,
      efiX64: config.boot.files.efiX64,
      efiArm64: config.boot.files.efiArm64,
      httpUrl: fill(config.boot.httpBootUrl),
      ipxeScriptUrl: fill(config.boot.ipxeScriptUrl)
    }
  })
}

/**
 * The relayed LAN a request belongs to, by the address naming the client's link (option 118,
 * the relay's link-selection sub-option, else giaddr: `linkAddress`): the `relay: true` LAN
 * whose subnet holds it, or null. Undefined for a request that came directly (giaddr 0).
 */
export function relayedLan<T extends { ctx: LanContext }> (req: DhcpPacket, lans: Iterable<T>): T | null | undefined {
  const link = linkAddress(req)
  if (link === undefined) return undefined
  const at = tryParseIPv4(link)
  if (at === null) return null
  for (const s of lans) {
    const l = s.ctx.lan
    if (l.config.relay === true && at >= l.subnet.first && at <= l.subnet.last) return s
  }
  return null
}
