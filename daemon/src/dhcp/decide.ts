// The DHCP server's decisions, RFC 2131 §4.3, as a pure function: a decoded request and a
// LAN context in, a reply (or silence) and the writes it implies out. No sockets, clock or
// database handle: `lookup` is a narrow synchronous view (memory and SQLite in the daemon,
// a plain object in tests).
import {
  MessageType, clientHardwareAddress, clientMachineId, hostName, ipxeEncapsulated, leaseTime, messageType,
  rebindingTime, renewalTime, reply, requestedIpAddress, selectBootFile, serverIdentifier, vendorSpecific,
  withBootSelection, withRequestedOrder, withYiaddr, withSiaddr, message, IpxeSubOption, PxeDiscoveryControl,
  PxeSubOption, ALWAYS_SEND, Option, HardwareType, formatGuid, relayServerIdentifierOverride, type BootSelection, type DhcpPacket
} from '@rackboot/dhcp'
import { formatIPv4, tryParseIPv4 } from '@rackboot/wire'
import type { LanContext } from './lan-context.js'
import type { EventInput } from '../store/events.js'
import type { MachineState } from '../store/lifecycle.js'

export interface MachineView { id: number; lan: string; hostname: string; ipv4: string | null; state: MachineState }
export interface LeaseView { ip: string; state: 'offered' | 'bound' | 'declined' | 'released' | 'expired'; expiresAt: number }

/**
 * Leases and offers belong to a client key: the MAC, or `id:<hex>` of the client identifier
 * on a LAN that keys dynamic-pool leases by it (`leaseIdentity: client-id`).
 */
export interface Lookup {
  /** The registered machine with this MAC (any LAN), or null. */
  machine (mac: string): MachineView | null
  /** This client's current or last lease on this LAN. */
  lease (key: string): LeaseView | null
  /** The address offered to this client and still held, if any. */
  offered (key: string): string | null
  /** Which client key holds `ip` right now (an active lease or offer), or null. */
  holder (ip: string): string | null
  /** Whether `ip` is a pool address free for client `key`. */
  freeFor (ip: string, key: string): boolean
  /** A free pool address for client `key`, trying `preferred` first; null when the pool is exhausted. */
  allocate (key: string, preferred: Array<string | null | undefined>): string | null
  /** Whether the LAN has a dynamic pool at all. */
  hasPool (): boolean
  /** Whether the LAN holds `maxDiscovered` discovered machines already (no new ones are recorded). */
  discoverFull (): boolean
  /**
   * On a management LAN: the machine whose BMC has this MAC (`bmc.mac`), with the BMC's reserved
   * address (its `bmc.address`, when that is an address of this LAN), or null.
   */
  bmc? (mac: string): { machineId: number; hostname: string; ipv4: string | null } | null
}

export interface DecideContext {
  lan: LanContext
  now: number
  lookup: Lookup
  offerHoldMs: number
  quarantineMs: number
}

export type DropReason =
  | 'not-dhcp' | 'not-request' | 'not-ethernet' | 'wrong-lan' | 'unknown-mac' | 'pool-exhausted' | 'no-address'
  | 'other-server' | 'no-record' | 'malformed' | 'unsupported-type' | 'not-ours' | 'wrong-subnet' | 'discover-limit'
  | 'not-pxe' | 'no-boot-file'

export interface LeaseWrite {
  op: 'offer' | 'bind' | 'release' | 'decline'
  ip: string
  mac: string
  /** Whom the lease belongs to: `mac`, or `id:<hex>` of the client identifier (see Lookup). */
  key: string
  machineId: number | null
  expiresAt: number
  clientId: string | null
  hostname: string | null
  /** Bind of an unknown MAC on a `discover` LAN: create its `discovered` machine record. */
  discover: boolean
}

export interface Observation { machineId: number; arch: string | null; uuid: string | null; /** A machine's BMC was given this address (a management LAN): it becomes the machine's bmc.address. */ bmcAddress?: string }

export type Decision =
  | {
    kind: 'reply'; type: 'offer' | 'ack' | 'nak'; packet: DhcpPacket; lease: LeaseWrite | null; observe: Observation | null; events: EventInput[]
    /** Where the reply goes when not by RFC 2131 §4.1 (a proxyDHCP ACK on port 4011: back to the request's source). */
    to?: { address: string; port: number }
    /** proxyDHCP: the address the client has (or asks the other server for). */
    seen?: string
    /** An OFFER of a pool address this client does not hold yet: check first that no other host uses it (conflict check). */
    probe?: boolean
  }
  | { kind: 'update'; lease: LeaseWrite; events: EventInput[] }
  | { kind: 'drop'; reason: DropReason; detail?: string; events: EventInput[]; /** set for `other-server`: whose offer to forget */ client?: string; seen?: string }

