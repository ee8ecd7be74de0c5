import t from 'tap'
import { fileNotFound, TftpFileError } from '../src/errors.js'
import { bufferFile, layeredSource, memorySource, pathSegments, type FileSource } from '../src/file-source.js'
import { utf8ToWireName } from '../src/packet.js'

const text = async (source: FileSource, path: string, ctx?: { remoteAddress: string, remotePort: number }): Promise<string> => {
  const f = await source.open(path, ctx)
  const data = await f.read(0, f.size)
  await f.close()
  return Buffer.from(data).toString('utf8')
}
const code = async (p: Promise<unknown>): Promise<unknown> => await p.then(() => 'resolved', (e: unknown) => e instanceof TftpFileError ? e.code : e)

t.test('pathSegments', async (t) => {
  const ok: Array<[string, string[]]> = [
    ['a', ['a']],
    ['/a/b', ['a', 'b']],
    ['//a//./b/', ['a', 'b']],
    ['/', []],
    ['', []],
    ['...', ['...']],
    ['a..b', ['a..b']]
  ]
  for (const [path, segments] of ok) t.same(pathSegments(path), segments, JSON.stringify(path))
  const bad = ['..', 'a/../b', 'a\\b', 'a\0b', 'a\tb', 'a\x7fb', 'x'.repeat(256), '\xc3']
  for (const path of bad) t.throws(() => pathSegments(path), { code: 'RB_TFTP_ACCESS_VIOLATION', tftpCode: 2 }, JSON.stringify(path.slice(0, 20)))
  t.same(pathSegments('x'.repeat(255)), ['x'.repeat(255)], '255 bytes is fine')
})

t.test('memorySource', async (t) => {
  const calls: string[] = []
  const source = memorySource({
    'boot.ipxe': '#!ipxe\nchain http://x/boot\n',
    '/bin/blob': Buffer.from([1, 2, 3]),
    'grüße': 'utf8 key',
    'per-client.ipxe': (ctx) => { calls.push(ctx?.remoteAddress ?? '?'); return `#!ipxe\necho ${ctx?.remoteAddress ?? '?'}\n` },
    'async.txt': async () => await Promise.resolve(Buffer.from('later')),
    'gone.txt': () => null
  })
  t.equal(await text(source, '/boot.ipxe'), '#!ipxe\nchain http://x/boot\n', 'leading slash optional')
  t.equal(await text(source, 'bin/blob'), '\x01\x02\x03', 'key with leading slash')
  t.equal(await text(source, utf8ToWireName('grüße')), 'utf8 key', 'UTF-8 keys match wire names')
  t.equal(await text(source, 'per-client.ipxe', { remoteAddress: '127.0.0.1', remotePort: 1 }), '#!ipxe\necho 127.0.0.1\n', 'generated per request')
  t.same(calls, ['127.0.0.1'])
  t.equal(await text(source, 'async.txt'), 'later', 'async generator')
  t.equal(await code(source.open('gone.txt')), 'RB_TFTP_FILE_NOT_FOUND', 'generator returning null')
  t.equal(await code(source.open('nope')), 'RB_TFTP_FILE_NOT_FOUND', 'missing key')
  t.equal(await code(source.open('../boot.ipxe')), 'RB_TFTP_ACCESS_VIOLATION', 'hostile path')
  const m = memorySource(new Map([['a', 'b']]))
  t.equal(await text(m, 'a'), 'b', 'from a Map')
})

t.test('layeredSource: first source that has the file wins', async (t) => {
  const generated = memorySource({ 'boot.ipxe': 'generated', 'only-gen': 'g' })
  const files = memorySource({ 'boot.ipxe': 'on disk', 'undionly.kpxe': 'kpxe' })
  const refusing: FileSource = { open: async (p) => { if (p === 'secret') throw new TftpFileError('RB_TFTP_ACCESS_VIOLATION', 'no'); throw fileNotFound(p) } }
  const broken: FileSource = { open: async () => { throw new Error('disk on fire') } }
  const s = layeredSource([refusing, generated, files])
  t.equal(await text(s, 'boot.ipxe'), 'generated', 'earlier source wins')
  t.equal(await text(s, 'undionly.kpxe'), 'kpxe', 'falls through on not found')
  t.equal(await code(s.open('nothing')), 'RB_TFTP_FILE_NOT_FOUND', 'nobody has it')
  t.equal(await code(s.open('secret')), 'RB_TFTP_ACCESS_VIOLATION', 'access violation stops the search')
  const err = await code(layeredSource([broken, files]).open('undionly.kpxe'))
  t.match(err, { message: 'disk on fire' }, 'other errors stop the search')
  t.equal(await code(layeredSource([]).open('x')), 'RB_TFTP_FILE_NOT_FOUND', 'empty layer')
})

t.test('bufferFile', async (t) => {
  const f = bufferFile(Buffer.from('abcdef'))
  t.equal(f.size, 6)
  t.equal(Buffer.from(await f.read(2, 3)).toString(), 'cde')
  await f.close()
})
