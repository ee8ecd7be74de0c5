import { type Codec, copyBytes, encodeValue, tryDecodeValue } from '@rackboot/wire'
import { checkOptionCode, type Options } from './options.js'
import { Option } from './option-table.js'
import {
  u8Value, u32Value, u16AtLeast, i32Value, flagValue, ipv4Value, ipv4ListValue, u8ListValue, u16ListValue,
  stringValue, clientIdentifierValue, clientNetworkInterfaceValue, clientMachineIdValue, userClassValue,
  type ClientIdentifier, type ClientNetworkInterface, type ClientMachineId, type UserClass
} from './option-values.js'
import { domainListValue } from './domain-name.js'
import { classlessRoutesValue, type ClasslessRoute } from './classless-routes.js'
import { vendorSubOptionsValue, ipxeSubOptionsValue, relayAgentSubOptionsValue, type SubOptions } from './sub-options.js'

/** Anything with an options map (a packet, or a bare holder in tests). */
export interface HasOptions {
  options: Options
}

/** A change applied to a packet being built (insomniacslk's `Modifier`). */
export type Modifier<P extends HasOptions = HasOptions> = (packet: P) => void

/**
 * A typed option accessor: call it to read (lazily parsed; a missing or
 * malformed value reads as `undefined`), `.set()` to write, `.with()` for a
 * reply modifier.
 *
 *     serverIdentifier(packet)            // '10.0.0.1' | undefined
 *     serverIdentifier.set(packet, '10.0.0.1')
 *     reply(req, serverIdentifier.with('10.0.0.1'))
 */
export interface OptionAccessor<T> {
  (packet: HasOptions): T | undefined
  readonly code: number
  readonly codec: Codec<T>
  set (packet: HasOptions, value: T): void
  delete (packet: HasOptions): void
  with (value: T): Modifier
  /** The value bytes of `value` (no code/length). */
  encode (value: T): Uint8Array
  /** Parse value bytes; undefined if malformed. */
  decode (bytes: Uint8Array): T | undefined
}

export function optionAccessor<T> (code: number, codec: Codec<T>): OptionAccessor<T> {
  checkOptionCode(code)
  const encode = (value: T): Uint8Array => encodeValue(codec, value)
  const decode = (bytes: Uint8Array): T | undefined => tryDecodeValue(codec, bytes)
  const get = (packet: HasOptions): T | undefined => {
    const raw = packet.options.get(code)
    return raw === undefined ? undefined : decode(raw)
  }
  const set = (packet: HasOptions, value: T): void => {
    packet.options.set(code, encode(value))
  }
  return Object.assign(get, {
    code,
    codec,
    set,
    delete: (packet: HasOptions) => { packet.options.delete(code) },
    with: (value: T): Modifier => {
      const bytes = encode(value) // fail early, at modifier creation
      return packet => { packet.options.set(code, copyBytes(bytes)) }
    },
    encode,
    decode
  })
}

