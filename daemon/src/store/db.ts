// Opens the SQLite database: WAL, foreign keys, numbered SQL migrations.
import Database from 'better-sqlite3'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type Db = Database.Database

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

export interface Migration { version: number; name: string; sql: string }

export function migrations (): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter(f => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map(f => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(MIGRATIONS_DIR, f), 'utf8') }))
}

export class StoreError extends Error {
  constructor (readonly code: string, message: string) { super(message); this.name = 'StoreError' }
}

/**
 * Opens (creating if needed) `<dataDir>/rackboot.db`, or an in-memory database for ':memory:'.
 * `sync` is SQLite's synchronous mode in WAL: `normal` commits survive a crash of the process
 * (the SIGKILL tests), `full` also a power cut, at the price of a disk flush per commit
 * (which bounds the DHCP lease rate by the disk's flush rate).
 */
export function openDb (dataDir: string, sync: 'normal' | 'full' = 'normal'): Db {
  let db: Db
  if (dataDir === ':memory:') {
    db = new Database(':memory:')
  } else {
    mkdirSync(dataDir, { recursive: true, mode: 0o750 })
    db = new Database(join(dataDir, 'rackboot.db'))
    db.pragma('journal_mode = WAL')
  }
  db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`)
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  migrate(db)
  return db
}

function migrate (db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number
  const all = migrations()
  const latest = all.at(-1)?.version ?? 0
  if (current > latest) {
    throw new StoreError('RB_STORE_TOO_NEW', `the database is at schema version ${current}, newer than this rackboot (${latest}); upgrade rackboot`)
  }
  for (const m of all) {
    if (m.version <= current) continue
    // A migration that rebuilds a table others reference says so on its first line: foreign
    // keys are off while it runs (PRAGMA foreign_keys is a no-op inside a transaction), and
    // checked before it commits.
    const fkOff = m.sql.startsWith('-- rackboot: foreign_keys=off')
    if (fkOff) db.pragma('foreign_keys = OFF')
    try {
      db.transaction(() => {
        db.exec(m.sql)
        if (fkOff) {
          const broken = db.pragma('foreign_key_check') as unknown[]
          if (broken.length > 0) throw new StoreError('RB_STORE_MIGRATION', `migration ${m.name} would break ${broken.length} foreign key(s); nothing was changed`)
        }
        db.pragma(`user_version = ${m.version}`)
      }).immediate()
    } finally {
      if (fkOff) db.pragma('foreign_keys = ON')
    }
  }
}

/**
 * Prepares each distinct SQL text once (list queries are built from their filters).
 * Bounded: filter shapes times page sizes could otherwise grow without limit.
 */
export function statementCache (db: Db, max = 256): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>()
  return (sql) => {
    let s = cache.get(sql)
    if (s === undefined) {
      if (cache.size >= max) cache.clear()
      s = db.prepare(sql)
      cache.set(sql, s)
    }
    return s
  }
}

/**
 * `LIMIT n` with the number inlined: with a bound LIMIT parameter SQLite plans our list
 * queries worse (it cannot see the limit when it chooses the plan).
 */
export function limitClause (n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`bad page size ${n}`)
  return ` LIMIT ${n}`
}
