/**
 * DHCP option codes and their table (data, not code: node-dhcp's good part).
 * Logic refers to options through `Option.X`, never bare numbers.
 */
export const Option = {
  Pad: 0,
  SubnetMask: 1,
  TimeOffset: 2,
  Router: 3,
  DomainNameServer: 6,
  HostName: 12,
  BootFileSize: 13,
  DomainName: 15,
  RootPath: 17,
  InterfaceMtu: 26,
  BroadcastAddress: 28,
  StaticRoute: 33,
  NtpServers: 42,
  VendorSpecific: 43,
  RequestedIpAddress: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  UserClass: 77,
  RapidCommit: 80,
  ClientFqdn: 81,
  RelayAgentInformation: 82,
  ClientSystemArchitecture: 93,
  ClientNetworkInterface: 94,
  ClientMachineId: 97,
  SubnetSelection: 118,
  DomainSearch: 119,
  ClasslessStaticRoute: 121,
  PxeLinuxMagic: 208,
  PxeLinuxConfigFile: 209,
  PxeLinuxPathPrefix: 210,
  IpxeEncapsulated: 175,
  End: 255
} as const

export type OptionCode = typeof Option[keyof typeof Option]

/** How an option's value is laid out; the typed accessors implement these. */
export type OptionType =
  | 'pad' | 'end' | 'ipv4' | 'ipv4-list' | 'u8' | 'u16' | 'u32' | 'i32' | 'string' | 'bytes' | 'flag'
  | 'u8-list' | 'u16-list' | 'message-type' | 'overload' | 'client-id' | 'client-ndi' | 'uuid'
  | 'user-class' | 'domain-list' | 'routes' | 'sub-options' | 'relay-agent'

export interface OptionInfo {
  readonly code: number
  readonly name: string
  readonly type: OptionType
  readonly rfc: string
}

