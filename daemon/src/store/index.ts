// The store: one SQLite database behind narrow, synchronous interfaces.
import type { Lan } from '../config/lan.js'
import { openDb, type Db } from './db.js'
import { EventLog } from './events.js'
import { LeaseStore } from './leases.js'
import { MachineStore } from './machines.js'
import { TokenStore } from './tokens.js'
import { BootTokenStore } from './boot-tokens.js'
import { Checkpointer } from './checkpointer.js'
import { PoolStore } from './pools.js'
import { ClusterStore } from './clusters.js'
import { SecretBox, SecretsError, keyFileOf, loadKey } from './secrets.js'
import { createRequire } from 'node:module'
import { join } from 'node:path'

export interface StoreOptions {
  dataDir: string
  lans: () => ReadonlyMap<string, Lan>
  now?: () => number
  sync?: 'normal' | 'full'
  /** The secrets key file (default `<dataDir>/secrets.key`, made on first start); ignored for `:memory:`. */
  secretsKeyFile?: string
}

const KEY_CHECK = 'secrets.keyCheck'

export class Store {
  private readonly db: Db
  readonly events: EventLog
  readonly machines: MachineStore
  readonly tokens: TokenStore
  readonly leases: LeaseStore
  readonly bootTokens: BootTokenStore
  readonly pools: PoolStore
  readonly clusters: ClusterStore
  /** Seals and opens secrets at rest (CA keys, bootstrap tokens). */
  readonly secrets: SecretBox
  readonly now: () => number
  /** Where the database file lives (`:memory:` for none). */
  readonly dataDir: string
  private checkpointer: Checkpointer | null = null

