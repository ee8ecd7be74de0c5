/**
 * Hand-built packets, byte by byte, for decoder tests. These are NOT captures:
 * they are written from RFC 2131/2132, RFC 4578 and the PXE 2.1 spec to look
 * like what the named clients send. Real captured fixtures go under
 * test/fixtures/ with a note of how they were captured.
 */
import { ascii } from './round-trip.js'

export interface HandOption {
  code: number
  data: number[]
}

export interface HandPacket {
  bytes: Uint8Array
  /** Offset of each option's code byte, in order. */
  optionOffsets: number[]
  options: HandOption[]
  /** Offset of the End option. */
  endOffset: number
}

export interface HandHeader {
  op: number
  htype?: number
  hlen?: number
  hops?: number
  xid: number
  secs?: number
  flags?: number
  ciaddr?: number[]
  yiaddr?: number[]
  siaddr?: number[]
  giaddr?: number[]
  chaddr: number[]
  sname?: string
  file?: string
  cookie?: number[]
}

function u16 (n: number): number[] {
  return [n >>> 8, n & 255]
}

function u32 (n: number): number[] {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
}

function fixed (text: string, length: number): number[] {
  const b = ascii(text)
  return [...b, ...new Array<number>(length - b.length).fill(0)]
}

/** Lay out header, options and End, zero-padded to `padTo` (300 by default). */
export function buildPacket (h: HandHeader, options: HandOption[], padTo = 300): HandPacket {
  const bytes: number[] = [
    h.op, h.htype ?? 1, h.hlen ?? h.chaddr.length, h.hops ?? 0,
    ...u32(h.xid), ...u16(h.secs ?? 0), ...u16(h.flags ?? 0),
    ...(h.ciaddr ?? [0, 0, 0, 0]), ...(h.yiaddr ?? [0, 0, 0, 0]), ...(h.siaddr ?? [0, 0, 0, 0]), ...(h.giaddr ?? [0, 0, 0, 0]),
    ...h.chaddr, ...new Array<number>(16 - h.chaddr.length).fill(0),
    ...fixed(h.sname ?? '', 64), ...fixed(h.file ?? '', 128),
    ...(h.cookie ?? [99, 130, 83, 99])
  ]
  const optionOffsets: number[] = []
  for (const o of options) {
    optionOffsets.push(bytes.length)
    bytes.push(o.code, o.data.length, ...o.data)
  }
  const endOffset = bytes.length
  bytes.push(255)
  while (bytes.length < padTo) bytes.push(0)
  return { bytes: Uint8Array.from(bytes), optionOffsets, options, endOffset }
}

export const PXE_GUID = [0x4c, 0x4c, 0x45, 0x44, 0x00, 0x4a, 0x38, 0x10, 0x80, 0x33, 0xb3, 0xc0, 0x4f, 0x4e, 0x32, 0x31]
export const BIOS_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
export const IPXE_MAC = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]
export const RELAY_MAC = [0x3c, 0xec, 0xef, 0x01, 0x02, 0x03]

/** A BIOS PXE ROM's DISCOVER (PXE 2.1: options 93, 94, 97, 60 "PXEClient:Arch:00000:UNDI:002001", broadcast bit). */
export function pxeBiosDiscover (): HandPacket {
  return buildPacket({ op: 1, xid: 0x1d2c3b4a, secs: 4, flags: 0x8000, chaddr: BIOS_MAC }, [
    { code: 53, data: [1] },
    { code: 57, data: u16(1260) },
    { code: 93, data: u16(0) },
    { code: 94, data: [1, 2, 1] },
    { code: 97, data: [0, ...PXE_GUID] },
    { code: 55, data: [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135] },
    { code: 60, data: ascii('PXEClient:Arch:00000:UNDI:002001') }
  ])
}

/** iPXE (x64 UEFI build) DISCOVER: user class 77 as the plain string "iPXE" and option 175. */
export function ipxeDiscover (): HandPacket {
  return buildPacket({ op: 1, xid: 0x9e7a2b01, chaddr: IPXE_MAC }, [
    { code: 53, data: [1] },
    { code: 57, data: u16(1472) },
    { code: 55, data: [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203] },
    // 175: HTTP (19) = 1, DNS (23) = 1, EFI (36) = 1, version (235) = 1.21.1, bus id (177) = PCI 8086:100e
    { code: 175, data: [19, 1, 1, 23, 1, 1, 36, 1, 1, 235, 3, 1, 21, 1, 177, 5, 1, 0x80, 0x86, 0x10, 0x0e] },
    { code: 61, data: [1, ...IPXE_MAC] },
    { code: 93, data: u16(7) },
    { code: 94, data: [1, 3, 16] },
    { code: 60, data: ascii('PXEClient:Arch:00007:UNDI:003016') },
    { code: 77, data: ascii('iPXE') },
    { code: 97, data: [0, ...PXE_GUID] }
  ])
}

/** A REQUEST relayed by a switch: giaddr, hops 1, option 82 with circuit id and remote id. */
export function relayedRequest (): HandPacket {
  return buildPacket({ op: 1, hops: 1, xid: 0x00c0ffee, secs: 2, chaddr: RELAY_MAC, giaddr: [10, 20, 0, 1] }, [
    { code: 53, data: [3] },
    { code: 61, data: [1, ...RELAY_MAC] },
    { code: 50, data: [10, 20, 0, 50] },
    { code: 54, data: [10, 0, 0, 1] },
    { code: 12, data: ascii('node-07') },
    { code: 55, data: [1, 3, 6, 15, 28, 42, 119, 121] },
    { code: 82, data: [1, 8, ...ascii('eth1/1/7'), 2, 6, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc] }
  ])
}
