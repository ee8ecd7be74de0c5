import { native } from './addon.js'
import { NetbindErrorCode, netbindError } from './errors.js'

// if_nametoindex() (native) rather than /sys/class/net/<if>/ifindex: sysfs shows the network
// namespace it was mounted in, which is not always the caller's (nsenter --net, containers
// with the host's /sys); the ioctl always answers for the caller's namespace.

/**
 * The kernel's index of interface `name` in this process's network namespace, or `null` if
 * there is no such interface. An interface deleted and recreated under the same name gets a
 * new index: compare with `boundInterface(socket).index` to detect a socket gone deaf.
 */
export function interfaceIndex (name: string): number | null {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 15 || name.includes('\0')) {
    throw netbindError(NetbindErrorCode.InvalidArgument,
      `interface name ${JSON.stringify(name)} is not a Linux interface name (1 to 15 bytes)`)
  }
  return native().interfaceIndex(name)
}

/** Whether interface `name` exists in this process's network namespace. */
export function interfaceExists (name: string): boolean {
  return interfaceIndex(name) !== null
}
