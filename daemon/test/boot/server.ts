// The boot HTTP server through app.inject: scripts per lifecycle state, one-time tokens,
// phone-home, cloud-init seeds, and files with lengths, ranges and ETags.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { Store } from '../../src/store/index.js'
import { Metrics } from '../../src/metrics.js'
import { buildBootServer } from '../../src/boot/server.js'
import { loadImages } from '../../src/boot/images.js'
import { config, sqlite, tempDir, mac } from '../helpers/build.js'

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')
const KERNEL = Buffer.alloc(100_000, 7)

async function setup (t: { teardown (fn: () => unknown): void }, opts: { ttl?: string; log?: pino.Logger; metrics?: Metrics } = {}) {
  const root = tempDir(t)
  const dir = join(root, 'images', 'testos')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'vmlinuz'), KERNEL)
  writeFileSync(join(dir, 'initrd.img'), 'INITRD')
  writeFileSync(join(dir, 'user-data'), '#cloud-config\nhostname: {{ hostname }}\n')
  writeFileSync(join(dir, 'image.yaml'), `kernel: { file: vmlinuz, sha256: ${sha(KERNEL)} }\ninitrds: [{ file: initrd.img, sha256: ${sha('INITRD')} }]\ncmdline: "console=ttyS0 rackboot.phone_home={{ phone_home_url }} rackboot.hostname={{ hostname }} ds=nocloud;s={{ metadata_url }}"\ncloudInit: { userData: user-data }\n`)
  mkdirSync(join(root, 'images', 'broken'))
  writeFileSync(join(root, 'images', 'broken', 'image.yaml'), 'kernel: missing\n')
  const loaded = config(t, `boot: { http: "0.0.0.0:8080", tokenTtl: ${opts.ttl ?? '2h'} }\nlans:\n  - name: prov\n    interface: br0\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n    gateway: 10.77.0.1\n    dns: [10.77.0.1]\n    unknownMachines: discover\n`)
  let clock = Date.now()
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans, now: () => clock })
  const images = await loadImages(join(root, 'images'))
  const app = await buildBootServer({ store, current: () => loaded, images: () => images, log: opts.log ?? pino({ level: 'silent' }), metrics: opts.metrics ?? new Metrics({ defaults: false }) })
  t.teardown(async () => { await app.close(); store.close() })
  const add = (n: number, extra: Record<string, unknown> = {}) => store.write(() => store.machines.create({ hostname: `node-${n}`, macs: [mac(n)], lan: 'prov', ipv4: `10.77.0.${10 + n}`, image: 'testos', ...extra }, 'test'))
  const script = async (n: number) => (await app.inject({ url: `/boot/ipxe?mac=${encodeURIComponent(mac(n))}` })).body
  return { app, store, add, script, advance: (ms: number) => { clock += ms } }
}

const tokenOf = (script: string) => /phone-home\?token=([A-Za-z0-9_-]+)/.exec(script)?.[1] ?? ''

