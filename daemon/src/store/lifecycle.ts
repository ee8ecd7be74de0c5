// The machine lifecycle as data: which state may follow which.
export const MACHINE_STATES = ['discovered', 'ready', 'provisioning', 'provisioned', 'failed'] as const
export type MachineState = typeof MACHINE_STATES[number]

/**
 * discovered → ready → provisioning → provisioned, any state → failed, and back to
 * ready to provision again (reprovision) or to retry after a failure.
 */
export const TRANSITIONS: Readonly<Record<MachineState, readonly MachineState[]>> = {
  discovered: ['ready', 'failed'],
  ready: ['provisioning', 'discovered', 'failed'],
  provisioning: ['provisioned', 'ready', 'failed'],
  provisioned: ['ready', 'failed'],
  failed: ['ready', 'discovered']
}

export function canTransition (from: MachineState, to: MachineState): boolean {
  return from === to || TRANSITIONS[from].includes(to)
}
