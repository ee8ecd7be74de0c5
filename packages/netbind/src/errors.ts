/** Stable error codes of @rackboot/netbind; branch on `err.code`, never on the message. */
export const NetbindErrorCode = {
  /** The interface does not exist (ENODEV/ENXIO); `err.interface` names it. */
  NoInterface: 'RB_NETBIND_NO_INTERFACE',
  /** EPERM/EACCES: the message names the capability (CAP_NET_BIND_SERVICE or CAP_NET_RAW). */
  Permission: 'RB_NETBIND_PERMISSION',
  /** EADDRINUSE: another socket without SO_REUSEADDR holds the port (another DHCP server?). */
  InUse: 'RB_NETBIND_IN_USE',
  /** Any other system error; the message carries the errno name and the failing call. */
  Failed: 'RB_NETBIND_FAILED',
  /** A bad interface name, port or address, caught before any system call. */
  InvalidArgument: 'RB_NETBIND_INVALID_ARGUMENT',
  /** The native addon is not built (non-Linux, or the install script did not run). */
  Unavailable: 'RB_NETBIND_UNAVAILABLE'
} as const
export type NetbindErrorCode = typeof NetbindErrorCode[keyof typeof NetbindErrorCode]

/** The shape of errors thrown by this package (plain `Error`s, as the addon creates them). */
export interface NetbindError extends Error {
  code: NetbindErrorCode
  /** errno of the failed system call, when there was one. */
  errno?: number
  /** The failed call, e.g. `bind` or `setsockopt(SO_BINDTODEVICE)`. */
  syscall?: string
  /** The interface the call was about. */
  interface?: string
}

const codes = new Set<string>(Object.values(NetbindErrorCode))

export function isNetbindError (err: unknown): err is NetbindError {
  if (!(err instanceof Error)) return false
  const code: unknown = (err as Error & { code?: unknown }).code
  return typeof code === 'string' && codes.has(code)
}

export function netbindError (code: NetbindErrorCode, message: string, props: Partial<NetbindError> = {}): NetbindError {
  return Object.assign(new Error(message), props, { code })
}