t.test('a ready machine netboots once, phones home, then boots from disk', async t => {
  const { app, store, add, script } = await setup(t)
  const m = add(1)
  const s = await script(1)
  t.match(s, /^#!ipxe\n/)
  t.match(s, new RegExp(`\\nkernel http://10\\.77\\.0\\.1:8080/images/testos/vmlinuz initrd=initrd\\.img console=ttyS0 rackboot\\.phone_home=http://10\\.77\\.0\\.1:8080/boot/phone-home\\?token=[A-Za-z0-9_-]{40} rackboot\\.hostname=node-1 ds=nocloud;s=http://10\\.77\\.0\\.1:8080/boot/metadata/[A-Za-z0-9_-]{40}/\\n`))
  t.match(s, /\ninitrd http:\/\/10\.77\.0\.1:8080\/images\/testos\/initrd\.img\nboot \|\| goto failed\n/)
  t.equal(store.machines.get(m.id)?.state, 'provisioning', 'serving the script moved ready → provisioning')
  const token = tokenOf(s)
  t.notOk(JSON.stringify(sqlite(t, store.dataDir).prepare('SELECT * FROM boot_tokens').all()).includes(token), 'only a hash of the token is stored')

  // cloud-init seed with the token; none without
  let res = await app.inject({ url: `/boot/metadata/${token}/user-data` })
  t.equal(res.body, '#cloud-config\nhostname: node-1\n')
  res = await app.inject({ url: `/boot/metadata/${token}/meta-data` })
  t.match(res.body, /^instance-id: rackboot-\d+-\d+\nlocal-hostname: node-1\n$/)
  for (const bad of ['x'.repeat(32), 'x'.repeat(40), 'AAAAAAAJ' + token.slice(8), token.slice(0, 8) + 'x'.repeat(32)]) {
    res = await app.inject({ url: `/boot/metadata/${bad}/user-data` })
    t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], `forged or malformed token ${bad.slice(0, 8)}…`)
  }

  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}`, payload: 'mac=x ip=y', headers: { 'content-type': 'text/plain' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'provisioned', hostname: 'node-1' })
  t.match(store.machines.get(m.id), { state: 'provisioned', netboot: false })

  // a reused token changes nothing
  const before = JSON.stringify(store.machines.get(m.id))
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_USED'])
  res = await app.inject({ url: `/boot/metadata/${token}/user-data` })
  t.equal(res.statusCode, 403, 'and no longer opens the seed')
  t.equal(JSON.stringify(store.machines.get(m.id)), before)

  t.match(await script(1), /\nexit 1\n$/, 'the next script exits to disk')
  // Boot events are group-committed at the end of the loop turn (before the next request is read).
  await new Promise(resolve => setImmediate(resolve))
  const types = store.events.list({ machineId: m.id, limit: 100, order: 'asc' }).map(e => e.type)
  t.same(types.filter(x => x.startsWith('boot.')), ['boot.script', 'boot.metadata', 'boot.metadata', 'boot.phone-home', 'boot.script'])
})

t.test('a token opens the seed and phones home only for its own boot attempt, while provisioning', async t => {
  const { app, store, add, script } = await setup(t)
  const m = add(3)
  const first = tokenOf(await script(3))
  const second = tokenOf(await script(3)) // iPXE asked again (a retry, or a reboot): a new attempt
  let res = await app.inject({ url: `/boot/metadata/${first}/user-data` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_STALE'], 'the earlier attempt\'s token no longer opens the seed')
  t.match(res.json().message, /a newer boot of this machine has begun/)
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${first}` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_STALE'], 'nor phones home')
  t.match(store.machines.get(m.id), { state: 'provisioning', netboot: true }, 'nothing changed')
  res = await app.inject({ url: `/boot/metadata/${second}/user-data` })
  t.equal(res.statusCode, 200, 'the current attempt\'s token does')

  // the operator takes the machine out of provisioning: the live token dies with the attempt
  store.write(() => store.machines.update(m.id, { state: 'ready' }, 'test'))
  res = await app.inject({ url: `/boot/metadata/${second}/meta-data` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_STALE'])
  t.match(res.json().message, /the machine is ready, not provisioning/)
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${second}` })
  t.equal(res.statusCode, 403)
  t.match(store.machines.get(m.id), { state: 'ready', netboot: true }, 'a stale phone-home does not turn netboot off')

  // a machine failed while booting: its token opens nothing
  const third = tokenOf(await script(3))
  store.write(() => store.machines.update(m.id, { state: 'failed' }, 'test'))
  t.equal((await app.inject({ url: `/boot/metadata/${third}/user-data` })).statusCode, 403)
  const rejected = (await app.inject({ url: '/boot/metadata/x/user-data' })).statusCode
  t.equal(rejected, 403)
})

t.test('malformed phone-homes are 4xx with their own codes, logged at debug and counted', async t => {
  const lines: Array<{ level: number; msg: string }> = []
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s)) } })
  const metrics = new Metrics({ defaults: false })
  const { app, add, script } = await setup(t, { log, metrics })
  add(4)
  const token = tokenOf(await script(4))
  let res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}`, headers: { 'content-type': 'application/json' }, payload: '{"ip": ' })
  t.same([res.statusCode, res.json().code], [400, 'RB_BAD_REQUEST'], 'invalid JSON')
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}`, headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(65 * 1024) })
  t.same([res.statusCode, res.json().code], [413, 'RB_PAYLOAD_TOO_LARGE'], 'over 64 KB')
  t.match(res.json().message, /larger than 65536 bytes/)
  t.same(lines.filter(l => l.level >= 40).map(l => l.msg), [], 'nothing at warn or error')
  t.equal(lines.filter(l => l.msg === 'boot request refused').length, 2, 'a debug line each')
  const counted = await metrics.registry.getSingleMetricAsString('rackboot_boot_client_errors_total')
  t.match(counted, /code="RB_BAD_REQUEST"} 1/)
  t.match(counted, /code="RB_PAYLOAD_TOO_LARGE"} 1/)
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}`, headers: { 'content-type': 'application/json' }, payload: '{"ip": "10.77.0.14"}' })
  t.equal(res.statusCode, 200, 'the token still works after the refused attempts')
})

