// IP pools for floating addresses (control-plane VIPs, load-balanced services) and their
// allocations. rackboot is the address manager of record: MetalLB, kube-vip and Cilium cannot
// ask an outside IPAM at run time, so it allocates here, in one transaction, and renders their
// manifests from what it allocated.
import { formatIPv4, rangesOverlap, tryParseIPv4, tryParseIPv4Range, tryParseSubnet, type Ipv4Range } from '@rackboot/wire'
import { statementCache, type Db } from './db.js'
import type { EventLog } from './events.js'
import type { Lan } from '../config/lan.js'
import { RackbootError } from '../errors.js'

export type Delivery = 'l2' | 'bgp' | 'routed'

export interface PoolInput {
  name: string
  /** The pool as one CIDR (e.g. the colo's routed /27): its network and broadcast addresses are never handed out. */
  cidr?: string
  /** Or as ranges `first-last` (or single addresses). */
  ranges?: string[]
  /** Addresses or ranges inside the pool that are never allocated. */
  reserved?: string[]
  /** The LAN whose addresses these are (L2 delivery); null for a routed block. */
  lan?: string | null
  delivery?: Delivery
  description?: string | null
}

export interface Pool {
  id: number
  name: string
  cidr: string | null
  ranges: string[]
  reserved: string[]
  lan: string | null
  delivery: Delivery
  description: string | null
  size: number
  allocated: number
  createdAt: string
  updatedAt: string
}

export interface AllocationInput {
  /** This address (or, with `prefix`, the block that starts here); otherwise the next free one. */
  address?: string
  /** An aligned block of 2^(32-prefix) addresses (e.g. 29: eight); one address without it. */
  prefix?: number
  clusterId?: number | null
  machineId?: number | null
  purpose?: 'vip' | 'services' | null
  comment?: string | null
}

export interface Allocation {
  id: number
  pool: string
  /** The first address; `cidr` for a block. */
  address: string
  cidr: string | null
  first: string
  last: string
  size: number
  cluster: string | null
  machine: string | null
  purpose: 'vip' | 'services' | null
  comment: string | null
  createdAt: string
}

interface PoolRow { id: number; name: string; cidr: string | null; ranges: string; reserved: string; lan: string | null; delivery: Delivery; description: string | null; created_at: number; updated_at: number }
interface AllocRow { id: number; pool_id: number; first: number; last: number; cluster_id: number | null; machine_id: number | null; purpose: 'vip' | 'services' | null; comment: string | null; created_at: number; pool: string; cluster: string | null; machine: string | null }

const POOL_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const iso = (ms: number) => new Date(ms).toISOString()
const span = (r: Ipv4Range) => r.end - r.start + 1
const rangeText = (r: Ipv4Range) => r.start === r.end ? formatIPv4(r.start) : `${formatIPv4(r.start)}-${formatIPv4(r.end)}`

/** Sorted and merged (touching ranges joined). */
export function mergeRanges (rs: readonly Ipv4Range[]): Ipv4Range[] {
  const sorted = [...rs].sort((a, b) => a.start - b.start)
  const out: Array<{ start: number; end: number }> = []
  for (const r of sorted) {
    const last = out.at(-1)
    if (last !== undefined && r.start <= last.end + 1) last.end = Math.max(last.end, r.end)
    else out.push({ start: r.start, end: r.end })
  }
  return out
}

/**
 * The first free block of `size` addresses (a power of two, aligned to its size) inside
 * `ranges` that touches nothing in `blocked`; null when there is none. Linear in the number
 * of blocked ranges.
 */
export function firstFree (ranges: readonly Ipv4Range[], blocked: readonly Ipv4Range[], size: number): number | null {
  const taken = mergeRanges(blocked)
  for (const r of mergeRanges(ranges)) {
    let cand = Math.ceil(r.start / size) * size
    let i = 0
    while (cand + size - 1 <= r.end) {
      while (i < taken.length && (taken[i] as Ipv4Range).end < cand) i++
      const t = taken[i]
      if (t === undefined || t.start > cand + size - 1) return cand
      cand = Math.ceil((t.end + 1) / size) * size
    }
  }
  return null
}

