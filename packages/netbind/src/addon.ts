import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { NetbindErrorCode, netbindError } from './errors.js'

/** What native/netbind.c exports. */
export interface NativeAddon {
  openBoundUdpSocket (ifname: string, port: number, address: string): { fd: number, ifindex: number }
  interfaceIndex (ifname: string): number | null
  openConnectedUdp (localAddress: string, localPort: number, remoteAddress: string, remotePort: number): number
  openUdp (localAddress: string, localPort: number): number
  localPort (fd: number): number
  sendTo (fd: number, data: Uint8Array, address: string, port: number): number
  sendGather (fd: number, head: Uint8Array, body: Uint8Array, layout: Int32Array, count: number): number
  UdpMux: new (onReady: (count: number) => void, rx: Uint8Array, meta: Int32Array) => NativeMux
  openIcmp6 (ifname: string): { fd: number, ifindex: number }
  openIcmp4 (ifname: string): { fd: number, ifindex: number }
  rawSend (fd: number, bytes: Buffer, address: string, ifindex: number): number
  RawSocket: new (fd: number, onPacket: (bytes: Buffer, source: string, hopLimit: number) => void) => { close (): void }
}

export interface NativeMux {
  add (fd: number, id: number, from: boolean): void
  remove (fd: number): void
  writable (fd: number): void
  spin (on: boolean): void
  arm (fd: number, body: Uint8Array, base: number, size: number, blksize: number, windowsize: number, acked: number, sent: number, lastBlock: number): void
  progress (fd: number): number[] | null
  takeFastSends (): number
  close (): void
}

// dist/addon.js → ../build/Release/netbind.node (node-gyp's output, built by the install script).
const addonPath = fileURLToPath(new URL('../build/Release/netbind.node', import.meta.url))
let addon: NativeAddon | undefined

/**
 * Loads the addon on first use, so importing the package never throws (a daemon serving
 * only relayed LANs needs no device-bound socket).
 */
export function native (): NativeAddon {
  if (addon !== undefined) return addon
  if (process.platform !== 'linux') {
    throw netbindError(NetbindErrorCode.Unavailable,
      `@rackboot/netbind needs Linux (SO_BINDTODEVICE); this is ${process.platform}`)
  }
  if (!existsSync(addonPath)) {
    throw netbindError(NetbindErrorCode.Unavailable,
      `@rackboot/netbind's native addon is not built (${addonPath} is missing): run ` +
      '`pnpm --filter @rackboot/netbind run build:native` (needs python3, make and a C compiler)')
  }
  addon = createRequire(import.meta.url)(addonPath) as NativeAddon
  return addon
}
