import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { TftpFileError } from '../src/errors.js'
import { utf8ToWireName } from '../src/packet.js'
import { rootDirSource } from '../src/root-dir-source.js'

const dir = mkdtempSync(join(tmpdir(), 'rackboot-tftp-root-'))
const root = join(dir, 'root')
mkdirSync(join(root, 'sub', 'deeper'), { recursive: true })
writeFileSync(join(root, 'hello.txt'), 'hello\n')
writeFileSync(join(root, 'sub', 'file.bin'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
writeFileSync(join(root, 'sub', 'deeper', 'x'), 'x')
writeFileSync(join(root, 'grüße.txt'), 'utf8 name')
writeFileSync(join(root, 'empty'), '')
writeFileSync(join(dir, 'outside.txt'), 'secret')
symlinkSync('/etc/passwd', join(root, 'passwd'))
symlinkSync('../outside.txt', join(root, 'escape'))
symlinkSync('/', join(root, 'slash'))
symlinkSync('sub/file.bin', join(root, 'inside-link'))
symlinkSync('sub', join(root, 'sub-link'))
symlinkSync('missing-target', join(root, 'dangling'))
symlinkSync('loop-b', join(root, 'loop-a'))
symlinkSync('loop-a', join(root, 'loop-b'))
execFileSync('mkfifo', [join(root, 'fifo')])
writeFileSync(join(root, 'unreadable'), 'no')
chmodSync(join(root, 'unreadable'), 0o000)
const isRoot = process.getuid?.() === 0

// A UNIX socket in the tree.
const unixServer = createServer()
await new Promise<void>((resolve) => unixServer.listen(join(root, 'sock'), resolve))

t.teardown(async () => {
  await new Promise<void>((resolve) => unixServer.close(() => resolve()))
  rmSync(dir, { recursive: true, force: true })
})

const source = rootDirSource(root)

async function openError (path: string): Promise<unknown> {
  try {
    const f = await source.open(path)
    await f.close()
    return undefined
  } catch (err) {
    return err
  }
}

t.test('served files', async (t) => {
  const table: Array<[string, string, string]> = [
    ['plain name', 'hello.txt', 'hello\n'],
    ['leading slash is relative to the root', '/hello.txt', 'hello\n'],
    ['several leading slashes', '///hello.txt', 'hello\n'],
    ['sub directory', 'sub/file.bin', '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09'],
    ['dot segments and doubled slashes', './sub//./file.bin', '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09'],
    ['symlink inside the root', 'inside-link', '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09'],
    ['through a directory symlink inside the root', 'sub-link/deeper/x', 'x'],
    ['UTF-8 name as sent on the wire', utf8ToWireName('/grüße.txt'), 'utf8 name'],
    ['empty file', 'empty', '']
  ]
  for (const [name, path, content] of table) {
    const f = await source.open(path)
    t.equal(f.size, Buffer.byteLength(content, 'latin1'), `${name}: size`)
    t.equal(Buffer.from(await f.read(0, f.size)).toString('latin1'), content, `${name}: content`)
    await f.close()
  }
})

t.test('reads are ranged and on demand', async (t) => {
  const f = await source.open('sub/file.bin')
  t.same([...await f.read(3, 4)], [3, 4, 5, 6])
  t.same([...await f.read(9, 1)], [9])
  t.same([...await f.read(10, 0)], [])
  await f.close()
  await f.close() // idempotent
})

t.test('hostile paths are refused with the right code', async (t) => {
  const table: Array<[string, string, string, number]> = [
    ['missing file', 'nope.bin', 'RB_TFTP_FILE_NOT_FOUND', 1],
    ['missing directory', 'nope/x', 'RB_TFTP_FILE_NOT_FOUND', 1],
    ['file used as a directory', 'hello.txt/x', 'RB_TFTP_FILE_NOT_FOUND', 1],
    ['dangling symlink', 'dangling', 'RB_TFTP_FILE_NOT_FOUND', 1],
    ['parent reference', '../outside.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['parent reference after a leading slash', '/../outside.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['parent reference in the middle', 'sub/../../outside.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['parent reference that would stay inside', 'sub/../hello.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['absolute system path is rooted, not followed', '/etc/passwd', 'RB_TFTP_FILE_NOT_FOUND', 1],
    ['backslash', 'sub\\file.bin', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['backslash parent (Windows style)', '..\\outside.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['NUL byte', 'hello.txt\0.png', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['newline', 'hello\n.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['over-long name (256 bytes)', 'a'.repeat(256), 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['invalid UTF-8', 'hello\xff.txt', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['symlink to /etc/passwd', 'passwd', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['symlink to a file outside the root', 'escape', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['symlink to /, then a path', 'slash/etc/passwd', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['symlink loop', 'loop-a', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['directory', 'sub', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['the root itself', '/', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['empty name', '', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['FIFO (must not block)', 'fifo', 'RB_TFTP_ACCESS_VIOLATION', 2],
    ['UNIX socket', 'sock', 'RB_TFTP_ACCESS_VIOLATION', 2]
  ]
  if (!isRoot) table.push(['unreadable file', 'unreadable', 'RB_TFTP_ACCESS_VIOLATION', 2])
  for (const [name, path, code, tftpCode] of table) {
    const err = await openError(path)
    t.type(err, TftpFileError, `${name}: TftpFileError`)
    t.match(err, { code, tftpCode }, `${name}: ${code}`)
  }
})

t.test('linkedFiles: a last-component link to a regular file outside is served; nothing else changes', async (t) => {
  // Debian's /usr/lib/ipxe: ipxe.efi -> /boot/ipxe.efi.
  const outsideDir = join(dir, 'boot')
  mkdirSync(outsideDir, { recursive: true })
  writeFileSync(join(outsideDir, 'ipxe.efi'), 'EFI binary')
  mkdirSync(join(outsideDir, 'sub'), { recursive: true })
  writeFileSync(join(outsideDir, 'sub', 'y'), 'y')
  symlinkSync(join(outsideDir, 'ipxe.efi'), join(root, 'ipxe.efi'))
  symlinkSync(join(outsideDir, 'sub'), join(root, 'outside-dir'))
  symlinkSync(join(root, 'ipxe.efi'), join(root, 'chain-to-link'))
  t.teardown(() => { for (const n of ['ipxe.efi', 'outside-dir', 'chain-to-link']) rmSync(join(root, n), { force: true }) })
  const linked = rootDirSource(root, { linkedFiles: true })
  for (const path of ['ipxe.efi', '/ipxe.efi', 'chain-to-link', 'escape']) {
    const f = await linked.open(path)
    t.ok(f.size > 0, `${path}: served`)
    await f.close()
  }
  const refused: Array<[string, string]> = [
    ['outside-dir/y', 'a directory link on the way'],
    ['outside-dir', 'a link to a directory'],
    ['slash/etc/passwd', 'a link to / on the way'],
    ['../outside.txt', 'a parent reference'],
    ['sub/../ipxe.efi', 'a parent reference that would stay inside']
  ]
  for (const [path, why] of refused) {
    const err = await linked.open(path).then(async (f) => { await f.close() }, (e: unknown) => e)
    t.match(err, { code: 'RB_TFTP_ACCESS_VIOLATION', tftpCode: 2 }, `${why}: refused`)
  }
  const err = await source.open('ipxe.efi').then(async (f) => { await f.close() }, (e: unknown) => e)
  t.match(err, { code: 'RB_TFTP_ACCESS_VIOLATION', message: /resolves outside/ }, 'without linkedFiles the same link is refused')
})

t.test('device files are refused', async (t) => {
  const devSource = rootDirSource('/dev')
  for (const name of ['null', 'zero']) {
    const err = await devSource.open(name).then(() => undefined, (e: unknown) => e)
    t.match(err, { code: 'RB_TFTP_ACCESS_VIOLATION', tftpCode: 2 }, `/dev/${name}`)
  }
})

t.test('a root that does not exist yet', async (t) => {
  const later = join(dir, 'later')
  const s = rootDirSource(later)
  const err = await s.open('x').then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'RB_TFTP_FILE_ERROR', tftpCode: 0 })
  mkdirSync(later)
  writeFileSync(join(later, 'x'), 'now')
  const f = await s.open('x')
  t.equal(f.size, 3, 'found once the root exists')
  await f.close()
})

t.test('a file that shrinks gives a short read', async (t) => {
  const p = join(root, 'shrinks')
  writeFileSync(p, Buffer.alloc(100, 1))
  const f = await source.open('shrinks')
  writeFileSync(p, Buffer.alloc(10, 1))
  t.equal((await f.read(0, 100)).length, 10)
  await f.close()
})

t.test('cacheBytes: small files are served from memory, still path-checked, re-read when changed, within the budget', async (t) => {
  const cdir = join(dir, 'cached')
  mkdirSync(cdir)
  writeFileSync(join(cdir, 'a'), Buffer.alloc(400, 1))
  writeFileSync(join(cdir, 'b'), Buffer.alloc(400, 2))
  writeFileSync(join(cdir, 'big'), Buffer.alloc(9000, 3))
  symlinkSync(join(dir, 'outside.txt'), join(cdir, 'escape'))
  const s = rootDirSource(cdir, { cacheBytes: 1000, maxCachedFileBytes: 500 })
  const read = async (name: string): Promise<Buffer> => {
    const f = await s.open(name)
    const data = Buffer.from(await f.read(0, f.size))
    await f.close()
    return data
  }
  t.same(await read('a'), Buffer.alloc(400, 1))
  const raw = async (name: string): Promise<Uint8Array> => { const f = await s.open(name); const d = await f.read(0, f.size); await f.close(); return d }
  t.equal((await raw('a')).buffer, (await raw('a')).buffer, 'a second open is served from the same memory')
  t.not((await raw('big')).buffer, (await raw('big')).buffer, 'an uncached file is read anew')
  // Same content from memory: the file on disk may be replaced by a same-size file with the
  // same mtime only through a new inode, which the key (device, inode, size, mtime, ctime) catches.
  writeFileSync(join(cdir, 'a'), Buffer.alloc(400, 9))
  t.same(await read('a'), Buffer.alloc(400, 9), 'a changed file (new mtime/ctime) is read again')
  t.same(await read('b'), Buffer.alloc(400, 2))
  t.same(await read('big'), Buffer.alloc(9000, 3), 'a file over maxCachedFileBytes is read from disk')
  const err = await s.open('escape').then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'RB_TFTP_ACCESS_VIOLATION' }, 'path checks run on every request')
  // A cached file deleted from disk is gone for clients too: the cache never answers by name.
  rmSync(join(cdir, 'b'))
  const gone = await s.open('b').then(() => undefined, (e: unknown) => e)
  t.match(gone, { code: 'RB_TFTP_FILE_NOT_FOUND' }, 'a deleted file is not served from the cache')
})

t.test('resolveTtlMs: a path\'s checks are reused within the window, never past it, and a replaced file is never refused', async (t) => {
  const rdir = join(dir, 'resolved')
  mkdirSync(rdir)
  writeFileSync(join(rdir, 'a'), Buffer.alloc(3000, 1))
  symlinkSync(join(dir, 'outside.txt'), join(rdir, 'escape'))
  const ttl = 1000
  const s = rootDirSource(rdir, { resolveTtlMs: ttl })
  const read = async (name: string): Promise<Buffer> => {
    const f = await s.open(name)
    const data = Buffer.from(await f.read(0, f.size))
    await f.close()
    return data
  }
  const failure = async (name: string): Promise<unknown> => await s.open(name).then(() => undefined, (e: unknown) => e)
  const began = performance.now()
  t.same(await read('a'), Buffer.alloc(3000, 1))
  t.match(await failure('later'), { code: 'RB_TFTP_FILE_NOT_FOUND', message: /later/ })
  t.match(await failure('escape'), { code: 'RB_TFTP_ACCESS_VIOLATION' })
  // Replaced by a new file (a new inode, as `cp` over it or an upgrade does): the remembered
  // identity no longer matches what opens; the path is checked again at once, not refused.
  writeFileSync(join(rdir, 'a.new'), Buffer.alloc(5000, 2))
  execFileSync('mv', [join(rdir, 'a.new'), join(rdir, 'a')])
  writeFileSync(join(rdir, 'later'), 'now here')
  rmSync(join(rdir, 'escape'))
  writeFileSync(join(rdir, 'escape'), 'a plain file now')
  t.same(await read('a'), Buffer.alloc(5000, 2), 'the replacement is served, within the window too')
  if (performance.now() - began < ttl - 50) {
    t.match(await failure('later'), { code: 'RB_TFTP_FILE_NOT_FOUND' }, 'within the window: the remembered answer')
    t.match(await failure('escape'), { code: 'RB_TFTP_ACCESS_VIOLATION' }, 'within the window: the remembered refusal')
  }
  await new Promise((resolve) => setTimeout(resolve, ttl + 20))
  t.equal((await read('later')).toString(), 'now here', 'past the window: checked anew')
  t.equal((await read('escape')).toString(), 'a plain file now', 'past the window: checked anew')
  rmSync(join(rdir, 'later'))
  const stale = await read('later').then((d) => d.toString(), () => 'gone')
  t.ok(stale === 'now here' || stale === 'gone', 'a file removed within the window: the old file (still open) or not found')
  await new Promise((resolve) => setTimeout(resolve, ttl + 20))
  t.match(await failure('later'), { code: 'RB_TFTP_FILE_NOT_FOUND' }, 'a removed file is gone past the window')
})

t.test('resolveTtlMs: the names remembered are bounded (a client can send any number of them)', async (t) => {
  const bdir = join(dir, 'bounded')
  mkdirSync(bdir)
  const s = rootDirSource(bdir, { resolveTtlMs: 60_000 })
  await s.open('first').catch(() => {})
  writeFileSync(join(bdir, 'first'), 'x')
  t.match(await s.open('first').then(() => undefined, (e: unknown) => e), { code: 'RB_TFTP_FILE_NOT_FOUND' }, 'remembered')
  for (let i = 0; i < 1100; i++) await s.open(`nope-${i}`).catch(() => {})
  const f = await s.open('first')
  t.equal(Buffer.from(await f.read(0, 1)).toString(), 'x', 'forgotten once over a thousand names were asked for: checked anew')
})

t.test('a storm of requests for one new name: one check and one read answer them all', async (t) => {
  const fsReal = await import('node:fs')
  const calls = { realpath: 0, open: 0 }
  const { rootDirSource: counted } = await t.mockImport<typeof import('../src/root-dir-source.js')>('../src/root-dir-source.js', {
    'node:fs': {
      ...fsReal,
      promises: {
        ...fsReal.promises,
        realpath: async (...a: Parameters<typeof fsReal.promises.realpath>) => { calls.realpath++; return await fsReal.promises.realpath(...a) },
        open: async (...a: Parameters<typeof fsReal.promises.open>) => { calls.open++; return await fsReal.promises.open(...a) }
      }
    }
  })
  const sdir = join(dir, 'storm')
  mkdirSync(sdir)
  const content = Buffer.alloc(74_213, 9)
  writeFileSync(join(sdir, 'undionly.kpxe'), content)
  const s = counted(sdir, { resolveTtlMs: 1000, cacheBytes: 1 << 20 })
  const files = await Promise.all(Array.from({ length: 50 }, async () => await s.open('undionly.kpxe')))
  for (const f of files) t.equal(f.bytes?.length, content.length)
  t.ok(files.every(f => Buffer.compare(Buffer.from(f.bytes ?? []), content) === 0), 'every client gets the whole file')
  t.equal(calls.realpath, 2, 'the root and the name, once each (not once per client)')
  t.equal(calls.open, 1, 'the file read once')
  const missing = await Promise.all(Array.from({ length: 20 }, async () => await s.open('nope').then(() => 'found', (e: { code?: string }) => e.code)))
  t.same(new Set(missing), new Set(['RB_TFTP_FILE_NOT_FOUND']), 'a missing name: every client told, from one check')
  t.equal(calls.realpath, 3)
})
