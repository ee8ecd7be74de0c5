/**
 * Raw ICMP and ICMPv6 sockets (native/raw.c), which Node cannot open: router solicitations and
 * advertisements (RFC 4861), and echo probes. Each needs CAP_NET_RAW. Linux only.
 *
 *   const s = openIcmp6Socket('br0', (bytes, source, hopLimit) => { … })   // RS (133) and RA (134) only
 *   s.send(ra, 'ff02::1')              // hop limit 255, out of br0; bytes sent or -errno
 *   const p = openIcmp4Socket('', (bytes, source) => { … })                // echo replies only; bytes start with the IPv4 header
 *   p.send(echo, '10.0.0.7')
 *   s.close(); p.close()
 */
import { closeSync } from 'node:fs'
import { native } from './addon.js'
import { NetbindErrorCode, netbindError } from './errors.js'

export type RawPacketHandler = (bytes: Buffer, source: string, hopLimit: number) => void

export interface RawIcmpSocket {
  /** The interface's index (0 for an ICMPv4 socket not bound to one). */
  readonly ifindex: number
  /** Sends one packet; bytes sent, or -errno (never throws for I/O errors, never blocks). */
  send (bytes: Uint8Array, address: string): number
  /** Stops watching and closes the socket (idempotent). */
  close (): void
}

function checkName (name: string, allowEmpty: boolean): void {
  if (typeof name !== 'string' || (!allowEmpty && name.length === 0) || Buffer.byteLength(name) > 15 || name.includes('\0')) {
    throw netbindError(NetbindErrorCode.InvalidArgument, `interface name ${JSON.stringify(name)} is not a Linux interface name (1 to 15 bytes)`)
  }
}

function wrap (fd: number, ifindex: number, onPacket: RawPacketHandler): RawIcmpSocket {
  const addon = native()
  let watcher: { close (): void } | null
  try {
    watcher = new addon.RawSocket(fd, onPacket)
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return {
    ifindex,
    send: (bytes, address) => watcher === null ? -9 /* EBADF */ : addon.rawSend(fd, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), address, ifindex),
    close: () => { watcher?.close(); watcher = null }
  }
}

/**
 * An ICMPv6 socket on `ifname` that receives router solicitations and advertisements (with
 * the hop limit they arrived with: RFC 4861 requires 255) and sends with hop limit 255. It
 * joins ff02::2 (all-routers) on the interface; its own multicasts do not come back to it.
 */
export function openIcmp6Socket (ifname: string, onPacket: RawPacketHandler): RawIcmpSocket {
  checkName(ifname, false)
  const { fd, ifindex } = native().openIcmp6(ifname)
  return wrap(fd, ifindex, onPacket)
}

/**
 * An ICMPv4 socket that receives only echo replies (bytes from the IPv4 header on; hopLimit
 * -1), bound to `ifname`, or routed like any packet when `ifname` is ''. The caller fills in
 * the ICMP checksum.
 */
export function openIcmp4Socket (ifname: string, onPacket: RawPacketHandler): RawIcmpSocket {
  checkName(ifname, true)
  const { fd, ifindex } = native().openIcmp4(ifname)
  return wrap(fd, ifindex, onPacket)
}

/** The Internet checksum (RFC 1071) of `bytes`, for ICMPv4 (the kernel computes ICMPv6's). */
export function internetChecksum (bytes: Uint8Array): number {
  let sum = 0
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number)
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return (~sum) & 0xffff
}