/** Why `block` cannot be allocated, or null when it can. */
function blockProblem (block: Ipv4Range, ranges: readonly Ipv4Range[], why: ReadonlyArray<{ range: Ipv4Range; reason: string }>): string | null {
  if (!ranges.some(r => block.start >= r.start && block.end <= r.end)) return 'is not inside the pool'
  return why.find(w => rangesOverlap(w.range, block))?.reason ?? null
}

export class PoolStore {
  private readonly sql
  constructor (db: Db, private readonly events: EventLog, private readonly lans: () => ReadonlyMap<string, Lan>, private readonly now: () => number) {
    this.sql = statementCache(db)
  }

  private parse (input: PoolInput): { cidr: string | null; ranges: Ipv4Range[]; reserved: Ipv4Range[] } {
    if (!POOL_NAME.test(input.name)) throw new RackbootError('RB_VALIDATION', `pool name ${JSON.stringify(input.name)} must be lower-case letters, digits and -, at most 63`, 'name')
    if ((input.cidr === undefined) === (input.ranges === undefined)) throw new RackbootError('RB_VALIDATION', 'a pool has exactly one of cidr or ranges', input.cidr === undefined ? 'cidr' : 'ranges')
    const ranges: Ipv4Range[] = []
    let cidr: string | null = null
    if (input.cidr !== undefined) {
      const s = tryParseSubnet(input.cidr)
      if (s === null) throw new RackbootError('RB_IP_INVALID', `cidr ${JSON.stringify(input.cidr)} is not an IPv4 CIDR`, 'cidr')
      if (s.hostBits) throw new RackbootError('RB_IP_INVALID', `cidr ${input.cidr} has host bits set (the network is ${formatIPv4(s.network)}/${s.prefix})`, 'cidr')
      if (s.prefix < 8) throw new RackbootError('RB_IP_INVALID', `cidr ${input.cidr} is larger than a /8`, 'cidr')
      cidr = input.cidr
      ranges.push({ start: s.first, end: s.last })
    } else {
      const list = input.ranges ?? []
      if (list.length === 0) throw new RackbootError('RB_VALIDATION', 'ranges must name at least one range', 'ranges')
      list.forEach((t, i) => {
        const r = tryParseIPv4Range(t)
        if (r === null || r.end < r.start) throw new RackbootError('RB_IP_INVALID', `ranges[${i}] ${JSON.stringify(t)} is not an address or a range first-last (first ≤ last)`, `ranges[${i}]`)
        if (span(r) > 1 << 24) throw new RackbootError('RB_IP_INVALID', `ranges[${i}] ${t} is larger than a /8`, `ranges[${i}]`)
        const clash = ranges.findIndex(o => rangesOverlap(o, r))
        if (clash >= 0) throw new RackbootError('RB_IP_INVALID', `ranges[${i}] ${t} overlaps ranges[${clash}]`, `ranges[${i}]`)
        ranges.push(r)
      })
    }
    const reserved = (input.reserved ?? []).map((t, i) => {
      const r = tryParseIPv4Range(t)
      if (r === null || r.end < r.start) throw new RackbootError('RB_IP_INVALID', `reserved[${i}] ${JSON.stringify(t)} is not an address or a range first-last`, `reserved[${i}]`)
      if (!ranges.some(p => rangesOverlap(p, r))) throw new RackbootError('RB_IP_INVALID', `reserved[${i}] ${t} is outside the pool`, `reserved[${i}]`)
      return r
    })
    return { cidr, ranges, reserved }
  }

