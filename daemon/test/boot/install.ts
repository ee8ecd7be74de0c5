// The installer's side of the boot server through app.inject and a real socket: the install
// script, reports and the lifecycle steps they make, the disk image stream and its per-LAN
// limit, the per-machine files, and the installed OS's seed and phone-home.
import t from 'tap'
import { get } from 'node:http'
import { BIG, DISK, RAW_SHA, installToken, setup, sha, untar } from '../helpers/boot-install.js'

t.test('a disk image: installer script, reports, image, files, installed, the disk, seed, phone-home, provisioned', async t => {
  const { app, store, add, script, report, events } = await setup(t)
  const m = add(1, { installDisk: '/dev/disk/by-path/pci-0000:00:04.0' })
  const s = await script(1)
  const token = installToken(s)
  t.equal(token.length, 40, 'the script carries an install token')
  t.match(s, new RegExp(
    '\\nkernel http://10\\.77\\.0\\.1:8080/images/node/installer-vmlinuz initrd=installer-initrd\\.img boot=rackboot-install ip=dhcp console=tty0 console=ttyS0,115200n8 ' +
    `rackboot\\.report=http://10\\.77\\.0\\.1:8080/boot/install/${token} rackboot\\.image=http://10\\.77\\.0\\.1:8080/boot/install/${token}/image ` +
    `rackboot\\.size=${DISK.length} rackboot\\.sha256=${sha(DISK)} rackboot\\.raw_size=${1536 << 20} rackboot\\.raw_sha256=${RAW_SHA} ` +
    'rackboot\\.disk=/dev/disk/by-path/pci-0000:00:04\\.0 rackboot\\.extra=node-1\\n'))
  t.match(s, /\ninitrd http:\/\/10\.77\.0\.1:8080\/images\/node\/installer-initrd\.img\n/)
  t.match(s, /# rackboot: node-1 \(52:54:00:00:00:01\) installs image node onto its disk/)
  t.equal(store.machines.get(m.id)?.state, 'provisioning')

  for (const step of [{ step: 'started' }, { step: 'disk', disk: '/dev/vda', size: 4 << 30 }, { step: 'progress', bytes: 1 << 20, total: 1536 << 20 }]) {
    const res = await report(token, step)
    t.same([res.statusCode, res.json()], [200, { state: 'provisioning' }], `report ${step.step}`)
  }

  // The image: whole, and resumed from an offset.
  let res = await app.inject({ url: `/boot/install/${token}/image` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-length'], String(DISK.length))
  t.ok(res.rawPayload.equals(DISK), 'the image arrives byte-exact')
  res = await app.inject({ url: `/boot/install/${token}/image`, headers: { range: 'bytes=1000000-' } })
  t.equal(res.statusCode, 206)
  t.ok(res.rawPayload.equals(DISK.subarray(1_000_000)), 'a resumed range is the rest of the image')
  res = await app.inject({ url: `/images/node/${'node.raw.zst'}` })
  t.equal(res.statusCode, 404, 'the disk image is not served without an install token')

  // The per-machine files: hostname, hosts, the seed URL with a fresh seed token, static network.
  res = await app.inject({ url: `/boot/install/${token}/files`, remoteAddress: '10.77.0.11' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/x-tar')
  const files = await untar(res.rawPayload)
  t.same([...files.keys()].sort(), ['etc/cloud/cloud.cfg.d/91-rackboot-seed.cfg', 'etc/hostname', 'etc/hosts', 'etc/systemd/network/10-rackboot.network', 'etc/systemd/network/80-rackboot-dhcp.network'])
  t.equal(files.get('etc/hostname')?.content, 'node-1\n')
  t.match(files.get('etc/hosts')?.content, /^127\.0\.0\.1 localhost\n10\.77\.0\.11 node-1\.rack\.example node-1\n/)
  const seedCfg = files.get('etc/cloud/cloud.cfg.d/91-rackboot-seed.cfg')
  t.equal(seedCfg?.mode, 0o600, 'the seed URL (a secret) is readable by root only')
  const seed = /seedfrom: http:\/\/10\.77\.0\.1:8080\/boot\/metadata\/([A-Za-z0-9_-]{40})\/\n$/.exec(seedCfg?.content ?? '')?.[1] ?? ''
  t.equal(seed.length, 40, 'a seed token in a NoCloud seedfrom URL ending in /')
  t.not(seed, token)
  t.equal(files.get('etc/systemd/network/10-rackboot.network')?.content, [
    '# Written by rackboot when it installed this machine (machine 1, LAN prov): the',
    '# reserved address and the LAN\'s settings from rackboot\'s inventory, so that the node keeps',
    '# its address while rackboot is down. Reprovision the machine to change it.',
    '[Match]', 'MACAddress=52:54:00:00:00:01', '',
    '[Link]', 'MTUBytes=9000', '',
    '[Network]', 'Address=10.77.0.11/24', 'Gateway=10.77.0.1', 'Gateway=10.77.0.2', 'DNS=10.77.0.1', 'DNS=10.77.0.3', 'Domains=rack.example', 'IPv6AcceptRA=no', '',
    '[Route]', 'Destination=10.99.0.0/16', 'Gateway=10.77.0.254', ''
  ].join('\n'))
  t.equal(files.get('etc/systemd/network/80-rackboot-dhcp.network')?.content, '', 'the image\'s DHCP unit is emptied (networkd skips empty units)')

  // The install token opens the installer's routes only; the seed token the installed OS's only.
  res = await app.inject({ url: `/boot/metadata/${token}/user-data` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], 'an install token is no seed token')
  res = await report(seed, { step: 'installed' })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], 'a seed token cannot report')
  res = await app.inject({ url: `/boot/metadata/${seed}/user-data` })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_STALE'], 'the seed opens nothing before the disk is installed')

  for (const step of [{ step: 'written', bytes: 1536 << 20 }, { step: 'verified', sha256: RAW_SHA }]) t.equal((await report(token, step)).statusCode, 200, step.step)
  res = await report(token, { step: 'installed' })
  t.same([res.statusCode, res.json()], [200, { state: 'installed' }])
  t.match(store.machines.get(m.id), { state: 'installed', netboot: true })

  // Used up: a replayed report, the image and the files are refused, nothing changes.
  const before = JSON.stringify(store.machines.get(m.id))
  for (const [what, r] of [
    ['installed again', await report(token, { step: 'installed' })],
    ['failed after installed', await report(token, { step: 'failed', reason: 'write-error', message: 'late' })],
    ['the image', await app.inject({ url: `/boot/install/${token}/image` })],
    ['the files', await app.inject({ url: `/boot/install/${token}/files` })]
  ] as const) t.same([r.statusCode, r.json().code], [403, 'RB_BOOT_TOKEN_USED'], what)
  t.equal(JSON.stringify(store.machines.get(m.id)), before)

  t.match(await script(1), /rackboot: node-1 is installed: its OS finishes provisioning from the disk: booting from disk\nexit 1\n$/, 'the next boot is the disk')

  // The installed OS's cloud-init: its seed, then phone-home with the seed token.
  res = await app.inject({ url: `/boot/metadata/${seed}/user-data` })
  t.equal(res.statusCode, 200)
  t.equal(res.body, `#cloud-config\nhostname: node-1\nfqdn: node-1.rack.example\npreserve_hostname: false\nphone_home:\n  url: "http://10.77.0.1:8080/boot/phone-home?token=${seed}"\n  post: [instance_id, hostname, fqdn]\n  tries: 10\n`)
  res = await app.inject({ url: `/boot/metadata/${seed}/meta-data` })
  t.match(res.body, /^instance-id: rackboot-1-\d+\nlocal-hostname: node-1\n$/)
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${seed}`, payload: 'instance_id=rackboot-1&hostname=node-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.same([res.statusCode, res.json()], [200, { status: 'provisioned', hostname: 'node-1' }])
  t.match(store.machines.get(m.id), { state: 'provisioned', netboot: false })

  const ev = await events(m.id)
  t.same(ev.filter(e => e.type === 'boot.install').map(e => e.detail.step), ['started', 'disk', 'progress', 'files', 'written', 'verified', 'installed'], 'each report is a step on the timeline')
  t.match(ev.find(e => e.type === 'boot.install' && e.detail.step === 'files')?.detail, { network: 'static', why: 'static 10.77.0.11/24 from the inventory (the image\'s network setting)' })
  t.same(ev.filter(e => e.type === 'machine.state').map(e => `${String(e.detail.from)}→${String(e.detail.to)}`), ['ready→provisioning', 'provisioning→installed', 'installed→provisioned'])
  t.same(ev.filter(e => e.type === 'boot.file').map(e => [e.detail.kind, e.detail.range ?? null]), [['disk', null], ['disk', 'bytes=1000000-']], 'both image requests are steps')
  const tl = await app.inject({ url: '/boot/ipxe?mac=52:54:00:00:00:01' })
  t.match(tl.body, /booting from disk/, 'provisioned: disk')
})

t.test('a failed install: failed with the reason, shown in the waiting script; reprovision tries again', async t => {
  const { app, store, add, script, report } = await setup(t)
  const m = add(2)
  const token = installToken(await script(2))
  t.notMatch(await script(2), /rackboot\.disk=/, 'no installDisk: the installer picks the disk')
  const retry = installToken(await script(2))
  t.equal((await report(token, { step: 'started' })).json().code, 'RB_BOOT_TOKEN_STALE', 'a newer script superseded the first token')
  let res = await report(retry, { step: 'failed', reason: 'checksum-mismatch', message: 'the image received has SHA-256 abc, rackboot says def' })
  t.same([res.statusCode, res.json()], [200, { state: 'failed' }])
  t.match(store.machines.get(m.id), { state: 'failed', stateReason: 'install failed: checksum-mismatch: the image received has SHA-256 abc, rackboot says def' })
  const wait = await script(2)
  t.match(wait, /echo rackboot: 52:54:00:00:00:02: node-2 is failed \(install failed: checksum-mismatch: the image received has SHA-256 abc, rackboot says def\): reprovision it to netboot again; asking again in 10 s\n/, 'the waiting script says why')
  t.notMatch(wait, /kernel /, 'no boot loop: the installer is not booted again')
  res = await report(retry, { step: 'started' })
  t.same([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_USED'])
  store.write(() => store.machines.update(m.id, { state: 'ready' }, 'test'))
  t.equal(store.machines.get(m.id)?.stateReason, null, 'reprovisioning clears the reason')
  const again = installToken(await script(2))
  t.equal(again.length, 40, 'and the installer boots again')
  t.equal((await report(again, { step: 'started' })).statusCode, 200)
  t.equal(store.machines.get(m.id)?.state, 'provisioning')
  res = await app.inject({ url: `/boot/install/${again}/files` })
  t.equal(res.statusCode, 200)
})

t.test('wrong tokens and malformed reports: 403 / 400, nothing changes', async t => {
  const { app, store, add, script, report, events } = await setup(t)
  const m = add(3)
  const token = installToken(await script(3))
  const before = JSON.stringify(store.machines.get(m.id))
  const n = (await events(m.id)).length
  for (const bad of ['x'.repeat(40), token.slice(0, 39) + (token.endsWith('A') ? 'B' : 'A'), 'short']) {
    for (const [what, r] of [
      ['report', await report(bad, { step: 'installed' })],
      ['image', await app.inject({ url: `/boot/install/${bad}/image` })],
      ['files', await app.inject({ url: `/boot/install/${bad}/files` })]
    ] as const) t.same([r.statusCode, r.json().code], [403, 'RB_BOOT_TOKEN_INVALID'], `${what} with ${bad.slice(0, 6)}…`)
  }
  for (const body of [{ step: 'rebooted' }, { step: 'failed', reason: 'bored' }, { step: 'progress', bytes: -1 }, { step: 'disk', disk: 'x'.repeat(300) }, {}]) {
    const r = await report(token, body)
    t.equal(r.statusCode, 400, `bad report ${JSON.stringify(body)}`)
  }
  const r = await app.inject({ method: 'POST', url: `/boot/install/${token}`, payload: '{"step":', headers: { 'content-type': 'application/json' } })
  t.same([r.statusCode, r.json().code], [400, 'RB_BAD_REQUEST'])
  t.equal(JSON.stringify(store.machines.get(m.id)), before)
  t.equal((await events(m.id)).length, n, 'no events either')
  // Fields the installer may add later are dropped, not stored.
  t.equal((await report(token, { step: 'started', extra: 'x' })).statusCode, 200)
  t.same((await events(m.id)).at(-1)?.detail, { step: 'started', image: 'node', client: '127.0.0.1' })
})

t.test('network: DHCP per machine, per image, and for a machine without a reservation', async t => {
  const fileNames = async (o: { imageNetwork?: string; machine: Record<string, unknown> }) => {
    const { app, add, script, events } = await setup(t, { imageNetwork: o.imageNetwork })
    const m = add(4, o.machine)
    const token = installToken(await script(4))
    const files = await untar((await app.inject({ url: `/boot/install/${token}/files` })).rawPayload)
    const why = (await events(m.id)).find(e => e.detail.step === 'files')?.detail.why
    return { names: [...files.keys()].sort(), why, hosts: files.get('etc/hosts')?.content }
  }
  const dhcp = ['etc/cloud/cloud.cfg.d/91-rackboot-seed.cfg', 'etc/hostname', 'etc/hosts']
  t.match(await fileNames({ machine: { network: 'dhcp' } }), { names: dhcp, why: 'DHCP from rackboot (the machine\'s network setting)', hosts: /\n127\.0\.1\.1 node-4\.rack\.example node-4\n/ })
  t.match(await fileNames({ imageNetwork: 'dhcp', machine: {} }), { names: dhcp, why: 'DHCP from rackboot (the image\'s network setting)' })
  t.match(await fileNames({ imageNetwork: 'dhcp', machine: { network: 'static' } }), { why: /^static 10\.77\.0\.14\/24/ }, 'the machine\'s choice wins')
  t.match(await fileNames({ machine: { ipv4: null } }), { names: dhcp, why: 'DHCP: the machine has no reserved address to configure statically' })
})

t.test('installStreams: a LAN\'s concurrent image downloads are limited; the others get 503 and a Retry-After', async t => {
  const { app, add, script } = await setup(t, { installStreams: 1, disk: BIG })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  add(5); add(6)
  const a = installToken(await script(5))
  const b = installToken(await script(6))
  // A slow reader holds the LAN's one stream: it reads the headers, then stops reading.
  const first = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => { get(`http://127.0.0.1:${port}/boot/install/${a}/image`, resolve).on('error', reject) })
  t.equal(first.statusCode, 200)
  first.pause()
  let res = await app.inject({ url: `/boot/install/${b}/image` })
  t.same([res.statusCode, res.headers['retry-after'], res.json().code], [503, '10', 'RB_BUSY'], 'the second installer waits its turn')
  t.match(res.json().message, /1 installs are downloading on LAN prov \(installStreams 1\)/)
  first.destroy()
  await new Promise(resolve => setTimeout(resolve, 100))
  res = await app.inject({ url: `/boot/install/${b}/image` })
  t.equal(res.statusCode, 200, 'its turn comes when the first stream ends')
  t.equal(res.rawPayload.length, BIG.length)
})

t.test('closing the server cuts disk streams instead of waiting for them', async t => {
  const { app, add, script } = await setup(t, { disk: BIG })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  add(7)
  const a = installToken(await script(7))
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => { get(`http://127.0.0.1:${port}/boot/install/${a}/image`, resolve).on('error', reject) })
  res.pause()
  const started = Date.now()
  await app.close()
  // Read what is left: the stream was cut short, not finished.
  let got = 0
  await new Promise<void>(resolve => { res.on('data', (c: Buffer) => { got += c.length }); res.on('close', resolve); res.on('error', () => { resolve() }); res.resume() })
  t.ok(got < BIG.length, `the client got ${got} of ${BIG.length} bytes`)
  t.equal(res.complete, false, 'the response is incomplete')
  t.ok(Date.now() - started < 5000, 'close did not wait for the stream to finish')
})

t.test('booting the disk: x86-64 UEFI machines chain the image\'s localboot program, BIOS ones leave iPXE', async t => {
  const { app, store, add, script } = await setup(t)
  const bios = add(8, { state: 'provisioned', netboot: false })
  const uefi = add(9, { state: 'installed' })
  store.write(() => { store.machines.seen(bios.id, { arch: '0', uuid: null }, Date.now()); store.machines.seen(uefi.id, { arch: '7', uuid: null }, Date.now()) })
  t.match(await script(8), /booting from disk\nexit 1\n$/, 'BIOS: exit with a failure status (the firmware tries the disk)')
  t.match(await script(9), /rackboot: node-9 is installed: its OS finishes provisioning from the disk: booting from disk\nchain --autofree http:\/\/10\.77\.0\.1:8080\/images\/node\/localboot\.efi \|\| exit 1\n$/, 'UEFI: chain localboot.efi')
  const res = await app.inject({ url: '/images/node/localboot.efi' })
  t.same([res.statusCode, res.body], [200, 'LOCALBOOT'], 'served like the kernel')
  store.write(() => store.machines.update(uefi.id, { image: null }, 'test'))
  t.match(await script(9), /booting from disk\nexit 1\n$/, 'no disk image with a localboot program: exit 1')
})
