// What the DHCP service knows about one LAN, computed once per (re)load: the static
// reply options already encoded, and the boot URLs with the LAN's address filled in.
import {
  classlessStaticRoutes, domainName, domainNameServers, domainSearch, interfaceMtu, ntpServers, routers, subnetMask,
  type BootFileParams, type DhcpPacket
} from '@rackboot/dhcp'
import { formatIPv4, ipv4ToBytes, prefixToMask, tryParseSubnet } from '@rackboot/wire'
import type { LoadedConfig } from '../config/load.js'
import type { Lan } from '../config/lan.js'

export interface LanContext {
  readonly lan: Lan
  /** Server identifier (option 54) and next-server: the LAN's `address`. */
  readonly serverId: string
  /** Options every reply on this LAN carries (subject to the client's option 55). */
  readonly options: ReadonlyMap<number, Uint8Array>
  readonly boot: BootFileParams
  readonly leaseSeconds: number
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
  if (c.gateway !== undefined) routers.set(scratch, [c.gateway])
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
    if (c.gateway !== undefined) routes.push({ destination: '0.0.0.0/0', router: c.gateway })
    classlessStaticRoutes.set(scratch, routes)
  }
  for (const o of c.options ?? []) scratch.options.set(o.code, customValue(o))
  const fill = (t: string) => t.replace(/\{address\}/g, c.address).replace(/\{httpPort\}/g, String(loaded.settings.boot.http.port))
  return Object.freeze({
    lan,
    serverId: c.address,
    options: scratch.options,
    leaseSeconds: lan.leaseSeconds,
    boot: {
      bios: config.boot.files.bios,
      efiX64: config.boot.files.efiX64,
      efiArm64: config.boot.files.efiArm64,
      httpUrl: fill(config.boot.httpBootUrl),
      ipxeScriptUrl: fill(config.boot.ipxeScriptUrl)
    }
  })
}
