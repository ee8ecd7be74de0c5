import { IPV4_ANY, copyBytes } from '@rackboot/wire'
import { Option } from './option-table.js'
import { BootOp, MessageType } from './message-type.js'
import { BROADCAST_FLAG, type DhcpPacket } from './packet.js'
import type { Modifier } from './accessors.js'

export type PacketModifier = Modifier<DhcpPacket>

/**
 * Build a reply from a request (insomniacslk's `NewReplyFromRequest`), then
 * apply modifiers in order. Copied from the request, per RFC 2131 §4.3.1
 * table 3: `xid`, `htype`, `hlen`, `chaddr`, `flags` ("'flags' from client
 * DHCPDISCOVER/DHCPREQUEST"), `giaddr`. `hops` and `secs` are 0.
 *
 * After the modifiers:
 * - option 82 from the request is echoed byte for byte as the last option
 *   (RFC 3046 §2.2: "DHCP servers claiming to support the Relay Agent
 *   Information option SHALL echo the entire contents of the Relay Agent
 *   Information option in all replies");
 * - an ACK without `ciaddr` takes the request's (table 3: "'ciaddr' from
 *   DHCPREQUEST or 0"; INFORM answers need it);
 * - option 61 from the request is echoed unaltered (RFC 6842 §3: a server
 *   "MUST return it unaltered in its responses": OFFER, ACK and NAK);
 * - a NAK through a relay gets the broadcast bit (RFC 2131 §4.3.2: "The
 *   server MUST set the broadcast bit in the DHCPNAK, so that the relay agent
 *   will broadcast the DHCPNAK to the client").
 */
export function reply (request: DhcpPacket, ...modifiers: PacketModifier[]): DhcpPacket {
  const p: DhcpPacket = {
    op: BootOp.Reply,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: IPV4_ANY,
    yiaddr: IPV4_ANY,
    siaddr: IPV4_ANY,
    giaddr: request.giaddr,
    chaddr: copyBytes(request.chaddr),
    sname: '',
    file: '',
    options: new Map()
  }
  for (const m of modifiers) m(p)

  const type = p.options.get(Option.MessageType)?.[0]
  if (type === MessageType.Ack && p.ciaddr === IPV4_ANY) p.ciaddr = request.ciaddr
  if (type === MessageType.Nak && request.giaddr !== IPV4_ANY) p.flags |= BROADCAST_FLAG
  const clientId = request.options.get(Option.ClientIdentifier)
  if (clientId !== undefined) p.options.set(Option.ClientIdentifier, copyBytes(clientId))
  const relay = request.options.get(Option.RelayAgentInformation)
  if (relay !== undefined) {
    p.options.delete(Option.RelayAgentInformation)
    p.options.set(Option.RelayAgentInformation, copyBytes(relay))
  }
  return p
}

export function withYiaddr (address: string): PacketModifier {
  return p => { p.yiaddr = address }
}

export function withSiaddr (address: string): PacketModifier {
  return p => { p.siaddr = address }
}

export function withCiaddr (address: string): PacketModifier {
  return p => { p.ciaddr = address }
}

/** The `file` header field (boot file for PXE ROMs, which read `file`, not option 67). */
export function withFile (file: string): PacketModifier {
  return p => { p.file = file }
}

export function withSname (sname: string): PacketModifier {
  return p => { p.sname = sname }
}

export function withBroadcastFlag (on = true): PacketModifier {
  return p => { p.flags = on ? p.flags | BROADCAST_FLAG : p.flags & ~BROADCAST_FLAG & 0xffff }
}