t.test('wrong and expired tokens get 403 and change nothing', async t => {
  const { app, store, add, script, advance } = await setup(t, { ttl: '60s' })
  const m = add(2)
  const token = tokenOf(await script(2))
  let res = await app.inject({ method: 'POST', url: '/boot/phone-home?token=' + token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A') })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'])
  res = await app.inject({ method: 'POST', url: '/boot/phone-home' })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], 'no token at all')
  advance(61_000)
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_EXPIRED'])
  t.match(store.machines.get(m.id), { state: 'provisioning', netboot: true }, 'still provisioning')
})

t.test('a token dies with its machine, also when a new machine gets the same id', async t => {
  const { app, store, add, script, advance } = await setup(t)
  const m = add(8)
  const token = tokenOf(await script(8))
  store.write(() => store.machines.delete(m.id, 'test'))
  let res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], 'machine deleted')
  advance(1000)
  const again = add(9)
  t.equal(again.id, m.id, 'SQLite gave the new machine the deleted one\'s id')
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${token}` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], 'not valid for the new machine')
  t.match(store.machines.get(again.id), { state: 'ready', netboot: true }, 'nothing changed')
})

t.test('tokens are 40 characters, minted in id order, and expired ones are pruned', async t => {
  const { store, add, script, advance } = await setup(t, { ttl: '60s' })
  add(10)
  const first = tokenOf(await script(10))
  advance(120_000)
  const second = tokenOf(await script(10))
  t.equal(first.length, 40)
  t.equal(second.length, 40)
  const ids = sqlite(t, store.dataDir).prepare('SELECT id FROM boot_tokens ORDER BY id').pluck().all() as number[]
  t.same(ids, [1, 2])
  t.equal(store.write(() => store.bootTokens.pruneExpired(store.now())), 1, 'the expired one')
  t.same(sqlite(t, store.dataDir).prepare('SELECT id FROM boot_tokens').pluck().all(), [2])
  t.equal(store.bootTokens.check(second, store.now()).ok, true, 'the live one still works')
})

t.test('scripts for the other cases', async t => {
  const { app, store, add, script } = await setup(t)
  t.match((await app.inject({ url: '/boot/ipxe?mac=52:54:00:ff:ff:ff' })).body, /^#!ipxe\n.*\necho rackboot: 52:54:00:ff:ff:ff is not in the inventory: booting from disk\nexit 1\n$/s, 'unknown MAC')
  t.equal((await app.inject({ url: '/boot/ipxe' })).statusCode, 400, 'no MAC')
  add(3, { state: 'discovered', image: null, ipv4: null })
  t.match(await script(3), /has no image assigned; asking again in 10 s\nsleep 10\nchain --replace --autofree http:\/\/10\.77\.0\.1:8080\/boot\/ipxe\?mac=52:54:00:00:00:03\n$/, 'discovered: wait and retry')
  add(4, { state: 'discovered' })
  t.match(await script(4), /is discovered: mark it ready to provision/)
  add(5, { netboot: false })
  t.match(await script(5), /has netboot off: booting from disk\nexit 1\n$/)
  const broken = add(6, { image: 'broken' })
  t.match(await script(6), /image broken is broken \(see rackboot images check\)/)
  t.equal(store.machines.get(broken.id)?.state, 'ready', 'no transition while the image is broken')
  add(7, { image: 'nonexistent' })
  t.match(await script(7), /image nonexistent is not installed/)
})

t.test('iPXE binaries over HTTP follow the TFTP rules: ipxeDir links out (Debian), tftpRoot does not', async t => {
  const root = tempDir(t)
  for (const d of ['ipxe', 'extra', 'boot']) mkdirSync(join(root, d))
  writeFileSync(join(root, 'boot', 'ipxe.efi'), 'EFI')
  symlinkSync(join(root, 'boot', 'ipxe.efi'), join(root, 'ipxe', 'ipxe.efi'))
  writeFileSync(join(root, 'ipxe', 'undionly.kpxe'), 'PXE from ipxeDir')
  writeFileSync(join(root, 'secret'), 'secret')
  symlinkSync(join(root, 'secret'), join(root, 'extra', 'undionly.kpxe'))
  writeFileSync(join(root, 'extra', 'snponly.efi'), 'SNP')
  const loaded = config(t, `boot: { http: "0.0.0.0:8080", ipxeDir: ${join(root, 'ipxe')}, tftpRoot: ${join(root, 'extra')} }\nlans:\n  - name: prov\n    interface: br0\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n`)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const app = await buildBootServer({ store, current: () => loaded, images: () => new Map(), log: pino({ level: 'silent' }), metrics: new Metrics({ defaults: false }) })
  t.teardown(async () => { await app.close(); store.close() })
  let res = await app.inject({ url: '/ipxe/ipxe.efi' })
  t.same([res.statusCode, res.body], [200, 'EFI'], 'a link in ipxeDir to a file elsewhere is served')
  res = await app.inject({ url: '/ipxe/snponly.efi' })
  t.same([res.statusCode, res.body], [200, 'SNP'], 'tftpRoot first')
  res = await app.inject({ url: '/ipxe/undionly.kpxe' })
  t.equal(res.statusCode, 404, 'a link out of tftpRoot is refused, not replaced by ipxeDir\'s file')
  t.notMatch(res.body, /secret/)
  t.equal((await app.inject({ url: '/ipxe/missing.efi' })).statusCode, 404)
})

t.test('big image files over a real socket: byte-exact for concurrent and ranged downloads (chunk buffers are reused)', async t => {
  const root = tempDir(t)
  const dir = join(root, 'images', 'big')
  mkdirSync(dir, { recursive: true })
  // 20 MiB + 5 bytes of a counter pattern: three 8 MiB chunks, the last one short.
  const big = Buffer.allocUnsafe((20 << 20) + 5)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, Math.min(i, big.length - 4))
  writeFileSync(join(dir, 'vmlinuz'), KERNEL)
  writeFileSync(join(dir, 'initrd.img'), big)
  writeFileSync(join(dir, 'image.yaml'), `kernel: { file: vmlinuz, sha256: ${sha(KERNEL)} }\ninitrds: [{ file: initrd.img, sha256: ${sha(big)} }]\ncmdline: "console=ttyS0"\n`)
  const loaded = config(t, 'boot: { http: "127.0.0.1:0" }\nlans:\n  - name: prov\n    interface: br0\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n')
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const images = await loadImages(join(root, 'images'))
  const app = await buildBootServer({ store, current: () => loaded, images: () => images, log: pino({ level: 'silent' }), metrics: new Metrics({ defaults: false }) })
  t.teardown(async () => { await app.close(); store.close() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/images/big/initrd.img`
  const get = async (headers: Record<string, string> = {}) => Buffer.from(await (await fetch(url, { headers })).arrayBuffer())
  for (let round = 0; round < 2; round++) { // the second round runs on buffers the first gave back
    const all = await Promise.all(Array.from({ length: 6 }, async () => await get()))
    for (const b of all) t.equal(sha(b), sha(big), `round ${round}: byte-exact`)
  }
  const part = await get({ range: `bytes=${(8 << 20) - 3}-${(16 << 20) + 2}` })
  t.equal(sha(part), sha(big.subarray((8 << 20) - 3, (16 << 20) + 3)), 'a range across chunk boundaries')
})

