// proxyDHCP (PXE 2.1 §2.2.5 and §2.2.6, RFC 4578): on a LAN whose addresses come from another
// DHCP server (`mode: proxy`), rackboot adds only the boot information. A pure function like
// decide(): a request, the port it came to and its source in, a reply (or silence) out, never
// a lease.
//   port 67: a PXE or iPXE client's DHCPDISCOVER → a proxy offer: no address (yiaddr 0),
//            option 60 "PXEClient", the boot file and next server (or the iPXE script URL),
//            option 97 echoed. The client takes its address from the other server's offer.
//            Its DHCPREQUEST to the other server is watched: the address it asks for goes on
//            the machine's timeline.
//   port 4011: the client, now with an address (ciaddr), asks rackboot for its boot file
//            (DHCPREQUEST or DHCPINFORM: iPXE's ProxyDHCPREQUEST, a PXE ROM's boot server
//            request) → a DHCPACK with the boot information, unicast back to where it came from.
// Machines are matched by MAC as on a full LAN (unknown MACs get nothing, wrong-LAN is reported),
// and only PXE or iPXE clients get an answer: an installed OS's DHCP is the other server's.
import {
  MessageType, clientHardwareAddress, clientMachineId, messageType, reply, requestedIpAddress, selectBootFile,
  serverIdentifier, vendorClassIdentifier, vendorSpecific, withBootSelection, withRequestedOrder, withSiaddr,
  isIpxe, Option, HardwareType, PxeDiscoveryControl, PxeSubOption, ALWAYS_SEND, type DhcpPacket
} from '@rackboot/dhcp'
import { IPV4_ANY, IPV4_BROADCAST } from '@rackboot/wire'
import { bootDetail, wrongLan, type Decision, type DecideContext } from './decide.js'
import type { EventInput } from '../store/events.js'

export const PXE_PORT = 4011
const ACTOR = 'dhcp'
/** PXE 2.1's boot item sub-option (type and layer) of option 43, echoed in a boot server's ACK. */
const PXE_BOOT_ITEM = 71

/** A PXE client (option 60 starts with "PXEClient", PXE 2.1 §2.2) or iPXE (user class or its own options). */
export function isPxeClient (req: DhcpPacket): boolean {
  const vci = vendorClassIdentifier(req)
  return (vci !== undefined && vci.startsWith('PXEClient')) || isIpxe(req)
}

export interface ProxySource { address: string; port: number }

const drop = (reason: Extract<Decision, { kind: 'drop' }>['reason'], detail?: string, events: EventInput[] = [], seen?: string): Decision =>
  ({ kind: 'drop', reason, ...(detail === undefined ? {} : { detail }), events, ...(seen === undefined ? {} : { seen }) })