const ACTOR = 'dhcp'

/**
 * What a reply carries however small the client's maximum size (option 57): the options RFC
 * 2131 Table 3 requires (53, 54, 51), the address's mask and router (1, 3), the echoed client
 * identifier (61, RFC 6842) and the boot information a PXE or iPXE client needs (60, 43, 67,
 * 175). The rest is fitted in the client's order of preference (`encodeFitted`).
 */
export const REQUIRED_REPLY_OPTIONS: ReadonlySet<number> = new Set([
  Option.MessageType, Option.ServerIdentifier, Option.LeaseTime, Option.SubnetMask, Option.Router, Option.ClientIdentifier,
  Option.VendorClassIdentifier, Option.VendorSpecific, Option.BootfileName, Option.IpxeEncapsulated
])

const drop = (reason: DropReason, detail?: string, events: EventInput[] = []): Decision =>
  ({ kind: 'drop', reason, ...(detail === undefined ? {} : { detail }), events })

function inSubnet (ctx: DecideContext, ip: string): boolean {
  const n = tryParseIPv4(ip)
  const s = ctx.lan.lan.subnet
  return n !== null && n > s.first && n < s.last
}

function archName (req: DhcpPacket): string | null {
  const sel = req.options.get(Option.ClientSystemArchitecture)
  if (sel === undefined || sel.length < 2) return null
  return String(((sel[0] as number) << 8) | (sel[1] as number))
}

function uuidOf (req: DhcpPacket): string | null {
  const id = clientMachineId(req)
  // QEMU without -uuid (and some boards with an unset SMBIOS UUID) send all zeros or all
  // ones: that is no identity, and must not overwrite a real one recorded earlier.
  if (id === undefined || id.guid.every(b => b === 0) || id.guid.every(b => b === 0xff)) return null
  return formatGuid(id.guid)
}

/** Boot-related facts worth an event: only for netboot clients, so OS renewals stay quiet. */
export function bootDetail (req: DhcpPacket, sel: BootSelection): Record<string, unknown> | null {
  if (sel.kind === 'unsupported') return null
  return {
    arch: archName(req),
    uuid: uuidOf(req),
    client: sel.kind === 'ipxe-script' ? 'ipxe' : sel.kind === 'http' ? 'uefi-http' : 'pxe',
    bootFile: sel.kind === 'tftp' ? sel.file : sel.url
  }
}

/**
 * Option 54 in replies: the relay's server identifier override (RFC 5107: the relay asks
 * clients to send their REQUESTs to it), else the LAN's address.
 */
function replyServerId (req: DhcpPacket, ctx: DecideContext): string {
  return req.giaddr === '0.0.0.0' ? ctx.lan.serverId : relayServerIdentifierOverride(req) ?? ctx.lan.serverId
}

/** Whether a client's option 54 names this server: its address, or the relay's override of it. */
function isOurs (sid: string, req: DhcpPacket, ctx: DecideContext): boolean {
  return sid === ctx.lan.serverId || (req.giaddr !== '0.0.0.0' && sid === relayServerIdentifierOverride(req))
}

function buildReply (req: DhcpPacket, ctx: DecideContext, type: number, yiaddr: string | null, machine: MachineView | null, sel: BootSelection): DhcpPacket {
  const lan = ctx.lan
  const p = reply(req, messageType.with(type), serverIdentifier.with(replyServerId(req, ctx)))
  for (const [code, value] of lan.options) p.options.set(code, value)
  if (type !== MessageType.Ack || yiaddr !== null) {
    // RFC 2131 Table 3: lease time in OFFER and ACK, not in the ACK to a DHCPINFORM.
    leaseTime.set(p, lan.leaseSeconds)
    renewalTime.set(p, lan.renewalSeconds)
    rebindingTime.set(p, lan.rebindingSeconds)
  }
  if (yiaddr !== null) withYiaddr(yiaddr)(p)
  if (machine !== null) hostName.set(p, machine.hostname.split('.')[0] as string)
  if (sel.kind !== 'unsupported') {
    withBootSelection(sel, { nextServer: lan.nextServer })(p)
    withSiaddr(lan.nextServer)(p)
    if (sel.kind === 'tftp') {
      // PXE ROMs: boot the file named in the reply, no boot server discovery (PXE 2.1 §2.4).
      vendorSpecific.set(p, new Map([[PxeSubOption.DiscoveryControl, Uint8Array.of(PxeDiscoveryControl.UseBootFile)]]))
    }
    if (sel.kind === 'ipxe-script') {
      // iPXE otherwise waits 2-3 s for a proxyDHCP answer that will never come.
      ipxeEncapsulated.set(p, new Map([[IpxeSubOption.NoPxeDhcp, Uint8Array.of(1)]]))
    }
  }
  withRequestedOrder(req, { always: [...ALWAYS_SEND, Option.IpxeEncapsulated] })(p)
  return p
}

