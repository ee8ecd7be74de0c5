import { closeSync } from 'node:fs'
import dgram from 'node:dgram'
import { isIPv4 } from 'node:net'
import { native } from './addon.js'
import { NetbindErrorCode, netbindError } from './errors.js'

export interface BoundSocketOptions {
  /** Network interface name, e.g. `enp3s0` (at most 15 bytes). */
  interface: string
  /** UDP port, e.g. 67 for a DHCP server. */
  port: number
  /** Local IPv4 address to bind; `0.0.0.0` (the default) is needed to receive limited broadcasts. */
  address?: string
}

/** An open device-bound socket's file descriptor and the index of the link it is bound to. */
export interface OpenedSocket {
  fd: number
  ifindex: number
}

/** The interface a socket from `createBoundSocket()` is bound to. */
export interface BoundInterface {
  name: string
  /** The interface index at open time; if `interfaceIndex(name)` differs, the socket is deaf. */
  index: number
}

const bound = new WeakMap<dgram.Socket, BoundInterface>()

function validate (ifname: string, port: number, address: string): void {
  if (typeof ifname !== 'string' || ifname.length === 0 || Buffer.byteLength(ifname) > 15 ||
      ifname.includes('\0')) {
    throw netbindError(NetbindErrorCode.InvalidArgument,
      `interface name ${JSON.stringify(ifname)} is not a Linux interface name (1 to 15 bytes)`)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw netbindError(NetbindErrorCode.InvalidArgument, `port ${String(port)} is not an integer from 0 to 65535`)
  }
  if (typeof address !== 'string') {
    throw netbindError(NetbindErrorCode.InvalidArgument, 'address must be an IPv4 address string')
  }
  if (!isIPv4(address)) {
    throw netbindError(NetbindErrorCode.InvalidArgument, `address ${JSON.stringify(address)} is not an IPv4 address`)
  }
}

/**
 * Creates an AF_INET UDP socket (non-blocking, close-on-exec) with SO_REUSEADDR, SO_BROADCAST
 * and SO_BINDTODEVICE=`ifname`, bound to `address:port`, and returns its fd. The caller owns
 * the fd. Throws a `NetbindError` (see `NetbindErrorCode`); no fd is leaked on error.
 */
export function openBoundUdpSocket (ifname: string, port: number, address = '0.0.0.0'): OpenedSocket {
  validate(ifname, port, address)
  return native().openBoundUdpSocket(ifname, port, address)
}

/**
 * Opens a socket bound to one interface and hands it to Node's `dgram` with the documented
 * `socket.bind({ fd })`. Resolves once the socket is listening. The socket receives only
 * datagrams that arrived on `interface` (limited broadcasts included, when bound to 0.0.0.0),
 * and datagrams it sends, 255.255.255.255 included, leave through `interface` with that
 * interface's address as source.
 */
export async function createBoundSocket (options: BoundSocketOptions): Promise<dgram.Socket> {
  const { fd, ifindex } = openBoundUdpSocket(options.interface, options.port, options.address ?? '0.0.0.0')
  let socket: dgram.Socket
  try {
    socket = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return await new Promise<dgram.Socket>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close()
      reject(err)
    }
    socket.once('error', onError)
    try {
      // `exclusive: true`: in a cluster worker, adopt the fd here instead of asking the primary.
      // 'listening' is emitted synchronously by bind({ fd }) on success.
      socket.bind({ fd, exclusive: true }, () => {
        socket.removeListener('error', onError)
        bound.set(socket, { name: options.interface, index: ifindex })
        resolve(socket)
      })
    } catch (err) {
      // The handle did not take the fd (e.g. ERR_INVALID_FD_TYPE), so it is still ours to close.
      socket.removeListener('error', onError)
      closeSync(fd)
      socket.close()
      reject(err)
    }
  })
}

/** The interface a socket made by `createBoundSocket()` is bound to, else `undefined`. */
export function boundInterface (socket: dgram.Socket): BoundInterface | undefined {
  return bound.get(socket)
}
