// API bearer tokens. The token is shown once at creation; only its SHA-256 is stored.
// Tokens carry 256 random bits, so a fast hash is enough (no password stretching needed).
import { createHash, randomBytes } from 'node:crypto'
import type { Db } from './db.js'
import { RackbootError } from '../errors.js'

export interface ApiToken { id: number; name: string; readOnly: boolean; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }
export interface TokenIdentity { id: number; name: string; readOnly: boolean }

interface Row { id: number; name: string; read_only: number; created_at: number; last_used_at: number | null; revoked_at: number | null }

const TOKEN_PREFIX = 'rbt_'
/** Writing last_used_at on every request would make each read a write: once a minute is enough. */
const TOUCH_INTERVAL_MS = 60_000

export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString()
const fromRow = (r: Row): ApiToken => ({ id: r.id, name: r.name, readOnly: r.read_only === 1, createdAt: iso(r.created_at) as string, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) })

export class TokenStore {
  private readonly byHash
  private readonly touch
  private readonly lastTouch = new Map<number, number>()

  constructor (private readonly db: Db, private readonly now: () => number) {
    this.byHash = db.prepare('SELECT id, name, read_only FROM api_tokens WHERE hash = ? AND revoked_at IS NULL')
    this.touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?')
  }

  /** Creates a token and returns its secret (the only time it exists in clear). */
  create (name: string, readOnly: boolean): { token: string; info: ApiToken } {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(name)) {
      throw new RackbootError('RB_VALIDATION', `token name ${JSON.stringify(name)} must be 1-64 letters, digits, or _ . @ -`, 'name')
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    try {
      const info = this.db.prepare('INSERT INTO api_tokens (name, hash, read_only, created_at) VALUES (?, ?, ?, ?)').run(name, hashToken(token), readOnly ? 1 : 0, this.now())
      return { token, info: this.get(Number(info.lastInsertRowid)) as ApiToken }
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new RackbootError('RB_TOKEN_EXISTS', `a token named ${name} already exists (revoke it first, or pick another name)`, 'name')
      throw err
    }
  }

  get (id: number): ApiToken | null {
    const r = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row | undefined
    return r === undefined ? null : fromRow(r)
  }

  list (): ApiToken[] {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY id').all() as Row[]).map(fromRow)
  }

  /** Revokes by name; returns false when no active token has that name. */
  revoke (name: string): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(this.now(), name).changes === 1
  }

  activeCount (): number {
    return this.db.prepare('SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL').pluck().get() as number
  }

  /** The identity behind a presented token, or null (unknown or revoked). */
  verify (token: string): TokenIdentity | null {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 128) return null
    const r = this.byHash.get(hashToken(token)) as Pick<Row, 'id' | 'name' | 'read_only'> | undefined
    if (r === undefined) return null
    const now = this.now()
    if (now - (this.lastTouch.get(r.id) ?? 0) > TOUCH_INTERVAL_MS) {
      this.lastTouch.set(r.id, now)
      this.touch.run(now, r.id)
    }
    return { id: r.id, name: r.name, readOnly: r.read_only === 1 }
  }
}
