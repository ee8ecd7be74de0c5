import { IPV4_ANY, IPV4_BROADCAST } from '@rackboot/wire'
import { Option } from './option-table.js'
import { MessageType } from './message-type.js'
import { isBroadcastFlagSet, type DhcpPacket } from './packet.js'

export const SERVER_PORT = 67
export const CLIENT_PORT = 68

export type DestinationRule =
  | 'relay' | 'ciaddr' | 'broadcast-flag' | 'broadcast-no-arp' | 'yiaddr' | 'nak-broadcast'

export interface Destination {
  address: string
  port: number
  /** True when `address` is the limited broadcast: the socket needs SO_BROADCAST and an interface. */
  broadcast: boolean
  /** Which RFC 2131 §4.1 rule chose this destination (for logs and tests). */
  rule: DestinationRule
}

export interface DestinationOptions {
  serverPort?: number
  clientPort?: number
  /**
   * The shell can unicast to a client that has no address yet (it can add an
   * ARP entry for yiaddr → chaddr, e.g. with a raw socket). Node's dgram
   * cannot, so the default is false and such replies are broadcast.
   */
  canUnicastWithoutArp?: boolean
}

/**
 * Where to send `reply` (built for `request`), RFC 2131 §4.1. Pure: the
 * caller's socket does the sending. `reply()` already set the broadcast bit
 * on a relayed NAK (§4.3.2).
 */
export function replyDestination (request: DhcpPacket, reply: DhcpPacket, options: DestinationOptions = {}): Destination {
  const serverPort = options.serverPort ?? SERVER_PORT
  const clientPort = options.clientPort ?? CLIENT_PORT
  const isNak = reply.options.get(Option.MessageType)?.[0] === MessageType.Nak

  // "If the 'giaddr' field in a DHCP message from a client is non-zero, the
  // server sends any return messages to the 'DHCP server' port on the BOOTP
  // relay agent whose address appears in 'giaddr'."
  // (NAKs too: §4.3.2 "If 'giaddr' is set in the DHCPREQUEST message, the
  // client is on a different subnet. The server MUST set the broadcast bit in
  // the DHCPNAK, so that the relay agent will broadcast the DHCPNAK to the
  // client".)
  if (request.giaddr !== IPV4_ANY) {
    return { address: request.giaddr, port: serverPort, broadcast: false, rule: 'relay' }
  }

  // "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK
  // messages to 0xffffffff."
  if (isNak) {
    return { address: IPV4_BROADCAST, port: clientPort, broadcast: true, rule: 'nak-broadcast' }
  }

  // "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the
  // server unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'."
  if (request.ciaddr !== IPV4_ANY) {
    return { address: request.ciaddr, port: clientPort, broadcast: false, rule: 'ciaddr' }
  }

  // "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set,
  // then the server broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff."
  if (isBroadcastFlagSet(request)) {
    return { address: IPV4_BROADCAST, port: clientPort, broadcast: true, rule: 'broadcast-flag' }
  }

  // "If the broadcast bit is not set and 'giaddr' is zero and 'ciaddr' is
  // zero, then the server unicasts DHCPOFFER and DHCPACK messages to the
  // client's hardware address and 'yiaddr' address."
  // That needs an ARP entry for yiaddr (the client cannot answer ARP yet),
  // which userspace with plain UDP sockets cannot create, so by default we
  // broadcast instead. A client without an address listens for its reply on
  // the link anyway, and clients that cannot receive unicast before
  // configuration set the broadcast bit, so broadcasting always reaches it.
  if (options.canUnicastWithoutArp === true && reply.yiaddr !== IPV4_ANY) {
    return { address: reply.yiaddr, port: clientPort, broadcast: false, rule: 'yiaddr' }
  }
  return { address: IPV4_BROADCAST, port: clientPort, broadcast: true, rule: 'broadcast-no-arp' }
}
