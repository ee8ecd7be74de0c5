// Boot decisions as pure functions: the boot server supplies what the store says, acts on the answer.
import type { TokenCheck } from '../store/boot-tokens.js'
import type { Machine } from '../store/machines.js'
import type { Image } from './images.js'

type ValidToken = Extract<TokenCheck, { ok: true }>

/**
 * Per-machine data (cloud-init seed, phone-home) belongs to one boot attempt: the one its token
 * was minted for, and only while the machine is still being provisioned by it. A token stops
 * opening anything once a newer script started another attempt, or once the machine left
 * `provisioning` (reprovisioned, deprovisioned, failed, or provisioned by another token).
 * Returns why the attempt is over, or null while it is live.
 */
export function attemptOver (check: ValidToken): string | null {
  if (check.superseded) return 'a newer boot of this machine has begun'
  if (check.machineState !== 'provisioning') return `the machine is ${check.machineState}, not provisioning`
  return null
}

/** What an iPXE script request gets, decided from the machine and its image alone. */
export type ScriptDecision =
  | { kind: 'unknown' }
  /** Exit iPXE: the firmware boots the local disk. */
  | { kind: 'disk'; why: string }
  /** Wait and ask again; `event` when the wait is worth a timeline entry (a broken image). */
  | { kind: 'wait'; why: string; event: { image: string; problems: string[] } | null }
  /** Netboot `image`; `begins` when this script moves the machine ready → provisioning. */
  | { kind: 'netboot'; image: Image; begins: boolean }

type MachineFacts = Pick<Machine, 'hostname' | 'state' | 'netboot' | 'image'>

/**
 * "Netboot once, then disk": a machine netboots only while it is ready or provisioning with
 * netboot on and a servable image; provisioned (or netboot off) boots its disk; anything
 * else waits at the iPXE prompt, saying what the operator can do.
 */
export function scriptFor (machine: MachineFacts | null, images: ReadonlyMap<string, Image>): ScriptDecision {
  if (machine === null) return { kind: 'unknown' }
  if (!machine.netboot) return { kind: 'disk', why: 'has netboot off' }
  if (machine.state === 'provisioned') return { kind: 'disk', why: 'is provisioned' }
  if (machine.image === null) return { kind: 'wait', why: `${machine.hostname} has no image assigned`, event: null }
  if (machine.state === 'discovered') return { kind: 'wait', why: `${machine.hostname} is discovered: mark it ready to provision`, event: null }
  if (machine.state !== 'ready' && machine.state !== 'provisioning') return { kind: 'wait', why: `${machine.hostname} is ${machine.state}: reprovision it to netboot again`, event: null }
  const image = images.get(machine.image)
  if (image === undefined || !image.ok) {
    return {
      kind: 'wait',
      why: `image ${machine.image} is ${image === undefined ? 'not installed' : 'broken (see rackboot images check)'}`,
      event: { image: machine.image, problems: image?.problems ?? ['no such image'] }
    }
  }
  // The installer flow (reports, per-machine files, the installed state) is not in this build yet:
  // booting the installer without it would fail and boot again, so the machine waits instead.
  if (image.kind === 'disk') return { kind: 'wait', why: `image ${image.name} is a disk image, which this rackboot cannot install yet`, event: null }
  return { kind: 'netboot', image, begins: machine.state === 'ready' }
}
