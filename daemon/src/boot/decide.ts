// Boot decisions as pure functions: the boot server supplies what the store says, acts on the answer.
import type { TokenCheck } from '../store/boot-tokens.js'

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
