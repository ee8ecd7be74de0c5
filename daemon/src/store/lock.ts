// One daemon per data directory. The lock is an exclusive SQLite transaction held open on
// `<dataDir>/serve.lock` for the daemon's life: the kernel drops it when the process dies,
// however it dies (kill -9 included), so no stale lock is ever left behind. The holder's PID
// is written beside it, for the message a second daemon gets. The CLI's token commands open
// the database itself, not this file, so they keep working while the daemon runs.
import Database from 'better-sqlite3'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StoreError } from './db.js'

export interface DataDirLock { release (): void }

/** Takes the lock or throws RB_DATADIR_LOCKED naming the process that holds it. */
export function lockDataDir (dataDir: string): DataDirLock {
  if (dataDir === ':memory:') return { release () {} }
  mkdirSync(dataDir, { recursive: true, mode: 0o750 })
  const pidFile = join(dataDir, 'serve.pid')
  const db = new Database(join(dataDir, 'serve.lock'), { timeout: 0 })
  try {
    db.pragma('locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
  } catch (err) {
    db.close()
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
    let holder = 'another process'
    try { holder = `PID ${readFileSync(pidFile, 'utf8').trim()}` } catch { /* written just after the lock is taken */ }
    throw new StoreError('RB_DATADIR_LOCKED', `dataDir ${dataDir} is in use by another rackboot (${holder}): stop it first, or give this one another dataDir`)
  }
  writeFileSync(pidFile, `${process.pid}\n`)
  let held = true
  return {
    release () {
      if (!held) return
      held = false
      rmSync(pidFile, { force: true })
      db.close()
    }
  }
}
