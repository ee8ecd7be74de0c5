// The machine lifecycle's transitions as the daemon carries them out: each one changes the
// machine, mints or consumes what belongs to it, and records its event, in the caller's
// transaction. The boot server and the API both call these; the rules of which state may
// follow which are store/lifecycle.ts's, the boot decisions boot/decide.ts's.
import type { Store, Machine } from './store/index.js'
import { RackbootError } from './errors.js'
import type { TokenKind } from './store/boot-tokens.js'

/** A netboot script is being served: a one-time token for this boot attempt; ready → provisioning. */
export function netbootBegins (store: Store, machine: Machine, image: string, opts: { begins: boolean; ttlMs: number; actor: string; kind?: TokenKind }): string {
  const token = store.bootTokens.mint(machine.id, image, store.now(), opts.ttlMs, opts.kind ?? 'netboot')
  if (opts.begins) store.machines.update(machine.id, { state: 'provisioning' }, opts.actor)
  return token
}

/**
 * The image's first-boot agent (or the installed OS's cloud-init) phoned home with `token`
 * (already checked live): the token is used up, the machine is provisioned and boots from its
 * disk from now on ("netboot once, then disk"). Null when another request used the token first
 * or the machine is gone.
 */
export function phonedHome (store: Store, token: string, opts: { machineId: number; image: string; client: string; report: unknown; actor: string }): Machine | null {
  if (!store.bootTokens.consume(token, store.now())) return null
  const machine = store.machines.get(opts.machineId)
  if (machine === null) return null
  store.events.append({ actor: opts.actor, type: 'boot.phone-home', machineId: machine.id, lan: machine.lan, mac: null, detail: { image: opts.image, client: opts.client, report: opts.report ?? null } })
  const provisions = machine.state === 'provisioning' || machine.state === 'installed'
  return store.machines.update(machine.id, { ...(provisions ? { state: 'provisioned' as const } : {}), netboot: false }, opts.actor)
}

/** The steps an installer reports (images/debian-node/installer/rackboot-install). */
export const INSTALL_STEPS = ['started', 'disk', 'waiting', 'progress', 'resumed', 'written', 'verified', 'installed', 'failed'] as const
export type InstallStep = typeof INSTALL_STEPS[number]
/** Why an install failed, as the installer says it. */
export const INSTALL_FAILURES = ['no-disk', 'disk-too-small', 'download-failed', 'checksum-mismatch', 'write-error', 'verify-failed', 'config-failed'] as const

export interface InstallReport { step: InstallStep; reason?: string; message?: string; [field: string]: unknown }

/**
 * An installer reported a step with `token` (already checked live): each is an event on the
 * machine's timeline; `installed` (written, verified, its files in place) moves the machine
 * provisioning → installed, `failed` to failed with the reason; both use the token up, so a
 * replayed report changes nothing. Null when another request used the token first or the
 * machine is gone.
 */
export function installReported (store: Store, token: string, opts: { machineId: number; image: string; client: string; report: InstallReport; actor: string }): Machine | null {
  const { report } = opts
  const machine = store.machines.get(opts.machineId)
  if (machine === null) return null
  const ends = report.step === 'installed' || report.step === 'failed'
  if (ends && !store.bootTokens.consume(token, store.now())) return null
  store.events.append({ actor: opts.actor, type: 'boot.install', machineId: machine.id, lan: machine.lan, mac: null, detail: { ...report, image: opts.image, client: opts.client } })
  if (report.step === 'installed') return store.machines.update(machine.id, { state: 'installed' }, opts.actor)
  if (report.step === 'failed') {
    const why = [report.reason, report.message].filter(s => s !== undefined && s !== '').join(': ')
    return store.machines.update(machine.id, { state: 'failed', stateReason: `install failed: ${why === '' ? 'no reason given' : why}` }, opts.actor)
  }
  return machine
}

/**
 * The installer fetched the machine's files: a fresh `seed` token for the installed OS's
 * cloud-init (its seed and phone-home), recorded as an install step.
 */
