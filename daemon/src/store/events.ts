// The append-only event log, and the in-process feed that the SSE stream reads.
import { EventEmitter } from 'node:events'
import { limitClause, statementCache, type Db } from './db.js'

export interface EventInput {
  actor: string
  type: string
  machineId?: number | null
  lan?: string | null
  mac?: string | null
  detail?: Record<string, unknown>
}

export interface RbEvent {
  id: number
  ts: string
  actor: string
  type: string
  machineId: number | null
  lan: string | null
  mac: string | null
  detail: Record<string, unknown>
}

export interface EventFilter { machineId?: number; lan?: string; type?: string; mac?: string; after?: number; limit: number; order?: 'asc' | 'desc' }

interface Row { id: number; ts: number; actor: string; type: string; machine_id: number | null; lan: string | null; mac: string | null; detail: string }

export function eventFromRow (r: Row): RbEvent {
  return { id: r.id, ts: new Date(r.ts).toISOString(), actor: r.actor, type: r.type, machineId: r.machine_id, lan: r.lan, mac: r.mac, detail: JSON.parse(r.detail) }
}

export function matchesFilter (e: RbEvent, f: Omit<EventFilter, 'limit'>): boolean {
  return (f.machineId === undefined || e.machineId === f.machineId) &&
    (f.lan === undefined || e.lan === f.lan) &&
    (f.type === undefined || e.type === f.type) &&
    (f.mac === undefined || e.mac === f.mac) &&
    (f.after === undefined || e.id > f.after)
}

export class EventLog {
  /** Emits 'event' with each RbEvent once its transaction has committed. */
  readonly feed = new EventEmitter()
  private pending: RbEvent[] = []
  private readonly insert
  private readonly byIdStmt
  private readonly prepare

  constructor (db: Db, private readonly now: () => number) {
    this.feed.setMaxListeners(0)
    this.insert = db.prepare('INSERT INTO events (ts, actor, type, machine_id, lan, mac, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
    this.byIdStmt = db.prepare('SELECT * FROM events WHERE id = ?')
    this.prepare = statementCache(db)
  }

  /** Appends inside the caller's transaction; published after commit by `flush()`. */
  append (e: EventInput): RbEvent {
    const ts = this.now()
    const detail = e.detail ?? {}
    const info = this.insert.run(ts, e.actor, e.type, e.machineId ?? null, e.lan ?? null, e.mac ?? null, JSON.stringify(detail))
    const ev: RbEvent = { id: Number(info.lastInsertRowid), ts: new Date(ts).toISOString(), actor: e.actor, type: e.type, machineId: e.machineId ?? null, lan: e.lan ?? null, mac: e.mac ?? null, detail }
    this.pending.push(ev)
    return ev
  }

  flush (): void {
    const batch = this.pending
    this.pending = []
    for (const ev of batch) this.feed.emit('event', ev)
  }

  discard (): void { this.pending = [] }

  /** How many events wait for the commit; `rollbackTo(mark)` forgets those appended since. */
  mark (): number { return this.pending.length }
  rollbackTo (mark: number): void { this.pending.length = Math.min(mark, this.pending.length) }

  get (id: number): RbEvent | null {
    const r = this.byIdStmt.get(id) as Row | undefined
    return r === undefined ? null : eventFromRow(r)
  }

  list (f: EventFilter): RbEvent[] {
    const where: string[] = []
    const args: unknown[] = []
    if (f.machineId !== undefined) { where.push('machine_id = ?'); args.push(f.machineId) }
    if (f.lan !== undefined) { where.push('lan = ?'); args.push(f.lan) }
    if (f.type !== undefined) { where.push('type = ?'); args.push(f.type) }
    if (f.mac !== undefined) { where.push('mac = ?'); args.push(f.mac) }
    const desc = f.order === 'desc'
    if (f.after !== undefined) { where.push(desc ? 'id < ?' : 'id > ?'); args.push(f.after) }
    const sql = `SELECT * FROM events${where.length > 0 ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id ${desc ? 'DESC' : 'ASC'}${limitClause(f.limit)}`
    return (this.prepare(sql).all(...args) as Row[]).map(eventFromRow)
  }
}