export function decideProxy (req: DhcpPacket, ctx: DecideContext, port: 67 | 4011, from: ProxySource): Decision {
  const lanName = ctx.lan.lan.name
  const type = messageType(req)
  if (type === undefined) return drop('not-dhcp', 'BOOTP request without option 53')
  if (req.op !== 1) return drop('not-request')
  if (req.htype !== HardwareType.Ethernet || req.hlen !== 6) return drop('not-ethernet', `htype ${req.htype} hlen ${req.hlen}`)
  if (!isPxeClient(req)) return drop('not-pxe')
  const mac = clientHardwareAddress(req)
  const machine = ctx.lookup.machine(mac)
  if (machine !== null && machine.lan !== lanName) return wrongLan(machine, lanName, mac)
  if (machine === null) return drop('unknown-mac')

  if (port === 67 && type === MessageType.Request) {
    // The client asks the other server for its address: note which one (the address is the
    // other server's to give, so this is what the client asked for, not yet what it has).
    const sid = serverIdentifier(req)
    if (sid === ctx.lan.serverId) return drop('not-ours', 'a REQUEST for a proxy offer (proxy offers carry no address)')
    const asked = requestedIpAddress(req) ?? (req.ciaddr === IPV4_ANY ? undefined : req.ciaddr)
    if (asked === undefined) return drop('other-server')
    return drop('other-server', `asks ${sid ?? 'its server'} for ${asked}`, [{
      actor: ACTOR, type: 'dhcp.proxy-seen', machineId: machine.id, lan: lanName, mac, detail: { requested: asked, server: sid ?? null }
    }], asked)
  }
  const accepted = port === 67 ? type === MessageType.Discover : type === MessageType.Request || type === MessageType.Inform
  if (!accepted) return drop('unsupported-type', `message type ${type} on port ${port}`)

  const sel = selectBootFile(req, ctx.lan.boot)
  if (sel.kind === 'unsupported') return drop('no-boot-file', `client architecture ${sel.arch ?? 'not sent'}`)
  const answer = port === 67 ? MessageType.Offer : MessageType.Ack
  const p = reply(req, messageType.with(answer), serverIdentifier.with(ctx.lan.serverId))
  withBootSelection(sel, { nextServer: ctx.lan.nextServer })(p)
  withSiaddr(ctx.lan.nextServer)(p)
  // PXE 2.1: a proxy offer identifies itself with "PXEClient" (HTTP boot clients: "HTTPClient").
  if (sel.kind === 'ipxe-script') vendorClassIdentifier.set(p, 'PXEClient')
  if (port === PXE_PORT && sel.kind === 'tftp') {
    // The boot server's ACK: boot the file named here (PXE 2.1 §2.4, discovery control bit 3),
    // and the boot item the request named, echoed. The proxy offer itself carries no option 43,
    // so PXE firmware (OVMF's, like WDS clients) asks port 4011 for its boot file; iPXE takes
    // the offer's file as it is.
    const vendor = new Map<number, Uint8Array>([[PxeSubOption.DiscoveryControl, Uint8Array.of(PxeDiscoveryControl.UseBootFile)]])
    const item = bootItem(req)
    if (item !== null) vendor.set(PXE_BOOT_ITEM, item)
    vendorSpecific.set(p, vendor)
  }
  // PXE 2.1: the proxy's answers carry the client's UUID (option 97) back.
  const uuid = req.options.get(Option.ClientMachineId)
  if (uuid !== undefined && validUuid(req)) p.options.set(Option.ClientMachineId, Uint8Array.from(uuid))
  withRequestedOrder(req, { always: [...ALWAYS_SEND, Option.ClientMachineId] })(p)

  const detail = { proxy: true, ...bootDetail(req, sel) }
  if (port === 67) {
    return { kind: 'reply', type: 'offer', packet: p, lease: null, observe: null, events: [{ actor: ACTOR, type: 'dhcp.offer', machineId: machine.id, lan: lanName, mac, detail: { ip: null, ...detail } }] }
  }
  const ip = req.ciaddr !== IPV4_ANY ? req.ciaddr : from.address
  const to = from.address === IPV4_ANY ? { address: IPV4_BROADCAST, port: from.port } : { address: from.address, port: from.port }
  return {
    kind: 'reply', type: 'ack', packet: p, lease: null, observe: null, to,
    ...(ip === IPV4_ANY ? {} : { seen: ip }),
    events: [{ actor: ACTOR, type: 'dhcp.ack', machineId: machine.id, lan: lanName, mac, detail: { ip: ip === IPV4_ANY ? null : ip, ...detail } }]
  }
}

/** The boot item (type and layer) a boot server request names in option 43, if any. */
function bootItem (req: DhcpPacket): Uint8Array | null {
  try {
    const v = vendorSpecific(req)?.get(PXE_BOOT_ITEM)
    return v !== undefined && v.length === 4 ? Uint8Array.from(v) : null
  } catch {
    return null
  }
}

function validUuid (req: DhcpPacket): boolean {
  try { return clientMachineId(req) !== undefined } catch { return false }
}