function nak (req: DhcpPacket, ctx: DecideContext, why: string, mac: string, events: EventInput[] = []): Decision {
  const p = reply(req, messageType.with(MessageType.Nak), serverIdentifier.with(replyServerId(req, ctx)), message.with(why))
  return { kind: 'reply', type: 'nak', packet: p, lease: null, observe: null, events: [...events, { actor: ACTOR, type: 'dhcp.nak', lan: ctx.lan.lan.name, mac, detail: { reason: why } }] }
}

/** The address this client should have now, without allocating: its reservation, offer or lease. */
function currentAddress (key: string, machine: MachineView | null, ctx: DecideContext): string | null {
  if (machine?.ipv4 != null) return machine.ipv4
  const offered = ctx.lookup.offered(key)
  if (offered !== null) return offered
  const lease = ctx.lookup.lease(key)
  if (lease !== null && lease.state === 'bound' && lease.expiresAt > ctx.now) return lease.ip
  return null
}

/** A registered machine asking on another LAN: a cabling or switch error, worth an alert. */
export function wrongLan (m: MachineView, lanName: string, mac: string): Decision {
  return drop('wrong-lan', `registered on ${m.lan}`, [{
    actor: ACTOR, type: 'dhcp.wrong-lan', machineId: m.id, lan: lanName, mac,
    detail: { seenOn: lanName, registeredOn: m.lan, hostname: m.hostname }
  }])
}

