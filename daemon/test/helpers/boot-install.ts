// The boot server with a disk image, for the tests of installs and of cluster seeds: a fixture
// image (installer, localboot program, a small "disk"), a LAN, machines, and the requests an
// installer and an installed OS make.
import type { Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { extract } from 'tar-stream'
import { Store } from '../../src/store/index.js'
import { Metrics } from '../../src/metrics.js'
import { buildBootServer } from '../../src/boot/server.js'
import { loadImages } from '../../src/boot/images.js'
import { config, tempDir, mac } from './build.js'

export const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')
const disk = (size: number) => {
  const b = Buffer.alloc(size)
  for (let i = 0; i < b.length; i += 4096) b.writeUInt32BE(i, i)
  return b
}
export const DISK = disk(3 << 20)
/** Larger than loopback's socket buffers: a reader that stops reading keeps the stream open. */
export const BIG = disk(64 << 20)
export const RAW_SHA = sha('the raw image')

export async function setup (t: Test, o: { installStreams?: number; imageNetwork?: string; disk?: Buffer } = {}) {
  const image = o.disk ?? DISK
  const root = tempDir(t)
  const dir = join(root, 'images', 'node')
  mkdirSync(join(dir, 'build'), { recursive: true })
  writeFileSync(join(dir, 'build', 'installer-vmlinuz'), 'KERNEL')
  writeFileSync(join(dir, 'build', 'installer-initrd.img'), 'INITRD')
  writeFileSync(join(dir, 'build', 'localboot.efi'), 'LOCALBOOT')
  writeFileSync(join(dir, 'build', 'node.raw.zst'), image)
  writeFileSync(join(dir, 'build', 'manifest.json'), JSON.stringify({
    kind: 'disk', arch: 'x86_64', kubernetes: null,
    installer: { kernel: { file: 'installer-vmlinuz', sha256: sha('KERNEL') }, initrd: { file: 'installer-initrd.img', sha256: sha('INITRD') } },
    localboot: { file: 'localboot.efi', sha256: sha('LOCALBOOT') },
    disk: { file: 'node.raw.zst', compression: 'zstd', size: image.length, sha256: sha(image), rawSize: 1536 << 20, rawSha256: RAW_SHA }
  }))
  writeFileSync(join(dir, 'image.yaml'), `kind: disk\nmanifest: build/manifest.json\ncmdline: "rackboot.extra={{ hostname }}"\n${o.imageNetwork === undefined ? '' : `network: ${o.imageNetwork}\n`}`)
  const loaded = config(t, `boot: { http: "0.0.0.0:8080" }\nlans:\n  - name: prov\n    interface: br0\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n    gateway: [10.77.0.1, 10.77.0.2]\n    dns: [10.77.0.1, 10.77.0.3]\n    domain: rack.example\n    mtu: 9000\n    routes: [{ destination: 10.99.0.0/16, gateway: 10.77.0.254 }]\n    pool: 10.77.0.100-10.77.0.200\n    installStreams: ${o.installStreams ?? 8}\n`)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const images = await loadImages(join(root, 'images'))
  t.equal(images.get('node')?.ok, true, `the fixture image is servable ${JSON.stringify(images.get('node')?.problems)}`)
  const app = await buildBootServer({ store, current: () => loaded, images: () => images, log: pino({ level: 'silent' }), metrics: new Metrics({ defaults: false }) })
  t.teardown(async () => { await app.close(); store.close() })
  const add = (n: number, extra: Record<string, unknown> = {}) => store.write(() => store.machines.create({ hostname: `node-${n}`, macs: [mac(n)], lan: 'prov', ipv4: `10.77.0.${10 + n}`, image: 'node', ...extra }, 'test'))
  const script = async (n: number) => (await app.inject({ url: `/boot/ipxe?mac=${encodeURIComponent(mac(n))}` })).body
  const report = async (token: string, body: Record<string, unknown>) => await app.inject({ method: 'POST', url: `/boot/install/${token}`, payload: body })
  const events = async (id: number) => {
    await new Promise(resolve => setImmediate(resolve))
    return store.events.list({ machineId: id, limit: 1000, order: 'asc' })
  }
  return { app, store, add, script, report, events }
}

export const installToken = (script: string) => /rackboot\.report=http:\/\/10\.77\.0\.1:8080\/boot\/install\/([A-Za-z0-9_-]{40}) /.exec(script)?.[1] ?? ''

export async function untar (tar: Buffer): Promise<Map<string, { mode: number; content: string }>> {
  const files = new Map<string, { mode: number; content: string }>()
  const x = extract()
  const done = new Promise<void>((resolve, reject) => { x.on('finish', resolve); x.on('error', reject) })
  x.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: unknown) => chunks.push(c as Buffer))
    stream.on('end', () => { files.set(header.name, { mode: header.mode ?? 0, content: Buffer.concat(chunks).toString() }); next() })
  })
  x.end(tar)
  await done
  return files
}

