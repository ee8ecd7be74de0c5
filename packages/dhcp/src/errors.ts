/**
 * Stable error codes of `@rackboot/dhcp`. Decoding failures are
 * `DecodeError`s and encoding failures `EncodeError`s (both from
 * `@rackboot/wire`); truncation uses wire's `RB_WIRE_TRUNCATED`.
 */
export const DhcpErrorCode = {
  /** `op` is neither BOOTREQUEST (1) nor BOOTREPLY (2). */
  BadOp: 'RB_DHCP_BAD_OP',
  /** `hlen` is larger than the 16-byte `chaddr` field (decode), or `chaddr` does not have `hlen` bytes (encode). */
  BadHlen: 'RB_DHCP_BAD_HLEN',
  /** The magic cookie is not 99.130.83.99. */
  BadCookie: 'RB_DHCP_BAD_COOKIE',
  /** An option's declared length runs past the end of its area. */
  OptionOverrun: 'RB_DHCP_OPTION_OVERRUN',
  /** An options area (options, or an overloaded file/sname) ends without End (255). */
  MissingEnd: 'RB_DHCP_MISSING_END',
  /** Option 52 (overload) is not one byte of value 1, 2 or 3. */
  BadOverload: 'RB_DHCP_BAD_OVERLOAD',
  /** The DHCP message type contradicts `op` (a DISCOVER sent as BOOTREPLY). */
  OpMismatch: 'RB_DHCP_OP_MISMATCH',
  /** Encode: the message is larger than the peer accepts (option 57, default 576). */
  TooLarge: 'RB_DHCP_TOO_LARGE',
  /** Encode: a header field does not fit (sname > 64 bytes, file > 128 bytes, non-latin1 text). */
  BadField: 'RB_DHCP_BAD_FIELD',
  /** Encode: a typed option value is invalid (empty list, label > 63 bytes, host bits in a route). */
  BadValue: 'RB_DHCP_BAD_VALUE',
  /** Encode: Pad (0), End (255) or Overload (52) given as option data; framing is the codec's job. */
  ReservedOption: 'RB_DHCP_RESERVED_OPTION'
} as const

export type DhcpErrorCode = typeof DhcpErrorCode[keyof typeof DhcpErrorCode]