export function seedMinted (store: Store, machine: Machine, image: string, opts: { ttlMs: number; actor: string; client: string; network: string; networkWhy: string }): string {
  const token = store.bootTokens.mint(machine.id, image, store.now(), opts.ttlMs, 'seed')
  store.events.append({ actor: opts.actor, type: 'boot.install', machineId: machine.id, lan: machine.lan, mac: null, detail: { step: 'files', image, client: opts.client, network: opts.network, why: opts.networkWhy } })
  return token
}

/**
 * `reprovision`: netboot once more (state ready, netboot on); `deprovision`: stop provisioning,
 * boot the disk (state ready, netboot off). A discovered machine has nothing to provision yet.
 */
export function provisionAgain (store: Store, machine: Machine, action: 'reprovision' | 'deprovision', actor: string): Machine {
  if (machine.state === 'discovered') throw new RackbootError('RB_STATE_TRANSITION', `machine ${machine.id} is discovered: assign an image and set state ready to provision it`, 'state')
  const updated = store.machines.update(machine.id, { state: 'ready', netboot: action === 'reprovision' }, actor)
  // A node provisioned again runs kubeadm again: its status in its cluster starts over.
  if (updated.cluster !== null) store.clusters.setNodeStatus(machine.id, 'pending', null)
  store.events.append({ actor, type: `machine.${action}`, machineId: machine.id, lan: machine.lan, mac: machine.macs[0] ?? null, detail: { from: machine.state } })
  return updated
}

/**
 * A cluster node's seed carried its kubeadm material: recorded (role, credential, the token's
 * id, and the path and SHA-256 of every file issued, never their contents) on the machine's
 * timeline; an init node's cluster becomes `initialising`.
 */
export function clusterMaterialServed (store: Store, machine: Machine, c: { id: number; name: string; state: string }, m: { role: string; credential: string | null; tokenId: string | null; files: ReadonlyArray<{ path: string; sha256: string }> }, actor: string): void {
  store.events.append({ actor, type: 'cluster.material', machineId: machine.id, lan: machine.lan, mac: null, detail: { cluster: c.name, role: m.role, credential: m.credential, tokenId: m.tokenId, files: m.files } })
  if (m.role === 'init' && (c.state === 'pending' || c.state === 'failed')) store.clusters.setState(c.id, 'initialising', null, actor)
}

export const KUBEADM_OUTCOMES = ['running', 'succeeded', 'failed'] as const
export interface KubeadmReport { outcome: typeof KUBEADM_OUTCOMES[number]; step: string; output?: string; files?: Array<{ path: string; sha256: string | null }> }

/**
 * The node's runner reported on kubeadm: running, succeeded (the node `joined`; the init node's
 * cluster `ready`) or failed (the node `failed` with the step and output; the init node's
 * cluster `failed` too). Every report is a timeline step.
 */
export function kubeadmReported (store: Store, machine: Machine, role: string, report: KubeadmReport, actor: string): void {
  const c = machine.cluster === null ? null : store.clusters.get(machine.cluster)
  if (c === null) return
  store.events.append({ actor, type: 'cluster.kubeadm', machineId: machine.id, lan: machine.lan, mac: null, detail: { cluster: c.name, role, outcome: report.outcome, step: report.step, ...(report.output === undefined ? {} : { output: report.output }), ...(report.files === undefined ? {} : { files: report.files }) } })
  const reason = report.outcome === 'failed' ? [report.step, report.output].filter(s => s !== undefined && s !== '').join(': ').slice(0, 2000) : null
  store.clusters.setNodeStatus(machine.id, report.outcome === 'running' ? 'running' : report.outcome === 'succeeded' ? 'joined' : 'failed', reason)
  if (role !== 'init') return
  if (report.outcome === 'succeeded') store.clusters.setState(c.id, 'ready', null, actor)
  if (report.outcome === 'failed') store.clusters.setState(c.id, 'failed', `kubeadm init on ${machine.hostname} failed: ${report.step}`, actor)
}