  create (input: PoolInput, actor: string): Pool {
    const { cidr, ranges, reserved } = this.parse(input)
    const lan = input.lan ?? null
    const lans = this.lans()
    if (lan !== null) {
      const l = lans.get(lan)
      if (l === undefined) throw new RackbootError('RB_LAN_UNKNOWN', `lan ${lan} is not configured`, 'lan')
      const outside = ranges.find(r => r.start < l.subnet.first || r.end > l.subnet.last)
      if (outside !== undefined) throw new RackbootError('RB_IP_INVALID', `${rangeText(outside)} is outside LAN ${lan}'s subnet ${l.config.subnet}`, input.cidr === undefined ? 'ranges' : 'cidr')
    }
    // Overlaps that make a pool wrong from the start (what changes later, as new machine
    // reservations, is skipped at allocation time instead).
    for (const r of ranges) {
      for (const other of this.allPools()) {
        const hit = other.ranges.find(o => rangesOverlap(o, r))
        if (hit !== undefined) throw new RackbootError('RB_CONFLICT_POOL', `${rangeText(r)} overlaps pool ${other.name} (${rangeText(hit)})`, input.cidr === undefined ? 'ranges' : 'cidr')
      }
      for (const l of lans.values()) {
        if (l.pool !== null && rangesOverlap(l.pool, r)) throw new RackbootError('RB_CONFLICT_POOL', `${rangeText(r)} overlaps LAN ${l.name}'s DHCP pool ${l.config.pool ?? ''}`, input.cidr === undefined ? 'ranges' : 'cidr')
      }
      const m = this.machineAddressesIn([r])[0]
      if (m !== undefined) throw new RackbootError('RB_CONFLICT_POOL', `${rangeText(r)} holds ${formatIPv4(m.ip)}, reserved for machine ${m.hostname}`, input.cidr === undefined ? 'ranges' : 'cidr')
    }
    const now = this.now()
    let id: number
    try {
      id = Number(this.sql('INSERT INTO ip_pools (name, cidr, ranges, reserved, lan, delivery, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(input.name, cidr, JSON.stringify(ranges.map(r => [r.start, r.end])), JSON.stringify(reserved.map(r => [r.start, r.end])), lan, input.delivery ?? 'l2', input.description ?? null, now, now).lastInsertRowid)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new RackbootError('RB_CONFLICT_POOL', `a pool named ${input.name} already exists`, 'name')
      throw err
    }
    const pool = this.getById(id) as Pool
    this.events.append({ actor, type: 'pool.created', lan, detail: { pool: pool.name, ranges: pool.ranges, size: pool.size } })
    return pool
  }

  private allPools (): Array<{ id: number; name: string; ranges: Ipv4Range[] }> {
    return (this.sql('SELECT id, name, ranges FROM ip_pools').all() as PoolRow[]).map(r => ({ id: r.id, name: r.name, ranges: toRanges(r.ranges) }))
  }

  private fromRow (r: PoolRow): Pool {
    const ranges = toRanges(r.ranges)
    const allocated = this.sql('SELECT coalesce(sum(last - first + 1), 0) FROM ip_allocations WHERE pool_id = ?').pluck().get(r.id) as number
    return {
      id: r.id,
      name: r.name,
      cidr: r.cidr,
      ranges: ranges.map(rangeText),
      reserved: toRanges(r.reserved).map(rangeText),
      lan: r.lan,
      delivery: r.delivery,
      description: r.description,
      size: ranges.reduce((n, x) => n + span(x), 0),
      allocated,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at)
    }
  }

  getById (id: number): Pool | null {
    const r = this.sql('SELECT * FROM ip_pools WHERE id = ?').get(id) as PoolRow | undefined
    return r === undefined ? null : this.fromRow(r)
  }

  get (name: string): Pool | null {
    const r = this.sql('SELECT * FROM ip_pools WHERE name = ?').get(name) as PoolRow | undefined
    return r === undefined ? null : this.fromRow(r)
  }

  /** The pool a path names, or 404. */
  require (name: string, field = 'params.name'): Pool {
    const p = this.get(name)
    if (p === null) throw new RackbootError('RB_NOT_FOUND', `pool ${name} does not exist`, field)
    return p
  }

  list (): Pool[] {
    return (this.sql('SELECT * FROM ip_pools ORDER BY name').all() as PoolRow[]).map(r => this.fromRow(r))
  }

  /** Removes a pool; with allocations only when `force` (they go with it). */
  delete (name: string, force: boolean, actor: string): void {
    const p = this.require(name)
    if (p.allocated > 0 && !force) throw new RackbootError('RB_POOL_IN_USE', `pool ${name} has ${p.allocated} allocated address(es); release them first, or delete with force`, 'params.name')
    this.sql('DELETE FROM ip_pools WHERE id = ?').run(p.id)
    this.events.append({ actor, type: 'pool.deleted', lan: p.lan, detail: { pool: p.name, released: p.allocated } })
  }

  /** Machine reservations (their `ipv4`) that fall inside `ranges`, sorted. */
  private machineAddressesIn (ranges: readonly Ipv4Range[]): Array<{ ip: number; hostname: string }> {
    const out: Array<{ ip: number; hostname: string }> = []
    // A reservation lies inside its LAN's subnet (the machine store checks it): only the LANs
    // the ranges touch can hold one (none for a routed public block).
    const lans = [...this.lans().values()].filter(l => ranges.some(r => rangesOverlap(r, { start: l.subnet.first, end: l.subnet.last }))).map(l => l.name)
    if (lans.length === 0) return out
    const rows = lans.flatMap(lan => this.sql('SELECT hostname, ipv4 FROM machines WHERE lan = ? AND ipv4 IS NOT NULL').all(lan) as Array<{ hostname: string; ipv4: string }>)
    for (const m of rows) {
      const ip = tryParseIPv4(m.ipv4)
      if (ip !== null && ranges.some(r => ip >= r.start && ip <= r.end)) out.push({ ip, hostname: m.hostname })
    }
    return out.sort((a, b) => a.ip - b.ip)
  }

  /** Everything in a pool that may not be handed out, each with the reason. */
  private unavailable (poolId: number, cidr: string | null, ranges: readonly Ipv4Range[], reserved: readonly Ipv4Range[]): Array<{ range: Ipv4Range; reason: string }> {
    const why: Array<{ range: Ipv4Range; reason: string }> = []
    const one = (ip: number, reason: string) => why.push({ range: { start: ip, end: ip }, reason })
    if (cidr !== null) {
      const s = tryParseSubnet(cidr)
      if (s !== null && s.prefix < 31) { one(s.first, `is the network address of ${cidr}`); one(s.last, `is the broadcast address of ${cidr}`) }
    }
    for (const l of this.lans().values()) {
      if (!ranges.some(r => rangesOverlap(r, { start: l.subnet.first, end: l.subnet.last }))) continue
      if (l.subnet.prefix < 31) { one(l.subnet.first, `is the network address of LAN ${l.name}`); one(l.subnet.last, `is the broadcast address of LAN ${l.name}`) }
      one(l.address, `is rackboot's own address on LAN ${l.name}`)
      for (const g of l.gateways) one(g, `is a gateway of LAN ${l.name}`)
      if (l.pool !== null) why.push({ range: l.pool, reason: `is in LAN ${l.name}'s DHCP pool` })
    }
    for (const r of reserved) why.push({ range: r, reason: 'is reserved in the pool' })
    for (const m of this.machineAddressesIn(ranges)) one(m.ip, `is reserved for machine ${m.hostname}`)
    for (const a of this.sql('SELECT first, last FROM ip_allocations WHERE pool_id = ?').all(poolId) as Array<{ first: number; last: number }>) {
      why.push({ range: { start: a.first, end: a.last }, reason: 'is already allocated' })
    }
    return why
  }

  /**
   * Allocates an address or an aligned block in one step (the caller's transaction: two callers
   * never get the same address). A given address that cannot be had is a 409 saying why; a full
   * pool is a 409 naming the pool.
   */
  allocate (poolName: string, input: AllocationInput, actor: string): Allocation {
    const row = this.sql('SELECT * FROM ip_pools WHERE name = ?').get(poolName) as PoolRow | undefined
    if (row === undefined) throw new RackbootError('RB_NOT_FOUND', `pool ${poolName} does not exist`, 'params.name')
    const ranges = toRanges(row.ranges)
    const prefix = input.prefix ?? 32
    if (!Number.isInteger(prefix) || prefix < 16 || prefix > 32) throw new RackbootError('RB_VALIDATION', `prefix ${prefix} must be 16-32`, 'prefix')
    const size = 2 ** (32 - prefix)
    const why = this.unavailable(row.id, row.cidr, ranges, toRanges(row.reserved))
    let first: number
    if (input.address !== undefined) {
      const a = tryParseIPv4(input.address)
      if (a === null) throw new RackbootError('RB_IP_INVALID', `address ${JSON.stringify(input.address)} is not an IPv4 address`, 'address')
      if (a % size !== 0) throw new RackbootError('RB_IP_INVALID', `${input.address}/${prefix} is not aligned: a /${prefix} starts at a multiple of ${size}`, 'address')
      const problem = blockProblem({ start: a, end: a + size - 1 }, ranges, why)
      if (problem !== null) throw new RackbootError('RB_CONFLICT_IP', `${size === 1 ? input.address : `${input.address}/${prefix}`} ${problem} (pool ${poolName})`, 'address')
      first = a
    } else {
      const f = firstFree(ranges, why.map(w => w.range), size)
      if (f === null) throw new RackbootError('RB_POOL_EXHAUSTED', `pool ${poolName} has no free ${size === 1 ? 'address' : `/${prefix} block`} left`, 'params.name')
      first = f
    }
    const id = Number(this.sql('INSERT INTO ip_allocations (pool_id, first, last, cluster_id, machine_id, purpose, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, first, first + size - 1, input.clusterId ?? null, input.machineId ?? null, input.purpose ?? null, input.comment ?? null, this.now()).lastInsertRowid)
    this.sql('UPDATE ip_pools SET updated_at = ? WHERE id = ?').run(this.now(), row.id)
    const alloc = this.allocation(id) as Allocation
    this.events.append({ actor, type: 'pool.allocated', lan: row.lan, detail: { pool: poolName, allocation: id, address: alloc.cidr ?? alloc.address, cluster: alloc.cluster, machine: alloc.machine, purpose: alloc.purpose } })
    return alloc
  }

  /** Releases an allocation; releasing one that is gone is not an error (returns false). */
  release (poolName: string, id: number, actor: string): boolean {
    const a = this.allocation(id)
    if (a === null || a.pool !== poolName) return false
    this.sql('DELETE FROM ip_allocations WHERE id = ?').run(id)
    this.events.append({ actor, type: 'pool.released', detail: { pool: poolName, allocation: id, address: a.cidr ?? a.address } })
    return true
  }

  private static readonly SELECT = `SELECT a.*, p.name AS pool, c.name AS cluster, m.hostname AS machine FROM ip_allocations a
    JOIN ip_pools p ON p.id = a.pool_id LEFT JOIN clusters c ON c.id = a.cluster_id LEFT JOIN machines m ON m.id = a.machine_id`

  allocation (id: number): Allocation | null {
    const r = this.sql(`${PoolStore.SELECT} WHERE a.id = ?`).get(id) as AllocRow | undefined
    return r === undefined ? null : allocFromRow(r)
  }

  allocations (filter: { pool?: string; clusterId?: number }): Allocation[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.pool !== undefined) { where.push('p.name = ?'); args.push(filter.pool) }
    if (filter.clusterId !== undefined) { where.push('a.cluster_id = ?'); args.push(filter.clusterId) }
    const sql = `${PoolStore.SELECT}${where.length === 0 ? '' : ' WHERE ' + where.join(' AND ')} ORDER BY p.name, a.first`
    return (this.sql(sql).all(...args) as AllocRow[]).map(allocFromRow)
  }
}

function toRanges (json: string): Ipv4Range[] {
  return (JSON.parse(json) as Array<[number, number]>).map(([start, end]) => ({ start, end }))
}

function allocFromRow (r: AllocRow): Allocation {
  const size = r.last - r.first + 1
  const prefix = 32 - Math.log2(size)
  return {
    id: r.id,
    pool: r.pool,
    address: formatIPv4(r.first),
    cidr: size === 1 ? null : `${formatIPv4(r.first)}/${prefix}`,
    first: formatIPv4(r.first),
    last: formatIPv4(r.last),
    size,
    cluster: r.cluster,
    machine: r.machine,
    purpose: r.purpose,
    comment: r.comment,
    createdAt: iso(r.created_at)
  }
}
