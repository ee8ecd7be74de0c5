// Secrets at rest: CA private keys, bootstrap tokens, BMC passwords. Each is sealed with
// AES-256-GCM under one key that never enters the database: a key file in `dataDir`
// (`secrets.key`, 32 random bytes, mode 0600, made on first start) or one given by path.
// Every sealed value is bound to what it is (`context`, GCM's additional data: e.g.
// `cluster:3:ca.key`), so a value copied into another row or column does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

const PREFIX = 'rbs1:'
const IV = 12
const TAG = 16

export class SecretsError extends Error {
  constructor (message: string) { super(message); this.name = 'SecretsError' }
}

/** The default key file of a data directory. */
export const keyFileOf = (dataDir: string): string => join(dataDir, 'secrets.key')

/**
 * Reads the key file, or creates it (32 random bytes, mode 0600) when `create` and it does not
 * exist. Refuses a file others can read or write, and one that holds no 32-byte key (raw, or 64
 * hex digits, or base64 of 32 bytes, with an optional newline), naming the file.
 */
export function loadKey (path: string, create: boolean): Buffer {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && create) return createKey(path)
    if (code === 'ENOENT') throw new SecretsError(`the secrets key file ${path} does not exist`)
    if (code === 'ELOOP') throw new SecretsError(`the secrets key file ${path} is a symbolic link; give the file itself`)
    throw new SecretsError(`cannot read the secrets key file ${path}: ${(err as Error).message}`)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new SecretsError(`the secrets key file ${path} is not a regular file`)
    if ((st.mode & 0o077) !== 0) throw new SecretsError(`the secrets key file ${path} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`)
    const raw = readFileSync(fd)
    const key = parseKey(raw)
    if (key === null) throw new SecretsError(`the secrets key file ${path} holds no 32-byte key (${raw.length} bytes: want 32 raw bytes, 64 hex digits or base64 of 32 bytes)`)
    return key
  } finally {
    closeSync(fd)
  }
}

function parseKey (raw: Buffer): Buffer | null {
  if (raw.length === 32) return Buffer.from(raw)
  const text = raw.toString('latin1').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const b = Buffer.from(text, 'base64')
    if (b.length === 32) return b
  }
  return null
}

function createKey (path: string): Buffer {
  const key = randomBytes(32)
  let fd: number
  try {
    // O_EXCL: two daemons racing on one dataDir never end up with two keys.
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadKey(path, false)
    throw new SecretsError(`cannot create the secrets key file ${path}: ${(err as Error).message}`)
  }
  try {
    writeSync(fd, key)
  } finally {
    closeSync(fd)
  }
  return key
}

/** Seals and opens secrets with one AES-256-GCM key. */
export class SecretBox {
  private readonly key: Buffer
  constructor (key: Buffer) {
    if (key.length !== 32) throw new SecretsError('a secrets key is 32 bytes')
    this.key = Buffer.from(key)
  }

  /** A box with a fresh random key (in-memory stores: tests, `:memory:`). */
  static ephemeral (): SecretBox { return new SecretBox(randomBytes(32)) }

  /** `rbs1:` + base64url(iv ‖ tag ‖ ciphertext); a fresh IV every time. */
  seal (plain: string | Buffer, context: string): string {
    const iv = randomBytes(IV)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    c.setAAD(Buffer.from(context, 'utf8'))
    const ct = Buffer.concat([c.update(typeof plain === 'string' ? Buffer.from(plain, 'utf8') : plain), c.final()])
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')
  }

  /** Opens what `seal` made for the same `context`; throws SecretsError otherwise (wrong key, altered, moved). */
  open (sealed: string, context: string): Buffer {
    if (!sealed.startsWith(PREFIX)) throw new SecretsError(`a sealed secret (${context}) has an unknown format`)
    const b = Buffer.from(sealed.slice(PREFIX.length), 'base64url')
    if (b.length < IV + TAG) throw new SecretsError(`a sealed secret (${context}) is truncated`)
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, IV))
    d.setAAD(Buffer.from(context, 'utf8'))
    d.setAuthTag(b.subarray(IV, IV + TAG))
    try {
      return Buffer.concat([d.update(b.subarray(IV + TAG)), d.final()])
    } catch {
      throw new SecretsError(`a sealed secret (${context}) does not open with this key: the key file is not the one it was sealed with, or the value was altered`)
    }
  }

  openText (sealed: string, context: string): string { return this.open(sealed, context).toString('utf8') }
}
