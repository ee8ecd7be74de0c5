// The DHCP service's durable ledger: lease rows, discovered machines and what was seen of
// known machines, written through the store inside the service's batch transaction (before
// any ACK leaves).
import { formatIPv4, tryParseIPv4 } from '@rackboot/wire'
import type { Store } from '../store/index.js'
import type { LeaseRec } from './address-book.js'
import type { LeaseWrite, MachineView, Observation } from './decide.js'
import { recordOf, type Ledger } from './apply.js'

export class DhcpLedger implements Ledger {
  constructor (private readonly store: Store) {}

  /** Called when an unknown MAC became a `discovered` machine (the service logs it). */
  onDiscovered: ((lan: string, mac: string, hostname: string) => void) | null = null

  /** Every lease of a LAN, for the address book at start. */
  load (lan: string): LeaseRec[] {
    return this.store.leases.forLan(lan).flatMap(r => {
      const ip = tryParseIPv4(r.ip)
      return ip === null ? [] : [{ ip, mac: r.mac, key: r.key, state: r.state, expiresAt: r.expiresAt, machineId: r.machineId }]
    })
  }

  machineByMac (mac: string): MachineView | null {
    return this.store.machines.dhcpView(mac)
  }

  isReserved (lan: string, ip: number): boolean {
    return this.store.machines.isReserved(lan, formatIPv4(ip)) || this.store.machines.isBmcAddress(formatIPv4(ip))
  }

  /** The machine whose BMC has this MAC, and the BMC's address when it is one of `lan`'s (a reservation). */
  bmcByMac (mac: string, inLan: (ip: number) => boolean): { machineId: number; hostname: string; ipv4: string | null } | null {
    const b = this.store.machines.bmcView(mac)
    if (b === null) return null
    const ip = b.address === null ? null : tryParseIPv4(b.address)
    return { machineId: b.id, hostname: b.hostname, ipv4: ip !== null && inLan(ip) ? formatIPv4(ip) : null }
  }

  discoveredCount (lan: string): number {
    return this.store.machines.discoveredCount(lan)
  }

  record (lan: string, w: LeaseWrite, now: number): LeaseRec | null {
    switch (w.op) {
      case 'offer': return null
      case 'bind': {
        const machineId = w.discover ? this.discover(lan, w.mac, now) : w.machineId
        this.store.leases.bind(lan, w, machineId, now)
        return recordOf(w, machineId, now)
      }
      case 'decline':
        this.store.leases.decline(lan, w, w.machineId, now)
        return recordOf(w, w.machineId, now)
      case 'release':
        this.store.leases.release(lan, w.ip, w.key, now)
        return recordOf(w, w.machineId, now)
    }
  }

  observe (o: Observation, now: number): void {
    if (o.bmcAddress !== undefined) { this.store.machines.bmcLeased(o.machineId, o.bmcAddress); return }
    this.store.machines.seen(o.machineId, o, now)
  }

  expire (lan: string, rec: LeaseRec, now: number): boolean {
    return this.store.leases.expire(lan, formatIPv4(rec.ip), now)
  }

  /** An unknown MAC bound on a `discover` LAN becomes a `discovered` machine (netboot on, no image). */
  private discover (lan: string, mac: string, now: number): number {
    const existing = this.machineByMac(mac)
    if (existing !== null) return existing.id
    const hostname = `discovered-${mac.replace(/:/g, '')}`
    const m = this.store.machines.create({ hostname, macs: [mac], lan, state: 'discovered', netboot: true }, 'dhcp')
    this.store.events.append({ actor: 'dhcp', type: 'machine.discovered', machineId: m.id, lan, mac, detail: { hostname } })
    this.store.machines.seen(m.id, { arch: null, uuid: null }, now)
    this.onDiscovered?.(lan, mac, hostname)
    return m.id
  }
}
