/** DHCP message types (option 53), RFC 2132 §9.6 and later registrations. */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
  ForceRenew: 9,
  LeaseQuery: 10,
  LeaseUnassigned: 11,
  LeaseUnknown: 12,
  LeaseActive: 13
} as const

export type MessageType = typeof MessageType[keyof typeof MessageType]

const NAMES = new Map<number, string>(Object.entries(MessageType).map(([k, v]) => [v, k.toUpperCase()]))

/** `DISCOVER`, `ACK`, … or `message-type-<n>` for unregistered values. */
export function messageTypeName (type: number): string {
  return NAMES.get(type) ?? `message-type-${type}`
}

/** BOOTP `op` values. */
export const BootOp = {
  Request: 1,
  Reply: 2
} as const

/**
 * The `op` a message type must travel with, for the RFC 2131 types (1–8).
 * Other types (forcerenew, leasequery) are not checked: relays and servers use
 * them in both directions across the registrations, and `decide()` drops them.
 */
export function expectedOp (type: number): number | undefined {
  switch (type) {
    case MessageType.Discover:
    case MessageType.Request:
    case MessageType.Decline:
    case MessageType.Release:
    case MessageType.Inform:
      return BootOp.Request
    case MessageType.Offer:
    case MessageType.Ack:
    case MessageType.Nak:
      return BootOp.Reply
    default:
      return undefined
  }
}