  constructor (opts: StoreOptions) {
    this.now = opts.now ?? Date.now
    this.dataDir = opts.dataDir
    this.db = openDb(opts.dataDir, opts.sync)
    this.savepoint = this.db.transaction((fn: () => unknown) => fn())
    this.events = new EventLog(this.db, this.now)
    try {
      this.secrets = opts.dataDir === ':memory:' ? SecretBox.ephemeral() : openSecrets(this.db, opts.secretsKeyFile ?? keyFileOf(opts.dataDir), opts.secretsKeyFile === undefined)
    } catch (err) {
      this.db.close()
      throw err
    }
    this.machines = new MachineStore(this.db, this.events, opts.lans, this.now, this.secrets)
    this.tokens = new TokenStore(this.db, this.now)
    this.leases = new LeaseStore(this.db)
    this.bootTokens = new BootTokenStore(this.db)
    this.pools = new PoolStore(this.db, this.events, opts.lans, this.now)
    this.clusters = new ClusterStore(this.db, this.events, this.secrets, this.pools, opts.lans, this.now)
    if (opts.dataDir !== ':memory:') {
      // Checkpoints move to a worker; the connection here no longer stalls a commit for one.
      this.db.pragma('wal_autocheckpoint = 0')
      this.checkpointer = new Checkpointer(join(opts.dataDir, 'rackboot.db'), createRequire(import.meta.url).resolve('better-sqlite3'))
    }
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction: all of it commits or none of it does.
   * Events appended inside are published to subscribers only after the commit.
   */
  write<T> (fn: () => T): T {
    let result: T
    try {
      result = this.db.transaction(fn).immediate()
    } catch (err) {
      this.events.discard()
      throw err
    }
    this.events.flush()
    return result
  }

  /**
   * Inside `write()`: runs `fn` in its own savepoint. When it throws, its writes and the events
   * it appended are undone and the error rethrown; the enclosing transaction goes on.
   */
  isolated<T> (fn: () => T): T {
    const mark = this.events.mark()
    try {
      return this.savepoint(fn) as T
    } catch (err) {
      this.events.rollbackTo(mark)
      throw err
    }
  }

  private batch: Array<{ fn: () => unknown; resolve: (v: any) => void; reject: (e: unknown) => void }> = []
  /**
   * Runs one job of a batch in its own savepoint (better-sqlite3 nests a transaction function
   * called inside another as SAVEPOINT/RELEASE). Made once: building a transaction function
   * per job cost more than the job's own inserts.
   */
  private readonly savepoint: (fn: () => unknown) => unknown

  /**
   * Like `write`, but group-committed: writes queued in the same turn of the event loop run
   * in one transaction (each in its own savepoint, so one failing leaves the others), and
   * each promise settles after the commit. For hot paths with many concurrent small writes
   * (iPXE scripts in a boot storm), where a commit per request costs more than the work.
   */
  writeSoon<T> (fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ fn, resolve, reject })
      if (this.batch.length === 1) setImmediate(() => this.flushBatch())
    })
  }

  private later: Array<{ fn: () => unknown; resolve: (v: any) => void; reject: (e: unknown) => void }> = []
  private laterTimer: NodeJS.Timeout | null = null
  /**
   * Like `writeSoon`, for records nobody waits for: committed within `ms`, together with
   * everything else queued meanwhile. A boot storm's TFTP transfers end over tens of
   * milliseconds, each in its own loop turn: one transaction takes them all.
   */
  writeWithin<T> (ms: number, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.later.push({ fn, resolve, reject })
      this.laterTimer ??= setTimeout(() => {
        this.laterTimer = null
        const jobs = this.later
        this.later = []
        this.commitJobs(jobs)
      }, ms)
    })
  }

  private flushBatch (): void {
    const jobs = this.batch
    this.batch = []
    this.commitJobs(jobs)
  }

  private commitJobs (jobs: Array<{ fn: () => unknown; resolve: (v: any) => void; reject: (e: unknown) => void }>): void {
    if (jobs.length === 0) return // flushed already (by close())
    const results: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = []
    try {
      this.db.transaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: this.isolated(job.fn) })
          } catch (err) {
            results.push({ ok: false, err })
          }
        }
      }).immediate()
    } catch (err) {
      this.events.discard()
      for (const job of jobs) job.reject(err)
      return
    }
    this.events.flush()
    jobs.forEach((job, i) => {
      const r = results[i]
      if (r?.ok === true) job.resolve(r.value)
      else job.reject(r?.ok === false ? r.err : new Error('lost write'))
    })
  }

  /** Throws when the database cannot answer (for health checks). */
  ping (): void {
    this.db.prepare('SELECT 1').get()
  }

  close (): void {
    if (!this.db.open) return
    // Writes queued with writeSoon() or writeWithin() and not yet committed: commit them now, not after the close.
    if (this.batch.length > 0) this.flushBatch()
    if (this.laterTimer !== null) { clearTimeout(this.laterTimer); this.laterTimer = null }
    if (this.later.length > 0) { const jobs = this.later; this.later = []; this.commitJobs(jobs) }
    this.checkpointer?.terminate()
    this.checkpointer = null
    this.db.pragma('wal_checkpoint(TRUNCATE)')
    this.db.close()
  }
}

/**
 * The secrets key, checked against the database: the first start seals a known value with it;
 * later starts must open that value, or they were given another key (a restored database
 * with a fresh key file, a wrong `secrets.keyFile`) and refuse to start rather than fail later.
 */
function openSecrets (db: Db, keyFile: string, create: boolean): SecretBox {
  const box = new SecretBox(loadKey(keyFile, create))
  const check = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(KEY_CHECK) as string | undefined
  if (check === undefined) {
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(KEY_CHECK, box.seal('rackboot', KEY_CHECK))
  } else {
    try {
      box.open(check, KEY_CHECK)
    } catch {
      throw new SecretsError(`the secrets key in ${keyFile} is not the key this database's secrets were sealed with; restore the key file that belongs to this database`)
    }
  }
  return box
}

export type { Machine, MachineInput, MachinePatch, MachineFilter, LabelSelector } from './machines.js'
export type { RbEvent, EventFilter, EventInput } from './events.js'
export type { Lease, LeaseFilter, LeaseState } from './leases.js'
export type { ApiToken, TokenIdentity } from './tokens.js'