export const subnetMask = optionAccessor(Option.SubnetMask, ipv4Value)
export const timeOffset = optionAccessor(Option.TimeOffset, i32Value)
export const routers = optionAccessor(Option.Router, ipv4ListValue)
export const domainNameServers = optionAccessor(Option.DomainNameServer, ipv4ListValue)
export const hostName = optionAccessor(Option.HostName, stringValue)
export const domainName = optionAccessor(Option.DomainName, stringValue)
export const rootPath = optionAccessor(Option.RootPath, stringValue)
/** RFC 2132 §5.1: minimum MTU 68; smaller reads as absent. */
export const interfaceMtu = optionAccessor(Option.InterfaceMtu, u16AtLeast(68))
export const broadcastAddress = optionAccessor(Option.BroadcastAddress, ipv4Value)
export const ntpServers = optionAccessor(Option.NtpServers, ipv4ListValue)
/** Option 43 parsed as PXE sub-options (other vendors' option 43 may not be TLV; read the raw bytes then). */
export const vendorSpecific = optionAccessor<SubOptions>(Option.VendorSpecific, vendorSubOptionsValue)
export const requestedIpAddress = optionAccessor(Option.RequestedIpAddress, ipv4Value)
export const leaseTime = optionAccessor(Option.LeaseTime, u32Value)
export const messageType = optionAccessor(Option.MessageType, u8Value)
export const serverIdentifier = optionAccessor(Option.ServerIdentifier, ipv4Value)
export const parameterRequestList = optionAccessor(Option.ParameterRequestList, u8ListValue)
export const message = optionAccessor(Option.Message, stringValue)
/** RFC 2132 §9.10: "The minimum legal value is 576 octets"; smaller reads as absent. */
export const maxMessageSize = optionAccessor(Option.MaxMessageSize, u16AtLeast(576))
export const renewalTime = optionAccessor(Option.RenewalTime, u32Value)
export const rebindingTime = optionAccessor(Option.RebindingTime, u32Value)
export const vendorClassIdentifier = optionAccessor(Option.VendorClassIdentifier, stringValue)
export const clientIdentifier = optionAccessor<ClientIdentifier>(Option.ClientIdentifier, clientIdentifierValue)
export const tftpServerName = optionAccessor(Option.TftpServerName, stringValue)
export const bootfileName = optionAccessor(Option.BootfileName, stringValue)
export const userClass = optionAccessor<UserClass>(Option.UserClass, userClassValue)
export const rapidCommit = optionAccessor(Option.RapidCommit, flagValue)
/**
 * Option 82 parsed into sub-options, for reading (circuit id, remote id).
 * `reply()` never re-encodes it: the raw bytes are echoed unchanged.
 */
export const relayAgentInformation = optionAccessor<SubOptions>(Option.RelayAgentInformation, relayAgentSubOptionsValue)
export const clientSystemArchitecture = optionAccessor(Option.ClientSystemArchitecture, u16ListValue)
export const clientNetworkInterface = optionAccessor<ClientNetworkInterface>(Option.ClientNetworkInterface, clientNetworkInterfaceValue)
export const clientMachineId = optionAccessor<ClientMachineId>(Option.ClientMachineId, clientMachineIdValue)
export const subnetSelection = optionAccessor(Option.SubnetSelection, ipv4Value)
export const domainSearch = optionAccessor(Option.DomainSearch, domainListValue)
export const classlessStaticRoutes = optionAccessor<ClasslessRoute[]>(Option.ClasslessStaticRoute, classlessRoutesValue)
export const ipxeEncapsulated = optionAccessor<SubOptions>(Option.IpxeEncapsulated, ipxeSubOptionsValue)

/** Value codec per option code, for `describeOptions`. Unknown codes are raw bytes. */
export const OPTION_CODECS: ReadonlyMap<number, Codec<unknown>> = new Map<number, Codec<unknown>>(
  [subnetMask, timeOffset, routers, domainNameServers, hostName, domainName, rootPath, interfaceMtu, broadcastAddress,
    ntpServers, vendorSpecific, requestedIpAddress, leaseTime, messageType, serverIdentifier, parameterRequestList,
    message, maxMessageSize, renewalTime, rebindingTime, vendorClassIdentifier, clientIdentifier, tftpServerName,
    bootfileName, userClass, rapidCommit, relayAgentInformation, clientSystemArchitecture, clientNetworkInterface,
    clientMachineId, subnetSelection, domainSearch, classlessStaticRoutes, ipxeEncapsulated
  ].map(a => [a.code, a.codec as Codec<unknown>])
)

/** Set raw option bytes (a copy). */
export function withOption (code: number, value: Uint8Array): Modifier {
  checkOptionCode(code)
  return packet => { packet.options.set(code, copyBytes(value)) }
}

export function withoutOption (code: number): Modifier {
  return packet => { packet.options.delete(code) }
}
