import { clientHardwareAddress, type DhcpPacket } from './packet.js'
import { Option } from './option-table.js'
import { bootfileName, clientSystemArchitecture, userClass, vendorClassIdentifier } from './accessors.js'
import type { PacketModifier } from './reply.js'

/**
 * Client system architecture types (option 93, RFC 4578 §2.1 and the IANA
 * "Processor Architecture Types" registry).
 *
 * RFC 4578 printed 7 as "EFI BC" and 9 as "EFI x86-64"; the registry later
 * swapped them (7 = x64 UEFI, 9 = EBC). x64 firmware in the field sends
 * either, so both map to the x64 iPXE build (smee and dnsmasq configs do the same).
 */
export const ClientArch = {
  X86Bios: 0,
  NecPc98: 1,
  Itanium: 2,
  DecAlpha: 3,
  ArcX86: 4,
  IntelLeanClient: 5,
  X86Uefi: 6,
  X64Uefi: 7,
  EfiXscale: 8,
  Ebc: 9,
  Arm32Uefi: 10,
  Arm64Uefi: 11,
  X86UefiHttp: 15,
  X64UefiHttp: 16,
  EbcHttp: 17,
  Arm32UefiHttp: 18,
  Arm64UefiHttp: 19,
  X86BiosHttp: 20
} as const

/** Boot file names and URL templates: deployment data, passed in by the caller. */
export interface BootFileParams {
  /** BIOS PXE ROMs: iPXE chainloading through the ROM's UNDI driver. e.g. `undionly.kpxe`. */
  bios: string
  /** x64 UEFI: `ipxe.efi` (iPXE's own drivers) or `snponly.efi` (the firmware's SNP driver). */
  efiX64: string
  /** 32-bit x86 UEFI needs an i386 build; defaults to `efiX64`, which such firmware cannot run. */
  efiIa32?: string
  /** arm64 UEFI, e.g. `ipxe-arm64.efi`. */
  efiArm64: string
  /**
   * URL template for UEFI HTTP boot clients (they fetch the iPXE binary over
   * HTTP instead of TFTP); `{file}` becomes the architecture's file name.
   * e.g. `http://10.0.0.1:8080/ipxe/{file}`.
   */
  httpUrl: string
  /**
   * URL template of the per-machine iPXE script for clients already running
   * iPXE (breaks the PXE → iPXE → PXE chainload loop); `{mac}` becomes the
   * client's MAC (lowercase, colons) and `{arch}` its architecture number.
   */
  ipxeScriptUrl: string
}

export const DEFAULT_BOOT_FILES = {
  bios: 'undionly.kpxe',
  efiX64: 'ipxe.efi',
  efiArm64: 'ipxe-arm64.efi'
} as const

type FileKey = 'bios' | 'efiX64' | 'efiIa32' | 'efiArm64'

export interface BootTableEntry {
  readonly arch: number
  readonly name: string
  readonly transport: 'tftp' | 'http'
  readonly file: FileKey
}

/** Firmware → boot file, as data (smee's `ArchToBootFile`). Architectures not listed are not served. */
export const BOOT_TABLE: readonly BootTableEntry[] = [
  { arch: ClientArch.X86Bios, name: 'x86 BIOS', transport: 'tftp', file: 'bios' },
  { arch: ClientArch.X86Uefi, name: 'x86 UEFI (32-bit)', transport: 'tftp', file: 'efiIa32' },
  { arch: ClientArch.X64Uefi, name: 'x64 UEFI', transport: 'tftp', file: 'efiX64' },
  { arch: ClientArch.Ebc, name: 'x64 UEFI (RFC 4578 numbering)', transport: 'tftp', file: 'efiX64' },
  { arch: ClientArch.Arm64Uefi, name: 'arm64 UEFI', transport: 'tftp', file: 'efiArm64' },
  { arch: ClientArch.X86UefiHttp, name: 'x86 UEFI HTTP', transport: 'http', file: 'efiIa32' },
  { arch: ClientArch.X64UefiHttp, name: 'x64 UEFI HTTP', transport: 'http', file: 'efiX64' },
  { arch: ClientArch.Arm64UefiHttp, name: 'arm64 UEFI HTTP', transport: 'http', file: 'efiArm64' }
]

