// TftpServer against real TFTP clients (tftp-hpa, atftp, curl, busybox), on 127.0.0.1 only.
// Outside CI a missing client skips its tests with the reason; with CI=true it fails.
import { execFile, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { fileNotFound } from '../src/errors.js'
import { layeredSource, type FileSource } from '../src/file-source.js'
import { rootDirSource } from '../src/root-dir-source.js'
import { TftpServer, type TransferInfo } from '../src/server.js'

const LOOPBACK = '127.0.0.1'
const inCI = process.env.CI === 'true' || process.env.CI === '1'

const dir = mkdtempSync(join(tmpdir(), 'rackboot-tftp-peers-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const served = join(dir, 'served')
const out = join(dir, 'out')
for (const d of [served, out]) rmSync(d, { recursive: true, force: true })
spawnSync('mkdir', ['-p', served, out])

const small = randomBytes(3000)
const mega = randomBytes(1 << 20)
writeFileSync(join(served, 'small.bin'), small)
writeFileSync(join(served, 'mega.bin'), mega)

// The rollover file: 40 MiB + 4 bytes (81921 blocks of 512), generated on demand
// from its offset so nothing large is held or written by the server side. Every
// byte depends on its block number, so a block sent at the wrong place shows.
const BIG_SIZE = 40 * 1024 * 1024 + 4
const bigByte = (i: number): number => ((i >>> 9) * 131 + (i & 511) * 7 + (i >>> 17)) & 0xff
function bigChunk (offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) b[i] = bigByte(offset + i)
  return b
}
const generated: FileSource = {
  async open (path) {
    if (path.replace(/^\/+/, '') !== 'big.bin') throw fileNotFound(path)
    return { size: BIG_SIZE, read: async (offset, length) => bigChunk(offset, length), close: async () => {} }
  }
}
function sha (b: Uint8Array): string { return createHash('sha256').update(b).digest('hex') }
const bigSha = ((): string => {
  const h = createHash('sha256')
  for (let o = 0; o < BIG_SIZE; o += 1 << 20) h.update(bigChunk(o, Math.min(1 << 20, BIG_SIZE - o)))
  return h.digest('hex')
})()
const expected: Record<string, string> = { 'small.bin': sha(small), 'mega.bin': sha(mega), 'big.bin': bigSha }
const sizes: Record<string, number> = { 'small.bin': small.length, 'mega.bin': mega.length, 'big.bin': BIG_SIZE }

async function fileSha (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

const server = new TftpServer({
  source: layeredSource([generated, rootDirSource(served)]),
  address: LOOPBACK,
  port: 0
})
const transfers: TransferInfo[] = []
server.on('transfer', (info) => transfers.push(info))
await server.start()
t.teardown(async () => { await server.close() })
const port = String(server.address().port)

interface Peer {
  name: string
  /** Program to look for, and an argument list to check it supports what we need. */
  probe: [string, string[]]
  get: (file: string, dest: string, extra: string[]) => [string, string[]]
}

const peers: Peer[] = [
  {
    name: 'tftp-hpa',
    probe: ['tftp', ['-V']],
    get: (file, dest) => ['tftp', [LOOPBACK, port, '-m', 'binary', '-c', 'get', file, dest]]
  },
  {
    name: 'atftp',
    probe: ['atftp', ['--version']],
    get: (file, dest, extra) => ['atftp', [...extra, '--get', '-r', file, '-l', dest, LOOPBACK, port]]
  },
  {
    name: 'curl',
    probe: ['curl', ['--version']],
    get: (file, dest, extra) => ['curl', ['-sS', '--max-time', '50', '-o', dest, ...extra, `tftp://${LOOPBACK}:${port}/${file}`]]
  },
  {
    name: 'busybox tftp',
    probe: ['busybox', ['tftp', '--help']],
    get: (file, dest) => ['busybox', ['tftp', '-g', '-r', file, '-l', dest, LOOPBACK, port]]
  }
]

function available (peer: Peer): string | undefined {
  const r = spawnSync(peer.probe[0], peer.probe[1], { stdio: 'ignore', timeout: 5000 })
  if (r.error !== undefined) return `${peer.probe[0]} is not installed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
  // busybox prints applet help with exit 1; "applet not found" is exit 127.
  if (r.status === 127) return `${peer.probe.join(' ')} is not available`
  return undefined
}

function run (cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null, stderr: string }> {
  return new Promise((resolve) => {
    // execFile's timeout kills only this child.
    execFile(cmd, args, { timeout: timeoutMs }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr: String(stderr) })
    })
  })
}

async function fetch (t: Test, peer: Peer, file: string, extra: string[], label: string, timeoutMs = 20000): Promise<void> {
  const dest = join(out, `${peer.name.replace(/\W/g, '_')}-${label.replace(/\W/g, '_')}-${file}`)
  const [cmd, args] = peer.get(file, dest, extra)
  const began = Date.now()
  const r = await run(cmd, args, timeoutMs)
  t.equal(r.code, 0, `${peer.name} ${label} ${file}: exit 0${r.stderr === '' ? '' : ` (stderr: ${r.stderr.trim().slice(0, 200)})`}`)
  t.equal(await fileSha(dest).catch(() => 'missing'), expected[file], `${peer.name} ${label} ${file}: sha256 matches (${Date.now() - began} ms)`)
  rmSync(dest, { force: true })
}

const usable = new Map<Peer, boolean>()
for (const peer of peers) {
  const missing = available(peer)
  usable.set(peer, missing === undefined)
  if (missing !== undefined) {
    if (inCI) t.fail(`${peer.name}: ${missing} (required in CI)`)
    else t.comment(`skipping ${peer.name}: ${missing}`)
  }
}

const variants: Record<string, Array<[string, string[], string[]]>> = {
  // [label, extra arguments, files]
  'tftp-hpa': [['default', [], ['small.bin', 'mega.bin']]],
  atftp: [
    ['default', [], ['small.bin', 'mega.bin']],
    ['blksize 1468', ['--option', 'blksize 1468'], ['small.bin', 'mega.bin']],
    ['windowsize 16', ['--option', 'windowsize 16'], ['mega.bin']],
    ['blksize 1468 windowsize 16', ['--option', 'blksize 1468', '--option', 'windowsize 16'], ['mega.bin']]
  ],
  curl: [
    ['default', [], ['small.bin']],
    ['blksize 1468', ['--tftp-blksize', '1468'], ['small.bin', 'mega.bin']]
  ],
  'busybox tftp': [['default', [], ['small.bin', 'mega.bin']]]
}

for (const peer of peers) {
  t.test(`${peer.name}: small and 1 MB files`, { skip: usable.get(peer) === true ? false : `${peer.name} not available` }, async (t) => {
    for (const [label, extra, files] of variants[peer.name] ?? []) {
      for (const file of files) await fetch(t, peer, file, extra, label)
    }
  })
}

const present = peers.filter((p) => usable.get(p) === true)
t.test('block counter rollover: 40 MiB at 512-byte blocks, all clients at once', { skip: present.length === 0 ? 'no peer client available' : false }, async (t) => {
  const before = transfers.length
  // 512-byte blocks: 81921 blocks, the counter wraps past 65535 to 0.
  const extra: Record<string, string[]> = { curl: ['--tftp-blksize', '512'] }
  await Promise.all(present.map(async (peer) => { await fetch(t, peer, 'big.bin', extra[peer.name] ?? [], 'rollover', 50000) }))
  const big = transfers.slice(before).filter((i) => i.file.endsWith('big.bin'))
  t.equal(big.length, present.length, 'one transfer per client')
  for (const info of big) {
    t.match(info, { outcome: 'complete', bytes: BIG_SIZE, blksize: 512 }, `${info.client.port}: complete at 512-byte blocks`)
  }
})

t.test('transfer events of the peer downloads', { skip: present.length === 0 ? 'no peer client available' : false }, async (t) => {
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(transfers.length > 0)
  for (const info of transfers) {
    t.equal(info.outcome, 'complete', `${info.file} from port ${info.client.port}: complete`)
    t.equal(info.bytes, sizes[info.file.replace(/^\/+/, '')], `${info.file}: all bytes acknowledged`)
  }
  t.equal(server.counters.failed, 0)
})