export function decide (req: DhcpPacket, ctx: DecideContext): Decision {
  const lanName = ctx.lan.lan.name
  const type = messageType(req)
  if (type === undefined) return drop('not-dhcp', 'BOOTP request without option 53')
  if (req.op !== 1) return drop('not-request')
  if (req.htype !== HardwareType.Ethernet || req.hlen !== 6) return drop('not-ethernet', `htype ${req.htype} hlen ${req.hlen}`)
  const mac = clientHardwareAddress(req)

  const registered = ctx.lookup.machine(mac)
  if (registered !== null && registered.lan !== lanName) return wrongLan(registered, lanName, mac)
  // A machine's BMC on a management LAN is a known client: its reservation (bmc.address) or a
  // pool address, named after its machine; the address it gets becomes the machine's bmc.address.
  const bmc = registered === null && ctx.lan.lan.config.management === true ? ctx.lookup.bmc?.(mac) ?? null : null
  const machine: MachineView | null = registered ?? (bmc === null ? null : { id: bmc.machineId, lan: lanName, hostname: `${bmc.hostname}-bmc`, ipv4: bmc.ipv4, state: 'ready' })
  const policy = ctx.lan.lan.config.unknownMachines
  if (machine === null && policy === 'ignore') return drop('unknown-mac')
  if (machine === null && policy === 'discover' && (type === MessageType.Discover || type === MessageType.Request) && ctx.lookup.discoverFull()) {
    // A flood of random MACs must not grow the inventory without bound.
    const max = ctx.lan.lan.config.maxDiscovered
    return drop('discover-limit', `${max} discovered machines on LAN ${lanName}`, [{ actor: ACTOR, type: 'dhcp.discover-limit', lan: lanName, mac, detail: { maxDiscovered: max } }])
  }
  const sel = selectBootFile(req, ctx.lan.boot)
  const clientIdBytes = req.options.get(Option.ClientIdentifier)
  const clientId = clientIdBytes === undefined || clientIdBytes.length === 0 ? null : Buffer.from(clientIdBytes).toString('hex')
  // Whom a lease belongs to. MAC by default: a machine's firmware, iPXE and installed OS send
  // different client identifiers and must keep one address. Reservations always follow the MAC.
  const key = ctx.lan.byClientId && clientId !== null && machine?.ipv4 == null ? `id:${clientId}` : mac
  const write = (op: LeaseWrite['op'], ip: string, expiresAt: number): LeaseWrite => ({
    op, ip, mac, key, machineId: registered?.id ?? null, expiresAt,
    clientId,
    hostname: machine?.hostname ?? hostName(req) ?? null,
    discover: machine === null && policy === 'discover' && op === 'bind'
  })
  const observe = registered === null ? null : { machineId: registered.id, arch: archName(req), uuid: uuidOf(req) }

  const ack = (ip: string, renewal: boolean): Decision => {
    const packet = buildReply(req, ctx, MessageType.Ack, ip, machine, sel)
    const events: EventInput[] = []
    const boot = bootDetail(req, sel)
    if (boot !== null) events.push({ actor: ACTOR, type: 'dhcp.ack', machineId: machine?.id ?? null, lan: lanName, mac, detail: { ip, ...boot } })
    if (!renewal) events.push({ actor: ACTOR, type: 'lease.bound', machineId: machine?.id ?? null, lan: lanName, mac, detail: { ip, hostname: machine?.hostname ?? hostName(req) ?? null } })
    return { kind: 'reply', type: 'ack', packet, lease: write('bind', ip, ctx.now + ctx.lan.leaseSeconds * 1000), observe: bmc === null ? observe : { machineId: bmc.machineId, arch: null, uuid: null, bmcAddress: ip }, events }
  }
  /** Whether binding `ip` now only renews what the client already had. */
  const isRenewal = (ip: string) => { const l = ctx.lookup.lease(key); return l !== null && l.ip === ip && l.state === 'bound' && l.expiresAt > ctx.now }

  switch (type) {
    case MessageType.Discover: {
      // "When a server receives a DHCPDISCOVER message from a client, the server chooses a
      // network address for the requesting client." (§4.3.1) — the reservation, else the
      // client's current or previous address, else the requested one, else a free one.
      let ip: string | null
      let probe = false
      if (machine?.ipv4 != null) {
        ip = machine.ipv4
      } else {
        if (!ctx.lookup.hasPool()) return drop('no-address', 'no reservation and no pool on this LAN')
        const last = ctx.lookup.lease(key)
        const held = ctx.lookup.offered(key)
        ip = ctx.lookup.allocate(key, [held, last?.ip, requestedIpAddress(req)])
        if (ip === null) {
          return drop('pool-exhausted', undefined, [{ actor: ACTOR, type: 'dhcp.pool-exhausted', lan: lanName, mac, detail: { pool: ctx.lan.lan.config.pool ?? null } }])
        }
        // A pool address the client neither was offered nor holds: someone may use it without
        // a lease (a static address, a lost lease database). Reservations are never probed.
        probe = ip !== held && !(last !== null && last.ip === ip && last.state === 'bound' && last.expiresAt > ctx.now)
      }
      const packet = buildReply(req, ctx, MessageType.Offer, ip, machine, sel)
      const boot = bootDetail(req, sel)
      const events: EventInput[] = boot === null ? [] : [{ actor: ACTOR, type: 'dhcp.offer', machineId: machine?.id ?? null, lan: lanName, mac, detail: { ip, ...boot } }]
      return { kind: 'reply', type: 'offer', packet, lease: write('offer', ip, ctx.now + ctx.offerHoldMs), observe: null, events, ...(probe ? { probe } : {}) }
    }

    case MessageType.Request: {
      const sid = serverIdentifier(req)
      const requested = requestedIpAddress(req)
      if (sid !== undefined) {
        // SELECTING: "the client ... MUST include the 'server identifier' ... If the server
        // identifier does not match, the server MUST NOT respond" — another server was chosen.
        if (!isOurs(sid, req, ctx)) return { kind: 'drop', reason: 'other-server', detail: `chose ${sid}`, events: [], client: key }
        if (requested === undefined) return drop('malformed', 'REQUEST in SELECTING without option 50')
        const expected = currentAddress(key, machine, ctx)
        if (expected === requested) return ack(requested, isRenewal(requested))
        // No offer on record (it timed out, or we restarted): bind anyway when the address is free for it.
        if (expected === null && machine?.ipv4 == null && ctx.lookup.freeFor(requested, key)) return ack(requested, false)
        return nak(req, ctx, `requested ${requested}, offered ${expected ?? 'nothing'}`, mac)
      }
      const ciaddr = req.ciaddr
      if (requested !== undefined && ciaddr === '0.0.0.0') {
        // INIT-REBOOT: "If the DHCP server detects that the client is on the wrong net ... or
        // if the requested IP address is incorrect, the server SHOULD send a DHCPNAK" ... "If
        // the DHCP server has no record of this client, then it MUST remain silent".
        if (!inSubnet(ctx, requested)) return nak(req, ctx, `${requested} is not on LAN ${lanName}`, mac)
        if (machine?.ipv4 != null) return machine.ipv4 === requested ? ack(requested, isRenewal(requested)) : nak(req, ctx, `${requested} is not this machine's address`, mac)
        const lease = ctx.lookup.lease(key)
        if (lease === null) return drop('no-record', `INIT-REBOOT for ${requested}`)
        if (lease.ip === requested && (ctx.lookup.holder(requested) ?? key) === key && lease.state !== 'declined') return ack(requested, isRenewal(requested))
        return nak(req, ctx, `${requested} is not this client's address`, mac)
      }
      if (ciaddr !== '0.0.0.0') {
        // RENEWING (unicast) or REBINDING (broadcast): "'ciaddr' MUST be filled in with
        // client's IP address" and the server extends the client's lease.
        if (!inSubnet(ctx, ciaddr)) return drop('wrong-subnet', `ciaddr ${ciaddr}`)
        if (machine?.ipv4 != null) return machine.ipv4 === ciaddr ? ack(ciaddr, isRenewal(ciaddr)) : nak(req, ctx, `${ciaddr} is not this machine's address`, mac)
        const holder = ctx.lookup.holder(ciaddr)
        if (holder === key) return ack(ciaddr, isRenewal(ciaddr))
        // Our record is gone (expired and free): renew it if it is still free for this client.
        if (holder === null && ctx.lookup.freeFor(ciaddr, key)) return ack(ciaddr, false)
        return nak(req, ctx, `${ciaddr} is not this client's address`, mac)
      }
      return drop('malformed', 'REQUEST with neither server identifier, requested address nor ciaddr')
    }

    case MessageType.Decline: {
      // "If the server receives a DHCPDECLINE message, the client has discovered through some
      // other means that the suggested network address is already in use. The server MUST
      // mark the network address as not available" (§4.3.3).
      const sid = serverIdentifier(req)
      if (sid !== undefined && !isOurs(sid, req, ctx)) return drop('other-server')
      const ip = requestedIpAddress(req)
      if (ip === undefined) return drop('malformed', 'DECLINE without option 50')
      if (!inSubnet(ctx, ip)) return drop('wrong-subnet', `declined ${ip}`)
      // Only the client the address was given to can decline it (another identifier behind
      // the same MAC cannot, on a LAN keyed by client identifier); a reserved address can
      // always be declined by its machine. An address nobody holds can be declined by anyone.
      const holder = ctx.lookup.holder(ip)
      if (holder !== null && holder !== key && machine?.ipv4 !== ip) return drop('not-ours', `decline of ${ip}, held by another client`)
      return {
        kind: 'update',
        lease: write('decline', ip, ctx.now + ctx.quarantineMs),
        events: [{ actor: ACTOR, type: 'dhcp.declined', machineId: machine?.id ?? null, lan: lanName, mac, detail: { ip, quarantineSeconds: Math.round(ctx.quarantineMs / 1000), reserved: machine?.ipv4 === ip } }]
      }
    }

    case MessageType.Release: {
      // "Upon receipt of a DHCPRELEASE message, the server marks the network address as not
      // allocated." (§4.3.4) — only the client's own address.
      const ip = req.ciaddr
      if (ctx.lookup.holder(ip) !== key) return drop('not-ours', `release of ${ip}`)
      return { kind: 'update', lease: write('release', ip, ctx.now), events: [{ actor: ACTOR, type: 'lease.released', machineId: machine?.id ?? null, lan: lanName, mac, detail: { ip } }] }
    }

    case MessageType.Inform: {
      // "The server responds to a DHCPINFORM message by sending a DHCPACK message directly to
      // the address given in the 'ciaddr' field ... The server MUST NOT send a lease expiration
      // time to the client and SHOULD NOT fill in 'yiaddr'." (§4.3.5)
      // Through a relay the answer goes to `giaddr` whatever `ciaddr` says, so a relayed INFORM
      // without one is answered too (as Kea does); a direct one has nowhere to go.
      const relayed = req.giaddr !== '0.0.0.0'
      if (req.ciaddr === '0.0.0.0' ? !relayed : !inSubnet(ctx, req.ciaddr)) return drop('wrong-subnet', `INFORM from ${req.ciaddr}`)
      const packet = buildReply(req, ctx, MessageType.Ack, null, machine, sel)
      return { kind: 'reply', type: 'ack', packet, lease: null, observe: null, events: [] }
    }

    default:
      return drop('unsupported-type', `message type ${type}`)
  }
}

/** Why an address in a lease write parses: decide only emits dotted quads. */
export function ipNumber (ip: string): number {
  const n = tryParseIPv4(ip)
  if (n === null) throw new Error(`not an IPv4 address: ${ip}`)
  return n
}

export { formatIPv4 }
