export { DecodeError, EncodeError, WireErrorCode, isDecodeError, isEncodeError } from './errors.js'
export { Reader } from './reader.js'
export { copyBytes } from './bytes.js'
export { Writer } from './writer.js'
export { type Codec, encodeValue, decodeValue, tryDecodeValue } from './codec.js'
export {
  IPV4_ANY, IPV4_BROADCAST, parseIPv4, tryParseIPv4, isIPv4, formatIPv4, ipv4ToBytes, ipv4FromBytes,
  ipv4ToUint32, uint32ToIPv4, prefixToMask, maskToPrefix, type Cidr, parseCidr, formatCidr, cidrContains,
  cidrBroadcast, cidrOverlaps, ipv4InRange, ipv4RangeSize, ipv4Add, type Subnet, tryParseSubnet, type Ipv4Range,
  tryParseIPv4Range, rangesOverlap
} from './ipv4.js'
export { MAC_PATTERN, parseMac, tryParseMac, isMac, macToBytes, macFromBytes, formatHardwareAddress } from './mac.js'
