// One-time boot tokens: minted with each netboot script, bound to the machine and that boot
// attempt, consumed by its phone-home. Only a SHA-256 is stored; the token is never logged.
import { createHash, randomBytes } from 'node:crypto'
import type { Db } from './db.js'

export type TokenCheck =
  | { ok: true; machineId: number; image: string; createdAt: number }
  | { ok: false; code: 'RB_BOOT_TOKEN_INVALID' | 'RB_BOOT_TOKEN_EXPIRED' | 'RB_BOOT_TOKEN_USED'; machineId: number | null }

interface Row { machine_id: number; image: string; created_at: number; expires_at: number; used_at: number | null }

const hash = (token: string) => createHash('sha256').update(token).digest('hex')

export class BootTokenStore {
  private readonly insert
  private readonly byHash
  private readonly use
  private readonly prune

  constructor (db: Db) {
    this.insert = db.prepare('INSERT INTO boot_tokens (hash, machine_id, image, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
    this.byHash = db.prepare('SELECT machine_id, image, created_at, expires_at, used_at FROM boot_tokens WHERE hash = ?')
    this.use = db.prepare('UPDATE boot_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL')
    this.prune = db.prepare('DELETE FROM boot_tokens WHERE expires_at < ?')
  }

  /** A new token for `machineId`'s boot into `image`; call inside a transaction. */
  mint (machineId: number, image: string, now: number, ttlMs: number): string {
    const token = randomBytes(24).toString('base64url')
    this.insert.run(hash(token), machineId, image, now, now + ttlMs)
    return token
  }

  check (token: string, now: number): TokenCheck {
    if (!/^[A-Za-z0-9_-]{32}$/.test(token)) return { ok: false, code: 'RB_BOOT_TOKEN_INVALID', machineId: null }
    const r = this.byHash.get(hash(token)) as Row | undefined
    if (r === undefined) return { ok: false, code: 'RB_BOOT_TOKEN_INVALID', machineId: null }
    if (r.used_at !== null) return { ok: false, code: 'RB_BOOT_TOKEN_USED', machineId: r.machine_id }
    if (r.expires_at <= now) return { ok: false, code: 'RB_BOOT_TOKEN_EXPIRED', machineId: r.machine_id }
    return { ok: true, machineId: r.machine_id, image: r.image, createdAt: r.created_at }
  }

  /** Marks a checked token used; false when another request used it first. */
  consume (token: string, now: number): boolean {
    return this.use.run(now, hash(token)).changes === 1
  }

  /** Forgets tokens that expired before `before`. */
  pruneExpired (before: number): number {
    return this.prune.run(before).changes
  }
}
