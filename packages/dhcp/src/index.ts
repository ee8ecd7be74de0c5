export { DhcpErrorCode } from './errors.js'
export { Option, type OptionCode, type OptionType, type OptionInfo, OPTION_TABLE, optionInfo, optionName, optionCode } from './option-table.js'
export { MessageType, messageTypeName, BootOp, expectedOp } from './message-type.js'
export {
  type Options, OptionCollector, decodeOptionsArea, encodeOptions, optionLength, optionsLength, MAX_OPTION_CHUNK
} from './options.js'
export {
  type ClientIdentifier, type ClientNetworkInterface, type ClientMachineId, type UserClass, formatGuid,
  u8Value, u16Value, u32Value, u16AtLeast, i32Value, flagValue, ipv4Value, ipv4ListValue, u8ListValue, u16ListValue,
  stringValue, bytesValue, clientIdentifierValue, clientNetworkInterfaceValue, clientMachineIdValue, userClassValue
} from './option-values.js'
export { encodeDomainList, decodeDomainList, type DomainListResult, domainListValue } from './domain-name.js'
export { type ClasslessRoute, classlessRoutesValue } from './classless-routes.js'
export {
  type SubOptions, type SubOptionsFormat, subOptionsCodec, vendorSubOptionsValue, ipxeSubOptionsValue,
  relayAgentSubOptionsValue, PxeSubOption, PxeDiscoveryControl, RelayAgentSubOption, IpxeSubOption
} from './sub-options.js'
export {
  type HasOptions, type Modifier, type OptionAccessor, optionAccessor, OPTION_CODECS, withOption, withoutOption,
  subnetMask, timeOffset, routers, domainNameServers, hostName, domainName, rootPath, interfaceMtu, broadcastAddress,
  ntpServers, vendorSpecific, requestedIpAddress, leaseTime, messageType, serverIdentifier, parameterRequestList,
  message, maxMessageSize, renewalTime, rebindingTime, vendorClassIdentifier, clientIdentifier, tftpServerName,
  bootfileName, userClass, rapidCommit, relayAgentInformation, clientSystemArchitecture, clientNetworkInterface,
  clientMachineId, subnetSelection, domainSearch, classlessStaticRoutes, ipxeEncapsulated
} from './accessors.js'
export { relayLinkSelection, relayServerIdentifierOverride, linkAddress } from './relay-agent.js'
export { encodeFitted, type FitOptions, type Fitted } from './fit.js'
export {
  type DhcpPacket, type EncodeOptions, packetCodec, encode, encodeOverloaded, encodeInto, decode, createPacket, maxReplySize,
  clientHardwareAddress, isBroadcastFlagSet, MAGIC_COOKIE, HEADER_LENGTH, FieldOffset, CHADDR_LENGTH, SNAME_LENGTH,
  FILE_LENGTH, BOOTP_MIN_LENGTH, BROADCAST_FLAG, HardwareType, DEFAULT_MAX_MESSAGE_SIZE, IP_UDP_HEADER_LENGTH,
  DEFAULT_MAX_REPLY_SIZE
} from './packet.js'
export { ALWAYS_SEND, type OrderPolicy, orderOptions, requestedOptions, withRequestedOrder } from './parameter-request.js'
export {
  reply, type PacketModifier, withYiaddr, withSiaddr, withCiaddr, withFile, withSname, withBroadcastFlag
} from './reply.js'
export {
  replyDestination, type Destination, type DestinationRule, type DestinationOptions, SERVER_PORT, CLIENT_PORT
} from './destination.js'
export {
  ClientArch, type BootFileParams, DEFAULT_BOOT_FILES, type BootTableEntry, BOOT_TABLE, type BootSelection, isIpxe,
  clientArch, selectBootFile, withBootSelection
} from './boot-file.js'
export { describeOptions, describePacket, type DescribedOption } from './describe.js'
