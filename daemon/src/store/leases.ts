// Leases as the DHCP service records them; the API reads them.
import type { Db } from './db.js'
import { limitClause, statementCache } from './db.js'
import { tryParseIPv4, type Ipv4Range } from '@rackboot/wire'

export type LeaseState = 'offered' | 'bound' | 'declined' | 'released' | 'expired'

export interface Lease {
  lan: string
  ipv4: string
  mac: string
  machineId: number | null
  state: LeaseState
  clientId: string | null
  hostname: string | null
  startsAt: string
  expiresAt: string
  updatedAt: string
}

export interface LeaseFilter { lan?: string; mac?: string; state?: LeaseState; after?: string; limit: number }

interface Row { lan: string; ipv4: string; mac: string; machine_id: number | null; state: LeaseState; client_id: string | null; hostname: string | null; starts_at: number; expires_at: number; updated_at: number }

const fromRow = (r: Row): Lease => ({
  lan: r.lan, ipv4: r.ipv4, mac: r.mac, machineId: r.machine_id, state: r.state, clientId: r.client_id, hostname: r.hostname,
  startsAt: new Date(r.starts_at).toISOString(), expiresAt: new Date(r.expires_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString()
})

/**
 * A lease as the DHCP service keeps it in memory: the columns it decides with. `key` is
 * whom the lease belongs to: the MAC, or `id:<hex>` of the client identifier on a LAN with
 * `leaseIdentity: client-id`.
 */
export interface LeaseRow { ip: string; mac: string; key: string; state: LeaseState; expiresAt: number; machineId: number | null }

/** What a bind or a decline writes (besides the LAN and the machine). */
export interface LeaseWriteRow { ip: string; mac: string; key: string; clientId: string | null; hostname: string | null; expiresAt: number }

export class LeaseStore {
  private readonly prepare
  private readonly boundAt
  private readonly releaseOthers
  private readonly upsert
  private readonly releaseStmt
  private readonly expireStmt
  private readonly forLanStmt

  constructor (db: Db) {
    this.prepare = statementCache(db)
    this.boundAt = db.prepare("SELECT lan, mac, machine_id FROM leases WHERE ipv4 = ? AND state = 'bound' ORDER BY updated_at DESC LIMIT 1")
    this.releaseOthers = db.prepare("UPDATE leases SET state = 'released', updated_at = @now WHERE lan = @lan AND coalesce(nullif(client_key, ''), mac) = @key AND ipv4 != @ip AND state IN ('offered', 'bound')")
    // An address keeps its start time while the same client holds it in the same state (renewals).
    this.upsert = db.prepare(`INSERT INTO leases (lan, ipv4, mac, client_key, machine_id, state, client_id, hostname, starts_at, expires_at, updated_at)
      VALUES (@lan, @ip, @mac, @key, @machineId, @state, @clientId, @hostname, @now, @expiresAt, @now)
      ON CONFLICT (lan, ipv4) DO UPDATE SET
        starts_at = CASE WHEN leases.client_key = excluded.client_key AND leases.state = excluded.state THEN leases.starts_at ELSE excluded.starts_at END,
        mac = excluded.mac, client_key = excluded.client_key, machine_id = excluded.machine_id, state = excluded.state, client_id = excluded.client_id,
        hostname = excluded.hostname, expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
    this.releaseStmt = db.prepare("UPDATE leases SET state = 'released', expires_at = @now, updated_at = @now WHERE lan = @lan AND ipv4 = @ip AND coalesce(nullif(client_key, ''), mac) = @key")
    this.expireStmt = db.prepare("UPDATE leases SET state = 'expired', updated_at = @now WHERE lan = @lan AND ipv4 = @ip AND state = 'bound' AND expires_at <= @now")
    this.forLanStmt = db.prepare('SELECT ipv4, mac, client_key, machine_id, state, expires_at FROM leases WHERE lan = ? ORDER BY updated_at')
  }

  /** Every lease row of a LAN, oldest change first (the DHCP service's address book at start). */
  forLan (lan: string): LeaseRow[] {
    return (this.forLanStmt.all(lan) as Array<{ ipv4: string; mac: string; client_key: string; machine_id: number | null; state: LeaseState; expires_at: number }>)
      .map(r => ({ ip: r.ipv4, mac: r.mac, key: r.client_key === '' ? r.mac : r.client_key, state: r.state, expiresAt: r.expires_at, machineId: r.machine_id }))
  }

  /** The client `w.key` holds `ip` until `expiresAt`; any other address it held on the LAN is released. */
  bind (lan: string, w: LeaseWriteRow, machineId: number | null, now: number): void {
    this.releaseOthers.run({ lan, key: w.key, ip: w.ip, now })
    this.upsert.run({ lan, ip: w.ip, mac: w.mac, key: w.key, machineId, state: 'bound', clientId: w.clientId, hostname: w.hostname, now, expiresAt: w.expiresAt })
  }

  /** `ip` was found in use (DHCPDECLINE): kept out of the pool until `expiresAt`. */
  decline (lan: string, w: LeaseWriteRow, machineId: number | null, now: number): void {
    this.upsert.run({ lan, ip: w.ip, mac: w.mac, key: w.key, machineId, state: 'declined', clientId: w.clientId, hostname: w.hostname, now, expiresAt: w.expiresAt })
  }

  /** The client `key` gave `ip` back (DHCPRELEASE). */
  release (lan: string, ip: string, key: string, now: number): void {
    this.releaseStmt.run({ lan, ip, key, now })
  }

  /** A bound lease whose time is up becomes expired; false when it was renewed or changed meanwhile. */
  expire (lan: string, ip: string, now: number): boolean {
    return this.expireStmt.run({ lan, ip, now }).changes === 1
  }

  /** Who has `ip` bound (the client behind a TFTP or HTTP request), if anyone. */
  holderOf (ip: string): { lan: string; mac: string; machineId: number | null } | null {
    const r = this.boundAt.get(ip) as { lan: string; mac: string; machine_id: number | null } | undefined
    return r === undefined ? null : { lan: r.lan, mac: r.mac, machineId: r.machine_id }
  }

  /** A page ordered by (lan, ipv4 as text); `after` is the `lan/ipv4` of the previous page's last lease. */
  list (f: LeaseFilter): Lease[] {
    const where: string[] = []
    const args: unknown[] = []
    if (f.lan !== undefined) { where.push('lan = ?'); args.push(f.lan) }
    if (f.mac !== undefined) { where.push('mac = ?'); args.push(f.mac) }
    if (f.state !== undefined) { where.push('state = ?'); args.push(f.state) }
    if (f.after !== undefined) {
      const slash = f.after.indexOf('/')
      where.push('(lan, ipv4) > (?, ?)'); args.push(f.after.slice(0, slash), f.after.slice(slash + 1))
    }
    const sql = `SELECT * FROM leases${where.length > 0 ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY lan, ipv4${limitClause(f.limit)}`
    return (this.prepare(sql).all(...args) as Row[]).map(fromRow)
  }

  /** Addresses currently held (offered or bound and not expired) on a LAN. */
  activeCount (lan: string, now: number): number {
    return this.prepare("SELECT count(*) FROM leases WHERE lan = ? AND state IN ('offered', 'bound') AND expires_at > ?").pluck().get(lan, now) as number
  }

  /** Active leases whose address lies in `range` (e.g. the dynamic pool). */
  activeInRange (lan: string, range: Ipv4Range, now: number): number {
    const ips = this.prepare("SELECT ipv4 FROM leases WHERE lan = ? AND state IN ('offered', 'bound') AND expires_at > ?").pluck().all(lan, now) as string[]
    let n = 0
    for (const ip of ips) {
      const v = tryParseIPv4(ip)
      if (v !== null && v >= range.start && v <= range.end) n++
    }
    return n
  }
}