export const OPTION_TABLE: readonly OptionInfo[] = [
  { code: Option.Pad, name: 'pad', type: 'pad', rfc: 'RFC 2132 §3.1' },
  { code: Option.SubnetMask, name: 'subnet-mask', type: 'ipv4', rfc: 'RFC 2132 §3.3' },
  { code: Option.TimeOffset, name: 'time-offset', type: 'i32', rfc: 'RFC 2132 §3.4' },
  { code: Option.Router, name: 'router', type: 'ipv4-list', rfc: 'RFC 2132 §3.5' },
  { code: Option.DomainNameServer, name: 'domain-name-server', type: 'ipv4-list', rfc: 'RFC 2132 §3.8' },
  { code: Option.HostName, name: 'host-name', type: 'string', rfc: 'RFC 2132 §3.14' },
  { code: Option.BootFileSize, name: 'boot-file-size', type: 'u16', rfc: 'RFC 2132 §3.15' },
  { code: Option.DomainName, name: 'domain-name', type: 'string', rfc: 'RFC 2132 §3.17' },
  { code: Option.RootPath, name: 'root-path', type: 'string', rfc: 'RFC 2132 §3.19' },
  { code: Option.InterfaceMtu, name: 'interface-mtu', type: 'u16', rfc: 'RFC 2132 §5.1' },
  { code: Option.BroadcastAddress, name: 'broadcast-address', type: 'ipv4', rfc: 'RFC 2132 §5.3' },
  { code: Option.StaticRoute, name: 'static-route', type: 'bytes', rfc: 'RFC 2132 §5.8' },
  { code: Option.NtpServers, name: 'ntp-servers', type: 'ipv4-list', rfc: 'RFC 2132 §8.3' },
  { code: Option.VendorSpecific, name: 'vendor-specific', type: 'sub-options', rfc: 'RFC 2132 §8.4, PXE 2.1' },
  { code: Option.RequestedIpAddress, name: 'requested-ip-address', type: 'ipv4', rfc: 'RFC 2132 §9.1' },
  { code: Option.LeaseTime, name: 'lease-time', type: 'u32', rfc: 'RFC 2132 §9.2' },
  { code: Option.Overload, name: 'overload', type: 'overload', rfc: 'RFC 2132 §9.3' },
  { code: Option.MessageType, name: 'message-type', type: 'message-type', rfc: 'RFC 2132 §9.6' },
  { code: Option.ServerIdentifier, name: 'server-identifier', type: 'ipv4', rfc: 'RFC 2132 §9.7' },
  { code: Option.ParameterRequestList, name: 'parameter-request-list', type: 'u8-list', rfc: 'RFC 2132 §9.8' },
  { code: Option.Message, name: 'message', type: 'string', rfc: 'RFC 2132 §9.9' },
  { code: Option.MaxMessageSize, name: 'max-message-size', type: 'u16', rfc: 'RFC 2132 §9.10' },
  { code: Option.RenewalTime, name: 'renewal-time', type: 'u32', rfc: 'RFC 2132 §9.11' },
  { code: Option.RebindingTime, name: 'rebinding-time', type: 'u32', rfc: 'RFC 2132 §9.12' },
  { code: Option.VendorClassIdentifier, name: 'vendor-class-identifier', type: 'string', rfc: 'RFC 2132 §9.13' },
  { code: Option.ClientIdentifier, name: 'client-identifier', type: 'client-id', rfc: 'RFC 2132 §9.14' },
  { code: Option.TftpServerName, name: 'tftp-server-name', type: 'string', rfc: 'RFC 2132 §9.4' },
  { code: Option.BootfileName, name: 'bootfile-name', type: 'string', rfc: 'RFC 2132 §9.5' },
  { code: Option.UserClass, name: 'user-class', type: 'user-class', rfc: 'RFC 3004' },
  { code: Option.RapidCommit, name: 'rapid-commit', type: 'flag', rfc: 'RFC 4039' },
  { code: Option.ClientFqdn, name: 'client-fqdn', type: 'bytes', rfc: 'RFC 4702' },
  { code: Option.RelayAgentInformation, name: 'relay-agent-information', type: 'relay-agent', rfc: 'RFC 3046' },
  { code: Option.ClientSystemArchitecture, name: 'client-system-architecture', type: 'u16-list', rfc: 'RFC 4578 §2.1' },
  { code: Option.ClientNetworkInterface, name: 'client-network-interface', type: 'client-ndi', rfc: 'RFC 4578 §2.2' },
  { code: Option.ClientMachineId, name: 'client-machine-id', type: 'uuid', rfc: 'RFC 4578 §2.3' },
  { code: Option.SubnetSelection, name: 'subnet-selection', type: 'ipv4', rfc: 'RFC 3011' },
  { code: Option.DomainSearch, name: 'domain-search', type: 'domain-list', rfc: 'RFC 3397' },
  { code: Option.ClasslessStaticRoute, name: 'classless-static-route', type: 'routes', rfc: 'RFC 3442' },
  { code: Option.IpxeEncapsulated, name: 'ipxe-encapsulated', type: 'sub-options', rfc: 'iPXE (ipxe.org/cfg)' },
  { code: Option.PxeLinuxMagic, name: 'pxelinux-magic', type: 'bytes', rfc: 'RFC 5071' },
  { code: Option.PxeLinuxConfigFile, name: 'pxelinux-config-file', type: 'string', rfc: 'RFC 5071' },
  { code: Option.PxeLinuxPathPrefix, name: 'pxelinux-path-prefix', type: 'string', rfc: 'RFC 5071' },
  { code: Option.End, name: 'end', type: 'end', rfc: 'RFC 2132 §3.2' }
]

const BY_CODE = new Map<number, OptionInfo>(OPTION_TABLE.map(o => [o.code, o]))
const BY_NAME = new Map<string, OptionInfo>(OPTION_TABLE.map(o => [o.name, o]))

/** The table entry for a code, or undefined for an unknown option. */
export function optionInfo (code: number): OptionInfo | undefined {
  return BY_CODE.get(code)
}

/** The printable name: the table name, or `option-<n>` for an unknown code (dns-packet's `OPTION_<n>`). */
export function optionName (code: number): string {
  return BY_CODE.get(code)?.name ?? `option-${code}`
}

/** Inverse of `optionName`; accepts `option-<n>` for any code 0..255. */
export function optionCode (name: string): number | undefined {
  const known = BY_NAME.get(name)
  if (known !== undefined) return known.code
  const m = /^option-(0|[1-9]\d{0,2})$/.exec(name)
  const n = m?.[1] === undefined ? Number.NaN : Number(m[1])
  return n <= 255 ? n : undefined
}
