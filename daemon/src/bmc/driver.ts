// Baseboard management controllers behind one small interface: read the power state, act on
// power, set the next boot device. Drivers (IPMI through ipmitool, Redfish over HTTPS) only
// translate; one operation at a time per BMC, timeouts and retries live in queue.ts.

export type PowerState = 'on' | 'off'
export const POWER_ACTIONS = ['on', 'off', 'cycle', 'reset', 'soft'] as const
/** `soft`: an ACPI shutdown request the OS acts on; `cycle`: off, then on; `reset`: a warm reset. */
export type PowerAction = typeof POWER_ACTIONS[number]
export type BootDevice = 'pxe' | 'disk'
export interface BootOptions {
  /** Only for the next boot (true), or until changed (false). */
  once: boolean
  /** The firmware mode the override is for. */
  mode: 'bios' | 'uefi'
}

export interface BmcDriver {
  readonly driver: 'ipmi' | 'redfish'
  status (): Promise<PowerState>
  power (action: PowerAction): Promise<void>
  bootDevice (device: BootDevice, options: BootOptions): Promise<void>
  /** Ends the driver's session with the BMC, if it keeps one (Redfish logs out). */
  close?: () => Promise<void>
}

/**
 * What went wrong, classified so the operator knows what to fix: `auth` (user or password),
 * `unreachable` (no answer within the timeout: address, VPN, cabling), `unsupported` (the BMC
 * refuses the cipher suite, reset type or setting), `busy` (try later), `failed` (anything else).
 * `detail` is the tool's own message.
 */
export type BmcErrorKind = 'auth' | 'unreachable' | 'unsupported' | 'busy' | 'failed'

export class BmcError extends Error {
  constructor (readonly kind: BmcErrorKind, message: string, readonly detail = '') {
    super(message)
    this.name = 'BmcError'
  }

  /** Worth another try: the network or the BMC may come back; a wrong password will not. */
  get retriable (): boolean { return this.kind === 'unreachable' || this.kind === 'busy' }
}
