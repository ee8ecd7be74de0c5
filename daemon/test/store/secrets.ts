// Secrets at rest: the key file (made 0600 on first start, refused when others may read it or
// it holds no key), sealing bound to its context, and a database opened with another key.
import t from 'tap'
import { chmodSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SecretBox, SecretsError, loadKey } from '../../src/store/secrets.js'
import { Store } from '../../src/store/index.js'
import { tempDir } from '../helpers/build.js'

t.test('seal and open, bound to the context', async t => {
  const box = SecretBox.ephemeral()
  const sealed = box.seal('-----BEGIN PRIVATE KEY-----', 'cluster:1:ca.key')
  t.match(sealed, /^rbs1:[A-Za-z0-9_-]+$/)
  t.notOk(sealed.includes('PRIVATE'))
  t.equal(box.openText(sealed, 'cluster:1:ca.key'), '-----BEGIN PRIVATE KEY-----')
  t.not(box.seal('x', 'c'), box.seal('x', 'c'), 'a fresh IV each time')
  t.throws(() => box.open(sealed, 'cluster:2:ca.key'), SecretsError, 'moved to another row: refused')
  const bytes = Buffer.from(sealed.slice(5), 'base64url')
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
  t.throws(() => box.open('rbs1:' + bytes.toString('base64url'), 'cluster:1:ca.key'), /does not open with this key/, 'altered: refused')
  t.throws(() => SecretBox.ephemeral().open(sealed, 'cluster:1:ca.key'), /does not open/, 'another key: refused')
  t.throws(() => box.open('plain', 'x'), /unknown format/)
  t.throws(() => box.open('rbs1:AAAA', 'x'), /truncated/)
})

t.test('the key file', async t => {
  const dir = tempDir(t)
  const path = join(dir, 'secrets.key')
  const key = loadKey(path, true)
  t.equal(key.length, 32)
  t.equal(statSync(path).mode & 0o777, 0o600, 'made mode 0600')
  t.same(loadKey(path, false), key, 'read back')
  t.throws(() => loadKey(join(dir, 'none'), false), /does not exist/)
  chmodSync(path, 0o640)
  t.throws(() => loadKey(path, false), /readable or writable by others \(mode 640\); chmod 600 it/)
  chmodSync(path, 0o600)
  const hex = join(dir, 'hex.key')
  writeFileSync(hex, randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
  t.equal(loadKey(hex, false).length, 32, '64 hex digits are a key')
  const b64 = join(dir, 'b64.key')
  writeFileSync(b64, randomBytes(32).toString('base64'), { mode: 0o600 })
  t.equal(loadKey(b64, false).length, 32, 'base64 is a key')
  const short = join(dir, 'short.key')
  writeFileSync(short, 'hunter2\n', { mode: 0o600 })
  t.throws(() => loadKey(short, false), /holds no 32-byte key \(8 bytes/)
  const link = join(dir, 'link.key')
  symlinkSync(path, link)
  t.throws(() => loadKey(link, false), /symbolic link/)
})

t.test('a database refuses another key', async t => {
  const dataDir = tempDir(t)
  const lans = () => new Map()
  const a = new Store({ dataDir, lans })
  const sealed = a.secrets.seal('s', 'x')
  a.close()
  const b = new Store({ dataDir, lans })
  t.equal(b.secrets.openText(sealed, 'x'), 's', 'the same key file on the next start')
  b.close()
  const other = join(tempDir(t), 'other.key')
  writeFileSync(other, randomBytes(32), { mode: 0o600 })
  t.throws(() => new Store({ dataDir, lans, secretsKeyFile: other }), new RegExp(`the secrets key in ${other} is not the key this database's secrets were sealed with`))
  t.throws(() => new Store({ dataDir, lans, secretsKeyFile: join(dataDir, 'missing.key') }), /does not exist/, 'a configured key file is never created')
  t.equal(readFileSync(join(dataDir, 'secrets.key')).length, 32)
  const c = new Store({ dataDir, lans })
  t.equal(c.secrets.openText(sealed, 'x'), 's', 'the refused starts changed nothing')
  c.close()
})