t.test('image files: length, ranges, ETags', async t => {
  const { app } = await setup(t)
  let res = await app.inject({ url: '/images/testos/vmlinuz' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-length'], String(KERNEL.length))
  t.equal(res.headers.etag, `"${sha(KERNEL)}"`)
  t.equal(res.headers['accept-ranges'], 'bytes')
  t.same(res.rawPayload, KERNEL)
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { range: 'bytes=10-19' } })
  t.equal(res.statusCode, 206)
  t.equal(res.headers['content-range'], `bytes 10-19/${KERNEL.length}`)
  t.equal(res.rawPayload.length, 10)
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { range: 'bytes=-5' } })
  t.same([res.statusCode, res.headers['content-range']], [206, `bytes ${KERNEL.length - 5}-${KERNEL.length - 1}/${KERNEL.length}`])
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { range: `bytes=${KERNEL.length}-` } })
  t.same([res.statusCode, res.headers['content-range']], [416, `bytes */${KERNEL.length}`])
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { 'if-none-match': `"${sha(KERNEL)}"` } })
  t.equal(res.statusCode, 304)
  // If-Modified-Since (RFC 9110 §13.1.3): whole seconds, only without If-None-Match
  const lastModified = String(res.headers['last-modified'] ?? (await app.inject({ url: '/images/testos/vmlinuz' })).headers['last-modified'])
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { 'if-modified-since': lastModified } })
  t.equal(res.statusCode, 304, 'not modified since its own Last-Modified')
  t.equal(res.rawPayload.length, 0)
  const before = new Date(Date.parse(lastModified) - 1000).toUTCString()
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { 'if-modified-since': before } })
  t.same([res.statusCode, res.rawPayload.length], [200, KERNEL.length], 'modified since a second earlier: sent')
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { 'if-modified-since': lastModified, 'if-none-match': '"other"' } })
  t.equal(res.statusCode, 200, 'If-None-Match decides when both are sent')
  res = await app.inject({ url: '/images/testos/vmlinuz', headers: { 'if-modified-since': 'yesterday-ish' } })
  t.equal(res.statusCode, 200, 'an invalid date is ignored')
  res = await app.inject({ method: 'HEAD', url: '/images/testos/initrd.img' })
  t.same([res.statusCode, res.headers['content-length'], res.body], [200, '6', ''])
  t.equal((await app.inject({ url: '/images/broken/missing' })).statusCode, 404, 'a broken image is not served')
  t.equal((await app.inject({ url: '/images/testos/image.yaml' })).statusCode, 404, 'only the image\'s own files')
  t.equal((await app.inject({ url: '/images/testos/..%2f..%2fetc%2fpasswd' })).statusCode, 404)
  t.equal((await app.inject({ url: '/ipxe/..%2fetc' })).statusCode, 404)
})