export type BootSelection =
  /** The client runs iPXE: hand it its script URL (in `file`, and option 67). */
  | { kind: 'ipxe-script', url: string }
  /** PXE firmware: TFTP file name in `file`; answer with option 60 `PXEClient`. */
  | { kind: 'tftp', arch: number, file: string, vendorClass: 'PXEClient' }
  /** UEFI HTTP boot: URL in `file`; the reply MUST carry option 60 `HTTPClient` (UEFI spec 2.x, HTTP Boot). */
  | { kind: 'http', arch: number, url: string, vendorClass: 'HTTPClient' }
  /** Not a netboot client we serve (no architecture, or one missing from the table). */
  | { kind: 'unsupported', arch: number | null }

const IPXE = 'iPXE'

/**
 * Whether the client is already running iPXE: user class (77) contains
 * "iPXE" (as iPXE's plain string or inside an RFC 3004 list), or iPXE's
 * encapsulated option 175 is present.
 */
export function isIpxe (packet: DhcpPacket): boolean {
  if (packet.options.has(Option.IpxeEncapsulated)) return true
  return userClass(packet)?.classes.includes(IPXE) ?? false
}

/**
 * The client's architecture: the first entry of option 93, else the number in
 * a vendor class like `PXEClient:Arch:00007:UNDI:003016` (some ROMs only send
 * that), else null.
 */
export function clientArch (packet: DhcpPacket): number | null {
  const list = clientSystemArchitecture(packet)
  if (list !== undefined && list[0] !== undefined) return list[0]
  const vc = vendorClassIdentifier(packet)
  const m = vc === undefined ? null : /^(?:PXEClient|HTTPClient):Arch:(\d{5})(?::|$)/.exec(vc)
  if (m?.[1] !== undefined) {
    const n = Number(m[1])
    if (n <= 0xffff) return n
  }
  return null
}

function fill (template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (all, key: string) => values[key] ?? all)
}

/** Pure: which boot file or URL this request should get. */
export function selectBootFile (request: DhcpPacket, params: BootFileParams): BootSelection {
  const arch = clientArch(request)
  if (isIpxe(request)) {
    return {
      kind: 'ipxe-script',
      url: fill(params.ipxeScriptUrl, { mac: clientHardwareAddress(request), arch: arch === null ? '' : String(arch) })
    }
  }
  if (arch === null) return { kind: 'unsupported', arch: null }
  const entry = BOOT_TABLE.find(e => e.arch === arch)
  if (entry === undefined) return { kind: 'unsupported', arch }
  const file = entry.file === 'efiIa32' ? params.efiIa32 ?? params.efiX64 : params[entry.file]
  if (entry.transport === 'http') {
    return { kind: 'http', arch, url: fill(params.httpUrl, { file }), vendorClass: 'HTTPClient' }
  }
  return { kind: 'tftp', arch, file, vendorClass: 'PXEClient' }
}

/**
 * Modifier applying a selection to a reply: the `file` field (which PXE ROMs
 * read), option 67 for clients that prefer it, option 60, and `siaddr` (the
 * TFTP "next server") when given.
 */
export function withBootSelection (selection: BootSelection, options: { nextServer?: string } = {}): PacketModifier {
  return p => {
    switch (selection.kind) {
      case 'ipxe-script':
        p.file = selection.url
        bootfileName.set(p, selection.url)
        break
      case 'tftp':
        p.file = selection.file
        vendorClassIdentifier.set(p, selection.vendorClass)
        if (options.nextServer !== undefined) p.siaddr = options.nextServer
        break
      case 'http':
        p.file = selection.url
        bootfileName.set(p, selection.url)
        vendorClassIdentifier.set(p, selection.vendorClass)
        break
      case 'unsupported':
        break
    }
  }
}
