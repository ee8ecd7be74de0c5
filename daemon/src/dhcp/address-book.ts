// One LAN's addresses in memory: leases (loaded from SQLite, written through by the
// service) and short-lived offers, with pool allocation. Reads here are what make
// decide() fast; SQLite is the durable copy. Leases and offers belong to a client key:
// the MAC, or `id:<hex>` of the client identifier (LanContext.byClientId).
import type { Lan } from '../config/lan.js'
import type { LeaseState } from '../store/leases.js'

export interface LeaseRec {
  ip: number
  mac: string
  /** Whom the lease belongs to (see the file comment). */
  key: string
  state: LeaseState
  expiresAt: number
  machineId: number | null
}

interface Offer { key: string; expiresAt: number }

/** An address is held when a lease or an offer keeps it from anyone else. */
export function isHeld (r: LeaseRec, now: number): boolean {
  return (r.state === 'bound' || r.state === 'offered' || r.state === 'declined') && r.expiresAt > now
}

export class AddressBook {
  private readonly byIp = new Map<number, LeaseRec>()
  private readonly byKey = new Map<string, LeaseRec>()
  private readonly offers = new Map<number, Offer>()
  private readonly offerByKey = new Map<string, number>()
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
    const prev = this.byKey.get(r.key)
    if (prev !== undefined && prev.ip !== r.ip && this.byIp.get(prev.ip) === prev && (prev.state === 'bound' || prev.state === 'offered')) {
      // the client moved: its old address is no longer its
      prev.state = 'released'
    }
    const old = this.byIp.get(r.ip)
    if (old !== undefined && old.key !== r.key && this.byKey.get(old.key) === old) this.byKey.delete(old.key)
    this.byIp.set(r.ip, r)
    this.byKey.set(r.key, r)
    this.unoffer(r.key)
  }

  /** The client's current or last lease on this LAN. */
  leaseOf (key: string): LeaseRec | undefined {
    return this.byKey.get(key)
  }

  /** The client key an address is held for right now (lease or offer), if any. */
  holder (ip: number, now: number): string | null {
    const offer = this.offers.get(ip)
    if (offer !== undefined && offer.expiresAt > now) return offer.key
    const r = this.byIp.get(ip)
    return r !== undefined && isHeld(r, now) ? r.key : null
  }

  offerOf (key: string, now: number): number | null {
    const ip = this.offerByKey.get(key)
    if (ip === undefined) return null
    const o = this.offers.get(ip)
    return o !== undefined && o.expiresAt > now && o.key === key ? ip : null
  }

  offer (ip: number, key: string, expiresAt: number): void {
    this.unoffer(key)
    this.offers.set(ip, { key, expiresAt })
    this.offerByKey.set(key, ip)
  }

  unoffer (key: string): void {
    const ip = this.offerByKey.get(key)
    if (ip === undefined) return
    this.offerByKey.delete(key)
    if (this.offers.get(ip)?.key === key) this.offers.delete(ip)
  }

  inPool (ip: number): boolean {
    const p = this.lan.pool
    return p !== null && ip >= p.start && ip <= p.end
  }

  /** Free for client `key`: in the pool and held by nobody else. */
  freeFor (ip: number, key: string, now: number, reserved: (ip: number) => boolean): boolean {
    if (!this.inPool(ip)) return false
    const h = this.holder(ip, now)
    if (h !== null && h !== key) return false
    const r = this.byIp.get(ip)
    if (r !== undefined && r.state === 'declined' && r.expiresAt > now) return false
    return !reserved(ip)
  }

  /**
   * A pool address for client `key`: the first of `preferred` that is free for it, else the
   * next free one after the cursor. null when the pool is exhausted (or there is none).
   */
  allocate (key: string, now: number, preferred: Array<number | null | undefined>, reserved: (ip: number) => boolean): number | null {
    for (const ip of preferred) if (ip !== null && ip !== undefined && this.freeFor(ip, key, now, reserved)) return ip
    const pool = this.lan.pool
    if (pool === null) return null
    const size = pool.end - pool.start + 1
    let ip = this.cursor
    for (let i = 0; i < size; i++) {
      if (ip > pool.end || ip < pool.start) ip = pool.start
      const candidate = ip
      ip++
      // Never hand a fresh client an address someone held recently while free ones remain:
      // skip addresses with a lease row for another client on the first pass.
      const r = this.byIp.get(candidate)
      if (r !== undefined && r.key !== key) continue
      if (this.freeFor(candidate, key, now, reserved)) { this.cursor = ip; return candidate }
    }
    // Second pass: reuse expired and released addresses.
    for (let c = pool.start; c <= pool.end; c++) {
      if (this.freeFor(c, key, now, reserved)) { this.cursor = c + 1; return c }
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
      if (o.expiresAt <= now) { this.offers.delete(ip); if (this.offerByKey.get(o.key) === ip) this.offerByKey.delete(o.key) }
    }
  }
}
