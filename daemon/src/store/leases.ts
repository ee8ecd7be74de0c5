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

export class LeaseStore {
  private readonly prepare
  private readonly boundAt
  constructor (db: Db) {
    this.prepare = statementCache(db)
    this.boundAt = db.prepare("SELECT lan, mac, machine_id FROM leases WHERE ipv4 = ? AND state = 'bound' ORDER BY updated_at DESC LIMIT 1")
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
