// A machine's boot attempts, reconstructed from its events: DHCP → TFTP → script → kernel and
// initrd → phone-home (on a proxyDHCP LAN also the address the client asked the other server
// for, dhcp.proxy-seen), or for a disk image DHCP → … → script → installer → install steps, then
// the disk's boot → seed → phone-home. Pure: events in, attempts out.
import type { RbEvent } from '../store/events.js'

export const BOOT_EVENT_TYPES = ['dhcp.offer', 'dhcp.ack', 'dhcp.proxy-seen', 'tftp.transfer', 'boot.script', 'boot.file', 'boot.metadata', 'boot.install', 'boot.phone-home', 'machine.state'] as const

export interface Attempt {
  startedAt: string
  endedAt: string
  outcome: 'provisioned' | 'installed' | 'install-failed' | 'disk' | 'waiting' | 'in-progress'
  steps: RbEvent[]
}

const GAP_MS = 10 * 60_000

/** Events oldest first; attempts newest first. */
export function timeline (events: RbEvent[], limit = 5): Attempt[] {
  const attempts: RbEvent[][] = []
  let current: RbEvent[] = []
  const closes = (list: RbEvent[]) => list.some(e => e.type === 'boot.phone-home' || e.type === 'boot.script')
  for (const e of events) {
    const last = current.at(-1)
    const isDhcp = e.type === 'dhcp.offer' || e.type === 'dhcp.ack'
    // A DHCP exchange after the current attempt got its script (or phoned home) is the next
    // boot; so is anything after a long silence. The PXE → iPXE second DHCP comes before the script.
    const startsNew = current.length > 0 && ((isDhcp && closes(current)) || (last !== undefined && Date.parse(e.ts) - Date.parse(last.ts) > GAP_MS))
    if (startsNew) { attempts.push(current); current = [] }
    if (current.length === 0 && !isDhcp && e.type !== 'boot.script' && e.type !== 'tftp.transfer') continue // state changes outside a boot
    current.push(e)
  }
  if (current.length > 0) attempts.push(current)
  return attempts.slice(-limit).reverse().map(steps => {
    const scripts = steps.filter(e => e.type === 'boot.script')
    const installed = steps.filter(e => e.type === 'boot.install' && (e.detail.step === 'installed' || e.detail.step === 'failed')).at(-1)
    const outcome = steps.some(e => e.type === 'boot.phone-home')
      ? 'provisioned'
      : installed !== undefined ? (installed.detail.step === 'installed' ? 'installed' : 'install-failed')
        : scripts.some(e => e.detail.kind === 'disk') ? 'disk'
        : scripts.length > 0 && scripts.every(e => e.detail.kind !== 'netboot') ? 'waiting' : 'in-progress'
    return { startedAt: steps[0]?.ts ?? '', endedAt: steps.at(-1)?.ts ?? '', outcome, steps }
  })
}
