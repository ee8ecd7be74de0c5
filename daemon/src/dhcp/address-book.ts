// One LAN's addresses in memory: leases (loaded from SQLite, written through by the
// service) and short-lived offers, with pool allocation. Reads here are what make
// decide() fast; SQLite is the durable copy.
import type { Lan } from '../config/lan.js'
import type { LeaseState } from '../store/leases.js'

export interface LeaseRec {
  ip: number
  mac: string
  state: LeaseState
  expiresAt: number
  machineId: number | null
}

interface Offer { mac: string; expiresAt: number }

/** An address is held when a lease or an offer keeps it from anyone else. */
export function isHeld (r: LeaseRec, now: number): boolean {
  return (r.state === 'bound' || r.state === 'offered' || r.state === 'declined') && r.expiresAt > now
}

export class AddressBook {
  private readonly byIp = new Map<number, LeaseRec>()
  private readonly byMac = new Map<string, LeaseRec>()
  private readonly offers = new Map<number, Offer>()
  private readonly offerByMac = new Map<string, number>()
  private cursor: number

  constructor (public lan: Lan) {
    this.cursor = lan.pool?.start ?? 0
  }

  /** The LAN's config changed (reload): same leases, new pool. */
  retarget (lan: Lan): void {
    this.lan = lan
    if (lan.pool !== null && (this.cursor < lan.pool.start || this.cursor > lan.pool.end)) this.cursor = lan.pool.start
  }

  /** Records a lease as stored (load, or after a write commits). */
  put (r: LeaseRec): void {
    const prev = this.byMac.get(r.mac)
    if (prev !== undefined && prev.ip !== r.ip && this.byIp.get(prev.ip) === prev && (prev.state === 'bound' || prev.state === 'offered')) {
      // the client moved: its old address is no longer its
      prev.state = 'released'
    }
    const old = this.byIp.get(r.ip)
    if (old !== undefined && old.mac !== r.mac && this.byMac.get(old.mac) === old) this.byMac.delete(old.mac)
    this.byIp.set(r.ip, r)
    this.byMac.set(r.mac, r)
    this.unoffer(r.mac)
  }

  /** The client's current or last lease on this LAN. */
  leaseOf (mac: string): LeaseRec | undefined {
    return this.byMac.get(mac)
  }

  /** The MAC an address is held for right now (lease or offer), if any. */
  holder (ip: number, now: number): string | null {
    const offer = this.offers.get(ip)
    if (offer !== undefined && offer.expiresAt > now) return offer.mac
    const r = this.byIp.get(ip)
    return r !== undefined && isHeld(r, now) ? r.mac : null
  }

  offerOf (mac: string, now: number): number | null {
    const ip = this.offerByMac.get(mac)
    if (ip === undefined) return null
    const o = this.offers.get(ip)
    return o !== undefined && o.expiresAt > now && o.mac === mac ? ip : null
  }

  offer (ip: number, mac: string, expiresAt: number): void {
    this.unoffer(mac)
    this.offers.set(ip, { mac, expiresAt })
    this.offerByMac.set(mac, ip)
  }

  unoffer (mac: string): void {
    const ip = this.offerByMac.get(mac)
    if (ip === undefined) return
    this.offerByMac.delete(mac)
    if (this.offers.get(ip)?.mac === mac) this.offers.delete(ip)
  }

  inPool (ip: number): boolean {
    const p = this.lan.pool
    return p !== null && ip >= p.start && ip <= p.end
  }

  /** Free for `mac`: in the pool and held by nobody else. */
  freeFor (ip: number, mac: string, now: number, reserved: (ip: number) => boolean): boolean {
    if (!this.inPool(ip)) return false
    const h = this.holder(ip, now)
    if (h !== null && h !== mac) return false
    const r = this.byIp.get(ip)
    if (r !== undefined && r.state === 'declined' && r.expiresAt > now) return false
    return !reserved(ip)
  }

  /**
   * A pool address for `mac`: the first of `preferred` that is free for it, else the next
   * free one after the cursor. null when the pool is exhausted (or there is none).
   */
  allocate (mac: string, now: number, preferred: Array<number | null | undefined>, reserved: (ip: number) => boolean): number | null {
    for (const ip of preferred) if (ip !== null && ip !== undefined && this.freeFor(ip, mac, now, reserved)) return ip
    const pool = this.lan.pool
    if (pool === null) return null
    const size = pool.end - pool.start + 1
    let ip = this.cursor
    for (let i = 0; i < size; i++) {
      if (ip > pool.end || ip < pool.start) ip = pool.start
      const candidate = ip
      ip++
      // Never hand a fresh client an address someone held recently while free ones remain:
      // skip addresses with a lease row for another MAC on the first pass.
      const r = this.byIp.get(candidate)
      if (r !== undefined && r.mac !== mac) continue
      if (this.freeFor(candidate, mac, now, reserved)) { this.cursor = ip; return candidate }
    }
    // Second pass: reuse expired and released addresses.
    for (let c = pool.start; c <= pool.end; c++) {
      if (this.freeFor(c, mac, now, reserved)) { this.cursor = c + 1; return c }
    }
    return null
  }

  /** Active leases and offers inside the pool. */
  poolUsed (now: number): number {
    let n = 0
    for (const [ip, r] of this.byIp) if (this.inPool(ip) && isHeld(r, now)) n++
    for (const [ip, o] of this.offers) if (this.inPool(ip) && o.expiresAt > now && !(this.byIp.get(ip) !== undefined && isHeld(this.byIp.get(ip) as LeaseRec, now))) n++
    return n
  }

  /** Bound leases whose time is up, for the expiry sweep. */
  expired (now: number): LeaseRec[] {
    const out: LeaseRec[] = []
    for (const r of this.byIp.values()) if (r.state === 'bound' && r.expiresAt <= now) out.push(r)
    return out
  }

  /** Drops offers whose hold ran out (memory hygiene; they are ignored once expired anyway). */
  pruneOffers (now: number): void {
    for (const [ip, o] of this.offers) {
      if (o.expiresAt <= now) { this.offers.delete(ip); if (this.offerByMac.get(o.mac) === ip) this.offerByMac.delete(o.mac) }
    }
  }
}
