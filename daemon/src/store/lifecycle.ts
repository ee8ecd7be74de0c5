// The machine lifecycle as data: which state may follow which.
export const MACHINE_STATES = ['discovered', 'ready', 'provisioning', 'installed', 'provisioned', 'failed'] as const
export type MachineState = typeof MACHINE_STATES[number]

/**
 * discovered → ready → provisioning → provisioned, any state → failed, and back to
 * ready to provision again (reprovision) or to retry after a failure. A disk image passes
 * through `installed` (its installer wrote and verified the disk) before the installed OS
 * phones home: provisioning → installed → provisioned.
 */
export const TRANSITIONS: Readonly<Record<MachineState, readonly MachineState[]>> = {
  discovered: ['ready', 'failed'],
  ready: ['provisioning', 'discovered', 'failed'],
  provisioning: ['provisioned', 'installed', 'ready', 'failed'],
  installed: ['provisioned', 'ready', 'failed'],
  provisioned: ['ready', 'failed'],
  failed: ['ready', 'discovered']
}

export function canTransition (from: MachineState, to: MachineState): boolean {
  return from === to || TRANSITIONS[from].includes(to)
}
