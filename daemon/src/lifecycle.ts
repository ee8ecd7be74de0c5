// The machine lifecycle's transitions as the daemon carries them out: each one changes the
// machine, mints or consumes what belongs to it, and records its event, in the caller's
// transaction. The boot server and the API both call these; the rules of which state may
// follow which are store/lifecycle.ts's, the boot decisions boot/decide.ts's.
import type { Store, Machine } from './store/index.js'
import { RackbootError } from './errors.js'

/** A netboot script is being served: a one-time token for this boot attempt; ready → provisioning. */
export function netbootBegins (store: Store, machine: Machine, image: string, opts: { begins: boolean; ttlMs: number; actor: string }): string {
  const token = store.bootTokens.mint(machine.id, image, store.now(), opts.ttlMs)
  if (opts.begins) store.machines.update(machine.id, { state: 'provisioning' }, opts.actor)
  return token
}

/**
 * The image's first-boot agent phoned home with `token` (already checked live): the token is
 * used up, the machine is provisioned and boots from its disk from now on ("netboot once,
 * then disk"). Null when another request used the token first or the machine is gone.
 */
export function phonedHome (store: Store, token: string, opts: { machineId: number; image: string; client: string; report: unknown; actor: string }): Machine | null {
  if (!store.bootTokens.consume(token, store.now())) return null
  const machine = store.machines.get(opts.machineId)
  if (machine === null) return null
  store.events.append({ actor: opts.actor, type: 'boot.phone-home', machineId: machine.id, lan: machine.lan, mac: null, detail: { image: opts.image, client: opts.client, report: opts.report ?? null } })
  return store.machines.update(machine.id, { ...(machine.state === 'provisioning' ? { state: 'provisioned' as const } : {}), netboot: false }, opts.actor)
}

/**
 * `reprovision`: netboot once more (state ready, netboot on); `deprovision`: stop provisioning,
 * boot the disk (state ready, netboot off). A discovered machine has nothing to provision yet.
 */
export function provisionAgain (store: Store, machine: Machine, action: 'reprovision' | 'deprovision', actor: string): Machine {
  if (machine.state === 'discovered') throw new RackbootError('RB_STATE_TRANSITION', `machine ${machine.id} is discovered: assign an image and set state ready to provision it`, 'state')
  const updated = store.machines.update(machine.id, { state: 'ready', netboot: action === 'reprovision' }, actor)
  store.events.append({ actor, type: `machine.${action}`, machineId: machine.id, lan: machine.lan, mac: machine.macs[0] ?? null, detail: { from: machine.state } })
  return updated
}
