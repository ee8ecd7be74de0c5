// Durable side of the DHCP service: lease rows, discovered machines and what was seen of
// known machines, written inside the service's batch transaction (before any ACK leaves).
import type { Store } from '../store/index.js'
import type { LeaseRec } from './address-book.js'
import type { LeaseWrite, Observation } from './decide.js'
import { formatIPv4, tryParseIPv4 } from '@rackboot/wire'
import type { LeaseState } from '../store/leases.js'

interface Row { lan: string; ipv4: string; mac: string; machine_id: number | null; state: LeaseState; expires_at: number }

export class DhcpLeaseStore {
  private readonly releaseOthers
  private readonly upsert
  private readonly release
  private readonly observeStmt
  private readonly expireStmt
  private readonly machineByMacStmt
  private readonly reservedInPool
  private readonly discoveredStmt

  constructor (private readonly store: Store) {
    const db = store.db
    this.releaseOthers = db.prepare("UPDATE leases SET state = 'released', updated_at = @now WHERE lan = @lan AND mac = @mac AND ipv4 != @ip AND state IN ('offered', 'bound')")
    this.upsert = db.prepare(`INSERT INTO leases (lan, ipv4, mac, machine_id, state, client_id, hostname, starts_at, expires_at, updated_at)
      VALUES (@lan, @ip, @mac, @machineId, @state, @clientId, @hostname, @now, @expiresAt, @now)
      ON CONFLICT (lan, ipv4) DO UPDATE SET
        starts_at = CASE WHEN leases.mac = excluded.mac AND leases.state = excluded.state THEN leases.starts_at ELSE excluded.starts_at END,
        mac = excluded.mac, machine_id = excluded.machine_id, state = excluded.state, client_id = excluded.client_id,
        hostname = excluded.hostname, expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
    this.release = db.prepare("UPDATE leases SET state = 'released', expires_at = @now, updated_at = @now WHERE lan = @lan AND ipv4 = @ip AND mac = @mac")
    this.observeStmt = db.prepare('UPDATE machines SET arch = COALESCE(@arch, arch), uuid = COALESCE(@uuid, uuid), first_seen = COALESCE(first_seen, @now), last_seen = @now WHERE id = @id')
    this.expireStmt = db.prepare("UPDATE leases SET state = 'expired', updated_at = @now WHERE lan = @lan AND ipv4 = @ip AND state = 'bound' AND expires_at <= @now")
    this.machineByMacStmt = db.prepare('SELECT m.id, m.lan, m.hostname, m.ipv4, m.state FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = ?')
    this.reservedInPool = db.prepare('SELECT 1 FROM machines WHERE lan = ? AND ipv4 = ?').pluck()
    this.discoveredStmt = db.prepare("SELECT count(*) FROM machines WHERE lan = ? AND state = 'discovered'").pluck()
  }

  /** Machines in state `discovered` on the LAN (index machines_lan_state). */
  discoveredCount (lan: string): number {
    return this.discoveredStmt.get(lan) as number
  }

  /** Every lease row of a LAN, for the address book at start. */
  load (lan: string): LeaseRec[] {
    const rows = this.store.db.prepare('SELECT lan, ipv4, mac, machine_id, state, expires_at FROM leases WHERE lan = ? ORDER BY updated_at').all(lan) as Row[]
    return rows.flatMap(r => {
      const ip = tryParseIPv4(r.ipv4)
      return ip === null ? [] : [{ ip, mac: r.mac, state: r.state, expiresAt: r.expires_at, machineId: r.machine_id }]
    })
  }

  machineByMac (mac: string): { id: number; lan: string; hostname: string; ipv4: string | null; state: string } | null {
    return (this.machineByMacStmt.get(mac) as { id: number; lan: string; hostname: string; ipv4: string | null; state: string } | undefined) ?? null
  }

  isReserved (lan: string, ip: number): boolean {
    return this.reservedInPool.get(lan, formatIPv4(ip)) !== undefined
  }

  /** Applies one lease write; returns the record to put in the address book (none for offers). */
  apply (lan: string, w: LeaseWrite, now: number): LeaseRec | null {
    const ip = tryParseIPv4(w.ip)
    if (ip === null) return null
    switch (w.op) {
      case 'offer': return null
      case 'bind': {
        let machineId = w.machineId
        if (w.discover) machineId = this.discover(lan, w.mac, now)
        this.releaseOthers.run({ lan, mac: w.mac, ip: w.ip, now })
        this.upsert.run({ lan, ip: w.ip, mac: w.mac, machineId, state: 'bound', clientId: w.clientId, hostname: w.hostname, now, expiresAt: w.expiresAt })
        return { ip, mac: w.mac, state: 'bound', expiresAt: w.expiresAt, machineId }
      }
      case 'decline':
        this.upsert.run({ lan, ip: w.ip, mac: w.mac, machineId: w.machineId, state: 'declined', clientId: w.clientId, hostname: w.hostname, now, expiresAt: w.expiresAt })
        return { ip, mac: w.mac, state: 'declined', expiresAt: w.expiresAt, machineId: w.machineId }
      case 'release':
        this.release.run({ lan, ip: w.ip, mac: w.mac, now })
        return { ip, mac: w.mac, state: 'released', expiresAt: now, machineId: w.machineId }
    }
  }

  observe (o: Observation, now: number): void {
    this.observeStmt.run({ id: o.machineId, arch: o.arch, uuid: o.uuid, now })
  }

  expire (lan: string, rec: LeaseRec, now: number): boolean {
    return this.expireStmt.run({ lan, ip: formatIPv4(rec.ip), now }).changes === 1
  }

  /** An unknown MAC bound on a `discover` LAN becomes a `discovered` machine (netboot on, no image). */
  private discover (lan: string, mac: string, now: number): number {
    const existing = this.machineByMac(mac)
    if (existing !== null) return existing.id
    const hostname = `discovered-${mac.replace(/:/g, '')}`
    const m = this.store.machines.create({ hostname, macs: [mac], lan, state: 'discovered', netboot: true }, 'dhcp')
    this.store.events.append({ actor: 'dhcp', type: 'machine.discovered', machineId: m.id, lan, mac, detail: { hostname } })
    this.observeStmt.run({ id: m.id, arch: null, uuid: null, now })
    this.onDiscovered?.(lan, mac, hostname)
    return m.id
  }

  /** Called when an unknown MAC became a `discovered` machine (the service logs it). */
  onDiscovered: ((lan: string, mac: string, hostname: string) => void) | null = null
}
