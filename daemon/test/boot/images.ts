import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadImage, loadImages } from '../../src/boot/images.js'
import { render, unknownPlaceholders } from '../../src/boot/template.js'
import { tempDir } from '../helpers/build.js'

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')

function image (root: string, name: string, yaml: string, files: Record<string, string> = {}): string {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'image.yaml'), yaml)
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content)
  return dir
}

t.test('templates: known placeholders render, unknown ones are reported', async t => {
  t.same(unknownPlaceholders('a {{ hostname }} {{mac}} {{ labels.rack }} ${net0/mac} {{ nope }} {{labels.}}'), ['nope', 'labels.'])
  const values = { hostname: 'n1', mac: 'aa', ip: '10.0.0.5', lan: 'prov', gateway: 'g', dns: 'd1,d2', machine_id: '7', boot_url: 'http://b', phone_home_url: 'http://b/p?t=x', metadata_url: 'http://b/m/x/', image: 'i', role: 'worker', labels: { rack: 'r1' } }
  t.equal(render('h={{ hostname }} ip={{ip}} r={{ labels.rack }} z={{ labels.zone }} ${keep}', values), 'h=n1 ip=10.0.0.5 r=r1 z= ${keep}')
})

t.test('images load with their files verified', async t => {
  const root = tempDir(t)
  image(root, 'good', 'kernel: { file: vmlinuz, sha256: ' + sha('K') + ' }\ninitrds: [initrd.img]\nsha256sums: SUMS\ncmdline: "console=ttyS0 host={{ hostname }} ph={{ phone_home_url }}"\n', { vmlinuz: 'K', 'initrd.img': 'I', SUMS: `${sha('I')}  initrd.img\n` })
  image(root, 'badsha', `kernel: { file: vmlinuz, sha256: ${sha('other')} }\n`, { vmlinuz: 'K' })
  image(root, 'badtpl', `kernel: { file: vmlinuz, sha256: ${sha('K')} }\ncmdline: "x={{ hostnme }}"\n`, { vmlinuz: 'K' })
  image(root, 'missing', 'kernel: build/vmlinuz\nsha256sums: build/SUMS\n')
  image(root, 'nosha', 'kernel: vmlinuz\n', { vmlinuz: 'K' })
  image(root, 'typo', 'kernal: vmlinuz\n')
  mkdirSync(join(root, 'not-an-image'))
  const images = await loadImages(root)
  t.same([...images.keys()].sort(), ['badsha', 'badtpl', 'good', 'missing', 'nosha', 'typo'])
  const good = images.get('good')
  t.equal(good?.ok, true, JSON.stringify(good?.problems))
  t.match(good, { kernel: { name: 'vmlinuz', size: 1, sha256: sha('K'), etag: `"${sha('K')}"` }, initrds: [{ name: 'initrd.img', sha256: sha('I') }] })
  t.match(images.get('badsha'), { ok: false, problems: [/^kernel: .*vmlinuz has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: not served$/] })
  t.match(images.get('badtpl'), { ok: false, problems: [/cmdline: unknown placeholder \{\{ hostnme \}\}/] })
  t.match(images.get('missing')?.problems, [/sha256sums: cannot read/, /kernel: .*build\/vmlinuz is missing \(ENOENT\); build the image first/])
  t.match(images.get('nosha'), { ok: false, problems: [/no sha256 for vmlinuz/] })
  t.match(images.get('typo'), { ok: false, problems: [/typo\/image\.yaml: kernel: is required$/, /typo\/image\.yaml: kernal: is not a known key \(did you mean "kernel"\?\); allowed: kind, description, arch, kernel/] })
})

t.test('a file changed after load is caught at the next load', async t => {
  const root = tempDir(t)
  const dir = image(root, 'img', `kernel: { file: vmlinuz, sha256: ${sha('K')} }\n`, { vmlinuz: 'K' })
  t.equal((await loadImage(dir)).ok, true)
  writeFileSync(join(dir, 'vmlinuz'), 'K2')
  t.equal((await loadImage(dir)).ok, false)
})

/** A disk image as images/debian-node/build.sh leaves it: image.yaml, build/manifest.json and the files. */
function diskImage (root: string, name: string, opts: { yaml?: string; manifest?: (m: Record<string, any>) => void; files?: Record<string, string> } = {}): string {
  const files = { 'installer-vmlinuz': 'IK', 'installer-initrd.img': 'II', 'node.raw.zst': 'ZSTD', ...opts.files }
  const dir = image(root, name, opts.yaml ?? 'kind: disk\ndescription: a node\nmanifest: build/manifest.json\n')
  mkdirSync(join(dir, 'build'))
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, 'build', f), content)
  const manifest: Record<string, any> = {
    name, kind: 'disk', arch: 'x86_64', kubernetes: 'v1.31.2',
    installer: { kernel: { file: 'installer-vmlinuz', sha256: sha('IK') }, initrd: { file: 'installer-initrd.img', sha256: sha('II') } },
    disk: { file: 'node.raw.zst', compression: 'zstd', size: 4, sha256: sha('ZSTD'), rawSize: 1536 * 2 ** 20, rawSha256: sha('RAW') }
  }
  opts.manifest?.(manifest)
  writeFileSync(join(dir, 'build', 'manifest.json'), JSON.stringify(manifest))
  return dir
}

t.test('disk images: image.yaml names the recipe manifest; installer and disk files verified by its SHA-256s', async t => {
  const root = tempDir(t)
  const good = await loadImage(diskImage(root, 'node'))
  t.equal(good.ok, true, JSON.stringify(good.problems))
  t.match(good, {
    kind: 'disk', arch: 'x86_64', kubernetes: 'v1.31.2', description: 'a node',
    kernel: { name: 'installer-vmlinuz', sha256: sha('IK') }, initrds: [{ name: 'installer-initrd.img', sha256: sha('II') }],
    disk: { name: 'node.raw.zst', size: 4, sha256: sha('ZSTD'), compression: 'zstd', rawSize: 1536 * 2 ** 20, rawSha256: sha('RAW') }
  })
  t.equal((await loadImage(diskImage(root, 'nok8s', { manifest: m => { m.kubernetes = null } }))).kubernetes, null, 'an image without Kubernetes says so')
  t.match(await loadImage(diskImage(root, 'corrupt', { files: { 'node.raw.zst': 'ZSTX' } })), { ok: false, disk: null, problems: [/^disk: .*node\.raw\.zst has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: not served$/] }, 'a corrupt disk image is not served')
  t.match(await loadImage(diskImage(root, 'short', { manifest: m => { m.disk.size = 5 } })), { ok: false, problems: [/^disk: .* has 4 bytes, the manifest says 5$/] })
  t.match(await loadImage(diskImage(root, 'badinst', { files: { 'installer-initrd.img': 'other' } })), { ok: false, problems: [/^installer\.initrd: .* expected/] })
  t.match(await loadImage(diskImage(root, 'badman', { manifest: m => { delete m.disk.rawSha256 } })), { ok: false, problems: [/^manifest: .*manifest\.json: disk\.rawSha256: is required/] })
  const unbuilt = image(root, 'unbuilt', 'kind: disk\nmanifest: build/manifest.json\n')
  t.match(await loadImage(unbuilt), { ok: false, kind: 'disk', problems: [/^manifest: .*build\/manifest\.json is missing; build the image first$/] })
  t.match(await loadImage(image(root, 'typo2', 'kind: disk\nmanifset: build/manifest.json\n')), { ok: false, problems: [/manifest: is required/, /manifset: is not a known key \(did you mean "manifest"\?\)/] })
})
