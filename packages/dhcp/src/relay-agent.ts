import { formatIPv4, IPV4_ANY } from '@rackboot/wire'
import { relayAgentInformation, subnetSelection } from './accessors.js'
import { RelayAgentSubOption } from './sub-options.js'
import type { DhcpPacket } from './packet.js'

function subOptionAddress (packet: DhcpPacket, code: number): string | undefined {
  const value = relayAgentInformation(packet)?.get(code)
  if (value === undefined || value.length !== 4) return undefined
  return formatIPv4(((value[0] as number) << 24 | (value[1] as number) << 16 | (value[2] as number) << 8 | (value[3] as number)) >>> 0)
}

/** Option 82 sub-option 5 (RFC 3527): the subnet the client is on, when `giaddr` is not in it. */
export function relayLinkSelection (packet: DhcpPacket): string | undefined {
  return subOptionAddress(packet, RelayAgentSubOption.LinkSelection)
}

/**
 * Option 82 sub-option 11 (RFC 5107): the relay's address that the client should take as
 * the server identifier (option 54), so that its unicast renewals go through the relay.
 */
export function relayServerIdentifierOverride (packet: DhcpPacket): string | undefined {
  return subOptionAddress(packet, RelayAgentSubOption.ServerIdentifierOverride)
}

/**
 * The address that names the client's link, for relayed requests: option 118 (RFC 3011,
 * the explicit choice, as Kea and ISC dhcpd rank it), else the relay's link-selection
 * sub-option (RFC 3527), else `giaddr`. Undefined for a request that came directly.
 */
export function linkAddress (packet: DhcpPacket): string | undefined {
  if (packet.giaddr === IPV4_ANY) return undefined
  return subnetSelection(packet) ?? relayLinkSelection(packet) ?? packet.giaddr
}
