// Boot decisions as pure functions: the boot server supplies what the store says, acts on the answer.
import type { TokenCheck, TokenKind } from '../store/boot-tokens.js'
import type { Machine } from '../store/machines.js'
import type { MachineState } from '../store/lifecycle.js'
import { isX64Efi } from '../arch.js'
import type { Image } from './images.js'

type ValidToken = Extract<TokenCheck, { ok: true }>

/** What a boot-server request does with a token. */
export type TokenUse = 'metadata' | 'phone-home' | 'install' | 'kubeadm'

/** Which uses each kind of token opens, and the machine state its attempt is live in. */
const TOKEN_RULES: Readonly<Record<TokenKind, { opens: readonly TokenUse[]; liveIn: MachineState }>> = {
  netboot: { opens: ['metadata', 'phone-home'], liveIn: 'provisioning' },
  install: { opens: ['install'], liveIn: 'provisioning' },
  seed: { opens: ['metadata', 'phone-home', 'kubeadm'], liveIn: 'installed' }
}

/**
 * Per-machine data (cloud-init seed, phone-home, the installer's routes) belongs to one boot
 * attempt: the one its token was minted for, and only while the machine is in the state that
 * attempt is for — `provisioning` for a netboot or an installer, `installed` for the installed
 * OS's seed. A token stops opening anything once a newer script started another attempt, or
 * once the machine left that state (reprovisioned, deprovisioned, failed, or moved on). A token
 * of one kind opens nothing of another's (an installer's token is no seed token).
 * Returns why the token is refused, or null when it opens `use`.
 */
export function tokenRefusal (check: ValidToken, use: TokenUse): { code: 'RB_BOOT_TOKEN_INVALID' | 'RB_BOOT_TOKEN_STALE'; message: string } | null {
  const rule = TOKEN_RULES[check.kind]
  if (!rule.opens.includes(use)) return { code: 'RB_BOOT_TOKEN_INVALID', message: `the boot token is not valid for this request (it is ${check.kind === 'install' ? 'an installer\'s' : `a ${check.kind}`} token)` }
  const over = check.superseded
    ? 'a newer boot of this machine has begun'
    : check.machineState !== rule.liveIn ? `the machine is ${check.machineState}, not ${rule.liveIn}` : null
  return over === null ? null : { code: 'RB_BOOT_TOKEN_STALE', message: `the boot token belongs to a boot attempt that is over: ${over}` }
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

type MachineFacts = Pick<Machine, 'hostname' | 'state' | 'netboot' | 'image'> & Partial<Pick<Machine, 'stateReason'>>

/**
 * "Netboot once, then disk": a machine netboots only while it is ready or provisioning with
 * netboot on and a servable image (a disk image netboots its installer); installed,
 * provisioned (or netboot off) boots its disk; anything else waits at the iPXE prompt, saying
 * what the operator can do (a failed machine says why it failed).
 */
export function scriptFor (machine: MachineFacts | null, images: ReadonlyMap<string, Image>): ScriptDecision {
  if (machine === null) return { kind: 'unknown' }
  if (!machine.netboot) return { kind: 'disk', why: 'has netboot off' }
  if (machine.state === 'provisioned') return { kind: 'disk', why: 'is provisioned' }
  if (machine.state === 'installed') return { kind: 'disk', why: 'is installed: its OS finishes provisioning from the disk' }
  if (machine.image === null) return { kind: 'wait', why: `${machine.hostname} has no image assigned`, event: null }
  if (machine.state === 'discovered') return { kind: 'wait', why: `${machine.hostname} is discovered: mark it ready to provision`, event: null }
  if (machine.state !== 'ready' && machine.state !== 'provisioning') {
    const reason = machine.stateReason == null ? '' : ` (${machine.stateReason})`
    return { kind: 'wait', why: `${machine.hostname} is ${machine.state}${reason}: reprovision it to netboot again`, event: null }
  }
  const image = images.get(machine.image)
  if (image === undefined || !image.ok) {
    return {
      kind: 'wait',
      why: `image ${machine.image} is ${image === undefined ? 'not installed' : 'broken (see rackboot images check)'}`,
      event: { image: machine.image, problems: image?.problems ?? ['no such image'] }
    }
  }
  return { kind: 'netboot', image, begins: machine.state === 'ready' }
}

/**
 * How a machine told to boot its disk leaves iPXE: an x86-64 UEFI machine whose image is a disk
 * image with a `localboot` program chains it (iPXE's `exit` leaves some UEFI firmware in its boot
 * manager instead of at the disk); everything else exits with a failure status, and the firmware
 * tries its next boot device.
 */
export function localBootFor (machine: Pick<Machine, 'image' | 'arch'>, images: ReadonlyMap<string, Image>): { image: string; file: string } | null {
  if (!isX64Efi(machine.arch) || machine.image === null) return null
  const image = images.get(machine.image)
  if (image === undefined || !image.ok || image.kind !== 'disk' || image.localboot === null) return null
  return { image: image.name, file: image.localboot.name }
}
