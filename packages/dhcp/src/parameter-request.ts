import { Option } from './option-table.js'
import type { Options } from './options.js'
import type { DhcpPacket } from './packet.js'
import type { Modifier } from './accessors.js'

/**
 * Options a reply keeps whatever the client's Parameter Request List (55)
 * says, in this order:
 * - 53 message type, 54 server identifier, 51 lease time: RFC 2131 §4.3.1
 *   table 3 marks them MUST in OFFER/ACK (53 and 54 also in NAK); a reply
 *   without them is not a DHCP reply.
 * - 58/59 renewal and rebinding times: they belong to the lease; clients
 *   compute defaults otherwise (RFC 2131 §4.4.5), so sending ours is safe.
 * - 1 subnet mask, 3 router: the address is useless without them, and some
 *   PXE ROMs do not ask for them yet use them for TFTP.
 * - 60 vendor class and 43 vendor options: PXE 2.1 ROMs accept an offer as a
 *   boot offer only if it carries 60 "PXEClient" (and 43 for discovery
 *   control), whether or not they listed them; the server sets them only for
 *   PXE clients.
 * - 61 client identifier: `reply()` echoes the request's (RFC 6842 §3 MUST),
 *   which no request list can turn off.
 * Option 82 is never filtered and always goes last (RFC 3046 §2.2: "Servers
 * SHOULD copy the Relay Agent Information option as the last DHCP option").
 */
export const ALWAYS_SEND: readonly number[] = [
  Option.MessageType, Option.ServerIdentifier, Option.LeaseTime, Option.RenewalTime, Option.RebindingTime,
  Option.SubnetMask, Option.Router, Option.VendorClassIdentifier, Option.VendorSpecific, Option.ClientIdentifier
]

export interface OrderPolicy {
  /** Options kept and put first regardless of the request list. Default `ALWAYS_SEND`. */
  always?: readonly number[]
  /**
   * Keep options the client did not request (after the requested ones).
   * Default false: RFC 2132 §9.8 lets the client say what it wants, and small
   * ROM stacks have been seen to choke on long replies. Without an option 55
   * in the request everything is kept (the client expressed no preference).
   */
  keepUnrequested?: boolean
}

/**
 * Reorder (and filter) reply options by the request list. RFC 2132 §9.8:
 * "The client MAY list the options in order of preference. The DHCP server is
 * not required to return the options in the requested order, but MUST try to
 * insert the requested options in the order requested by the client."
 * Returns a new map; options the server does not have are simply absent
 * (RFC 2131 §4.3.1: the server "MUST omit any parameters it cannot provide").
 */
export function orderOptions (options: Options, requested: readonly number[] | undefined, policy: OrderPolicy = {}): Options {
  const always = policy.always ?? ALWAYS_SEND
  const keepRest = requested === undefined || policy.keepUnrequested === true
  const out: Options = new Map()
  const take = (code: number): void => {
    const v = options.get(code)
    if (v !== undefined && !out.has(code) && code !== Option.RelayAgentInformation) out.set(code, v)
  }
  for (const code of always) take(code)
  for (const code of requested ?? []) take(code)
  if (keepRest) for (const code of options.keys()) take(code)
  const relay = options.get(Option.RelayAgentInformation)
  if (relay !== undefined) out.set(Option.RelayAgentInformation, relay)
  return out
}

/** The request's option 55 as a list; undefined when absent or empty. */
export function requestedOptions (request: DhcpPacket): number[] | undefined {
  const raw = request.options.get(Option.ParameterRequestList)
  return raw === undefined || raw.length === 0 ? undefined : [...raw]
}

/** Modifier: order/filter the reply's options by `request`'s option 55. Use it last. */
export function withRequestedOrder (request: DhcpPacket, policy: OrderPolicy = {}): Modifier<DhcpPacket> {
  const requested = requestedOptions(request)
  return packet => { packet.options = orderOptions(packet.options, requested, policy) }
}
