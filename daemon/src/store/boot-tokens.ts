// One-time boot tokens: minted with each netboot script, bound to the machine and that boot
// attempt, consumed by its phone-home. Only a SHA-256 is stored; the token is never logged.
//
// A token is 30 bytes in base64url (40 characters): a 6-byte row id, then 24 random bytes.
// The id finds the row (an append-only primary key: minting appends to the table's last page);
// the SHA-256 of the whole token, compared in constant time, proves it. A guessed or altered
// token names a row whose hash does not match: invalid.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Db } from './db.js'

/**
 * What a token opens: `netboot` — a netbooted OS's seed and phone-home; `install` — the
 * installer's reports, disk image and per-machine files; `seed` — the installed OS's seed and
 * phone-home (minted into those files).
 */
export type TokenKind = 'netboot' | 'install' | 'seed'

export type TokenCheck =
  | {
    ok: true; machineId: number; image: string; createdAt: number; kind: TokenKind
    /** The machine's lifecycle state now. */
    machineState: string
    /** A later boot attempt began since (a newer netboot or install token), or a newer token of the same kind was minted. */
    superseded: boolean
  }
  | { ok: false; code: 'RB_BOOT_TOKEN_INVALID' | 'RB_BOOT_TOKEN_EXPIRED' | 'RB_BOOT_TOKEN_USED'; machineId: number | null }

interface Row { hash: Buffer; machine_id: number; image: string; kind: TokenKind; created_at: number; expires_at: number; used_at: number | null; machine_created: number | null; machine_state: string | null; superseded: number }

export const BOOT_TOKEN_LENGTH = 40
const ID_BYTES = 6
const SECRET_BYTES = 24
const SHAPE = new RegExp(`^[A-Za-z0-9_-]{${BOOT_TOKEN_LENGTH}}$`)

const hash = (token: string): Buffer => createHash('sha256').update(token).digest()

/** The row id a well-formed token names, else null. */
function idOf (token: string): number | null {
  if (!SHAPE.test(token)) return null
  return Buffer.from(token, 'base64url').readUIntBE(0, ID_BYTES)
}

export class BootTokenStore {
  private readonly insert
  private readonly byId
  private readonly use
  private readonly prune
  private readonly lastId

  constructor (db: Db) {
    this.insert = db.prepare('INSERT INTO boot_tokens (id, hash, machine_id, image, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    // The machine's creation time too: ids of deleted machines can be given to new ones, and a
    // token minted for the old machine must not work for the new one.
    // `superseded` scans only the tokens minted after this one (ids are sequential), so no
    // index on machine_id is needed (minting appends to the table's last page).
    this.byId = db.prepare(`SELECT t.hash, t.machine_id, t.image, t.kind, t.created_at, t.expires_at, t.used_at, m.created_at AS machine_created, m.state AS machine_state,
        EXISTS (SELECT 1 FROM boot_tokens n WHERE n.id > t.id AND n.machine_id = t.machine_id AND (n.kind <> 'seed' OR n.kind = t.kind)) AS superseded
      FROM boot_tokens t LEFT JOIN machines m ON m.id = t.machine_id WHERE t.id = ?`)
    this.use = db.prepare('UPDATE boot_tokens SET used_at = ? WHERE id = ? AND hash = ? AND used_at IS NULL')
    this.prune = db.prepare('DELETE FROM boot_tokens WHERE expires_at < ?')
    this.lastId = db.prepare('SELECT coalesce(max(id), 0) FROM boot_tokens').pluck()
  }

  /** A new token for `machineId`'s boot into `image`; call inside a transaction. */
  mint (machineId: number, image: string, now: number, ttlMs: number, kind: TokenKind = 'netboot'): string {
    // max(id) + 1 inside the caller's write transaction: no other writer can take it meanwhile.
    const id = (this.lastId.get() as number) + 1
    const raw = randomBytes(ID_BYTES + SECRET_BYTES)
    raw.writeUIntBE(id, 0, ID_BYTES)
    const token = raw.toString('base64url')
    this.insert.run(id, hash(token), machineId, image, kind, now, now + ttlMs)
    return token
  }

  check (token: string, now: number): TokenCheck {
    const id = idOf(token)
    if (id === null) return { ok: false, code: 'RB_BOOT_TOKEN_INVALID', machineId: null }
    const r = this.byId.get(id) as Row | undefined
    if (r === undefined || !timingSafeEqual(r.hash, hash(token))) return { ok: false, code: 'RB_BOOT_TOKEN_INVALID', machineId: null }
    if (r.machine_created === null || r.machine_created > r.created_at) return { ok: false, code: 'RB_BOOT_TOKEN_INVALID', machineId: null }
    if (r.used_at !== null) return { ok: false, code: 'RB_BOOT_TOKEN_USED', machineId: r.machine_id }
    if (r.expires_at <= now) return { ok: false, code: 'RB_BOOT_TOKEN_EXPIRED', machineId: r.machine_id }
    return { ok: true, machineId: r.machine_id, image: r.image, createdAt: r.created_at, kind: r.kind, machineState: r.machine_state ?? '', superseded: r.superseded === 1 }
  }

  /** Marks a checked token used; false when another request used it first. */
  consume (token: string, now: number): boolean {
    const id = idOf(token)
    return id !== null && this.use.run(now, id, hash(token)).changes === 1
  }

  /** Forgets tokens that expired before `before`. */
  pruneExpired (before: number): number {
    return this.prune.run(before).changes
  }
}
