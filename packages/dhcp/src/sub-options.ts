import type { Codec } from '@rackboot/wire'
import { optionLength } from './options.js'
import { badValue, encodeFail } from './option-values.js'

/**
 * Encapsulated sub-options (code, length, value) inside one option's value:
 * option 43 (PXE vendor options), 82 (relay agent information) and 175 (iPXE).
 * Decoded to a map like the top-level options; repeated codes concatenate and
 * values over 255 bytes are split on encode, as at the top level.
 */
export type SubOptions = Map<number, Uint8Array>

export interface SubOptionsFormat {
  /** Codes 0 and 255 are Pad and End (true for 43 and 175; 82's sub-options have no Pad/End). */
  padEnd: boolean
  /** Write End (255) after the sub-options (PXE 2.1 terminates option 43 with End). */
  terminate: boolean
}


export function subOptionsCodec (format: SubOptionsFormat): Codec<SubOptions> {
  return {
    encodingLength (v) {
      let n = format.terminate ? 1 : 0
      for (const value of v.values()) n += optionLength(value)
      return n
    },
    encode (v, w) {
      for (const [code, value] of v) {
        if (format.padEnd && (code === 0 || code === 255)) {
          encodeFail('value', `sub-option code ${code} is Pad/End in this encapsulation`)
        }
        if (value.length === 0) {
          w.u8(code, 'value')
          w.u8(0, 'value')
        }
        for (let at = 0; at < value.length; at += 255) {
          const chunk = value.subarray(at, Math.min(at + 255, value.length))
          w.u8(code, 'value')
          w.u8(chunk.length, 'value')
          w.bytes(chunk, 'value')
        }
      }
      if (format.terminate) w.u8(255, 'value')
    },
    decode (r) {
      const parts = new Map<number, Uint8Array[]>()
      while (r.remaining > 0) {
        const code = r.u8('value')
        if (format.padEnd && code === 0) continue
        if (format.padEnd && code === 255) {
          r.skip(r.remaining, 'value') // anything after End is padding
          break
        }
        if (r.remaining === 0) {
          badValue(r, `sub-option ${code} has no length`)
          break
        }
        const length = r.u8('value')
        if (length > r.remaining) {
          badValue(r, `sub-option ${code} declares ${length} bytes, ${r.remaining} left`)
          break
        }
        const value = r.bytes(length, 'value')
        const list = parts.get(code)
        if (list === undefined) parts.set(code, [value])
        else list.push(value)
      }
      const out: SubOptions = new Map()
      for (const [code, list] of parts) out.set(code, concat(list))
      return out
    }
  }
}

function concat (list: Uint8Array[]): Uint8Array {
  if (list.length === 1) return list[0] as Uint8Array
  const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0))
  let at = 0
  for (const b of list) {
    out.set(b, at)
    at += b.length
  }
  return out
}

/** Option 43 for PXE clients: sub-options with Pad/End, terminated by End. */
export const vendorSubOptionsValue = subOptionsCodec({ padEnd: true, terminate: true })
/** Option 175, iPXE's encapsulated options (same framing as top-level options). */
export const ipxeSubOptionsValue = subOptionsCodec({ padEnd: true, terminate: false })
/** Option 82 sub-options (RFC 3046 §2.0: no Pad, no End). */
export const relayAgentSubOptionsValue = subOptionsCodec({ padEnd: false, terminate: false })

/** PXE 2.1 option 43 sub-options. */
export const PxeSubOption = {
  MtftpIp: 1,
  MtftpClientPort: 2,
  MtftpServerPort: 3,
  MtftpTimeout: 4,
  MtftpDelay: 5,
  DiscoveryControl: 6,
  DiscoveryMulticastAddress: 7,
  BootServers: 8,
  BootMenu: 9,
  MenuPrompt: 10,
  McastAddressAllocation: 11,
  CredentialTypes: 12,
  BootItem: 71
} as const

/**
 * PXE discovery control (sub-option 6) bits. Value 8 ("use the boot file in
 * this offer, no boot server discovery") is what a DHCP server that also names
 * the boot file wants most ROMs to do.
 */
export const PxeDiscoveryControl = {
  DisableBroadcast: 1,
  DisableMulticast: 2,
  OnlyBootServers: 4,
  UseBootFile: 8
} as const

/** RFC 3046 / later registrations: option 82 sub-options. */
export const RelayAgentSubOption = {
  CircuitId: 1,
  RemoteId: 2,
  LinkSelection: 5,
  SubscriberId: 6,
  RadiusAttributes: 7,
  Authentication: 8,
  VendorSpecific: 9,
  Flags: 10,
  ServerIdentifierOverride: 11,
  VirtualSubnetSelection: 151,
  VirtualSubnetSelectionControl: 152
} as const

/** iPXE's option 175 sub-options (from iPXE's include/ipxe/dhcp.h). */
export const IpxeSubOption = {
  Priority: 1,
  KeepSan: 8,
  SkipSanBoot: 9,
  FeatureHttp: 19,
  FeatureHttps: 20,
  FeatureTftp: 21,
  FeatureDns: 23,
  FeatureBzImage: 24,
  FeatureEfi: 36,
  /** "No proxyDHCP wait": skip waiting for a ProxyDHCP offer (set to 1 by the server). */
  NoPxeDhcp: 176,
  BusId: 177,
  BiosDrive: 189,
  Username: 190,
  Password: 191,
  Version: 235
} as const
