import { tryDecodeValue, formatHardwareAddress } from '@rackboot/wire'
import { OPTION_CODECS } from './accessors.js'
import { Option, optionName } from './option-table.js'
import { messageTypeName } from './message-type.js'
import type { DhcpPacket } from './packet.js'

function hex (bytes: Uint8Array): string {
  return formatHardwareAddress(bytes).replace(/:/g, '')
}

/** A JSON-friendly form of a value: byte arrays as hex, sub-option maps as objects. */
function plain (value: unknown): unknown {
  if (value instanceof Uint8Array) return hex(value)
  if (value instanceof Map) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of value) out[String(k)] = plain(v)
    return out
  }
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = plain(v)
    return out
  }
  return value
}

export interface DescribedOption {
  code: number
  /** Table name, or `option-<n>` for unknown codes. */
  name: string
  /** Typed value when the option is known and well-formed, else raw hex under `raw`. */
  value?: unknown
  raw?: string
}

/** Options in wire order with names and parsed values, for logs and snapshots. */
export function describeOptions (packet: DhcpPacket): DescribedOption[] {
  const out: DescribedOption[] = []
  for (const [code, bytes] of packet.options) {
    const codec = OPTION_CODECS.get(code)
    const value = codec === undefined ? undefined : tryDecodeValue(codec, bytes)
    const name = optionName(code)
    if (value === undefined) out.push({ code, name, raw: hex(bytes) })
    else if (code === Option.MessageType) out.push({ code, name, value: messageTypeName(value as number) })
    else out.push({ code, name, value: plain(value) })
  }
  return out
}

/** The whole packet as plain JSON (chaddr as MAC text, options described). */
export function describePacket (packet: DhcpPacket): Record<string, unknown> {
  return {
    op: packet.op,
    htype: packet.htype,
    hlen: packet.hlen,
    hops: packet.hops,
    xid: packet.xid,
    secs: packet.secs,
    flags: packet.flags,
    ciaddr: packet.ciaddr,
    yiaddr: packet.yiaddr,
    siaddr: packet.siaddr,
    giaddr: packet.giaddr,
    chaddr: formatHardwareAddress(packet.chaddr),
    sname: packet.sname,
    file: packet.file,
    options: describeOptions(packet)
  }
}
