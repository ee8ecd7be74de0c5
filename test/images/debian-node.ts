// images/debian-node: the recipe builds (without Kubernetes binaries, saying so), the disk
// image is what its manifest says, the root file system carries what kubeadm's preflight needs;
// then rackboot installs it end to end: BIOS (SeaBIOS + QEMU's iPXE ROM) and UEFI (OVMF's own
// PXE) VMs with blank virtual disks netboot the installer, which writes and verifies the image,
// reboot into Debian from their disk (the root grows to the disk), fetch their seed and phone
// home; and the failures: a stream cut mid-way (the server's socket destroyed: resumed), a SHA-256 mismatch, no disk. All VMs
// run in the lab's network namespace (QEMU, TCG here), on its bridge: nothing leaves.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OVMF_CODE } from '../../bench/vm.js'
import { blankDisk, installLab, run, tinyImage, type Step } from '../helpers/install-lab.js'
import { MAIN, tempDir } from '../helpers/daemon.js'
import { SecretBox, loadKey } from '../../daemon/src/store/secrets.js'

const HERE = fileURLToPath(new URL('../../images/debian-node/', import.meta.url))
const BUILD = join(HERE, 'build.sh')
const OUT = join(HERE, 'build')
const TOOLS: Array<[string, string]> = [['mmdebstrap', 'mmdebstrap'], ['sfdisk', 'fdisk'], ['mkfs.vfat', 'dosfstools'], ['mcopy', 'mtools'],
  ['grub-mkimage', 'grub-common'], ['zstd', 'zstd'], ['debugfs', 'e2fsprogs'], ['qemu-img', 'qemu-utils'], ['qemu-system-x86_64', 'qemu-system-x86']]
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

function unavailable (): string | null {
  if (process.getuid?.() !== 0) return 'the node image recipe needs root (mmdebstrap in root mode)'
  const missing = TOOLS.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg)
  if (!existsSync('/usr/lib/grub/i386-pc')) missing.push('grub-pc-bin')
  if (!existsSync('/usr/lib/grub/x86_64-efi')) missing.push('grub-efi-amd64-bin')
  if (!existsSync(OVMF_CODE)) missing.push('ovmf')
  return missing.length === 0 ? null : `missing Debian packages: ${missing.join(' ')}`
}

const why = unavailable()
if (why !== null) {
  // In CI every prerequisite is installed by .ci/run: a missing one is a failure there.
  if (process.env.CI === 'true') t.fail(`CI must provide the node image recipe's tools: ${why}`)
  else t.comment(`skipped: ${why}`)
} else {
  t.setTimeout(40 * 60_000)
  t.test('the recipe builds, the image is what its manifest says, and it boots on BIOS and UEFI', { timeout: 40 * 60_000 }, async t => {
    const build = await run('bash', [BUILD, '--force'], 30 * 60_000)
    t.equal(build.code, 0, `build.sh succeeded: ${build.stderr.slice(-1500)}`)
    t.match(build.stderr, /K8S_DIR is not set: this image carries NO kubeadm, kubelet, kubectl or crictl/, 'says loudly that there is no Kubernetes')
    for (const step of ['mmdebstrap', 'partitioning', 'boot loader', 'EFI system partition', 'root file system', 'compressing']) {
      t.match(build.stderr, new RegExp(`\\.\\.\\. ${step}.* took \\d+\\.\\d s`), `prints how long "${step}" took`)
    }
    const manifest = JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8')) as {
      kind: string; arch: string; kubernetes: string | null; kernel: string; rootUuid: string
      disk: { file: string; size: number; sha256: string; rawSize: number; rawSha256: string }; steps: Array<{ step: string; seconds: number }>
    }
    t.match(manifest, { kind: 'disk', arch: 'x86_64', kubernetes: null, disk: { file: 'node.raw.zst' } }, 'a disk image without Kubernetes')
    t.ok(manifest.steps.length >= 6, 'each step and its time recorded')
    const installer = (JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8')) as { installer: { kernel: { file: string; sha256: string }; initrd: { file: string; sha256: string } } }).installer
    for (const f of [installer.kernel, installer.initrd]) t.equal(await sha256(join(OUT, f.file)), f.sha256, `installer ${f.file}: SHA-256 as recorded`)
    const localboot = (JSON.parse(readFileSync(join(OUT, 'manifest.json'), 'utf8')) as { localboot?: { file: string; sha256: string } }).localboot
    t.equal(localboot?.file, 'localboot.efi', 'the manifest names localboot.efi')
    t.equal(await sha256(join(OUT, 'localboot.efi')), localboot?.sha256, 'localboot.efi: SHA-256 as recorded')
    const initrd = await run('sh', ['-c', `zstd -dc ${join(OUT, installer.initrd.file)} | cpio -t`], 120_000)
    for (const f of ['usr/sbin/rackboot-install', 'scripts/rackboot-install', 'usr/libexec/rackboot/dd', 'usr/libexec/rackboot/sha256sum', 'usr/bin/curl', 'usr/bin/zstd']) {
      t.ok(initrd.stdout.split('\n').includes(f), `the installer initramfs has ${f}`)
    }
    const zst = join(OUT, 'node.raw.zst')
    t.equal(statSync(zst).size, manifest.disk.size, 'compressed size as recorded')
    t.equal(await sha256(zst), manifest.disk.sha256, 'compressed SHA-256 as recorded')

    const dir = tempDir(t)
    const raw = join(dir, 'node.raw')
    t.equal((await run('zstd', ['-q', '-d', zst, '-o', raw], 300_000)).code, 0, 'decompresses')
    t.equal(statSync(raw).size, manifest.disk.rawSize, 'raw size as recorded')
    t.equal(await sha256(raw), manifest.disk.rawSha256, 'raw SHA-256 as recorded')

    const table = JSON.parse((await run('sfdisk', ['--json', raw], 30_000)).stdout) as { partitiontable: { label: string; partitions: Array<{ start: number; size: number; type: string }> } }
    t.equal(table.partitiontable.label, 'gpt')
    t.same(table.partitiontable.partitions.map(p => p.type), ['21686148-6449-6E6F-744E-656564454649', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '0FC63DAF-8483-4772-8E79-3D69D8477DE4'], 'BIOS boot, EFI system, Linux root (last, so it can grow)')
    const root = table.partitiontable.partitions[2]
    const fs = `${raw}?offset=${(root?.start ?? 0) * 512}`
    const cat = async (path: string) => (await run('debugfs', ['-R', `cat ${path}`, fs], 30_000)).stdout
    const ls = async (path: string) => (await run('debugfs', ['-R', `ls -p ${path}`, fs], 30_000)).stdout
    t.match(await cat('/etc/modules-load.d/kubernetes.conf'), /overlay\nbr_netfilter/, 'overlay and br_netfilter loaded at boot')
    const sysctl = await cat('/etc/sysctl.d/90-kubernetes.conf')
    t.match(sysctl, /net\.ipv4\.ip_forward = 1/)
    t.match(sysctl, /net\.bridge\.bridge-nf-call-iptables = 1/)
    t.match(await cat('/etc/containerd/config.toml'), /SystemdCgroup = true/, 'containerd with the systemd cgroup driver')
    t.match(await cat('/etc/fstab'), new RegExp(`UUID=${manifest.rootUuid} +/ +ext4`), 'root by UUID')
    t.notMatch(await cat('/etc/fstab'), /swap/, 'no swap')
    t.match(await cat('/boot/grub/grub.cfg'), new RegExp(`root=UUID=${manifest.rootUuid}.*console=ttyS0`), 'GRUB boots the root by UUID with a serial console')
    t.equal(await cat('/etc/machine-id'), '', 'no machine-id baked in')
    t.notMatch(await ls('/etc/ssh'), /ssh_host_/, 'no SSH host keys baked in')
    t.notMatch(await ls('/dev'), /\/(null|zero|console)\//, '/dev is empty (a mount point)')
    t.notMatch(await ls('/usr/sbin'), /rackboot-install/, 'the installer is not left on the installed disk')
    for (const bin of ['/usr/bin/containerd', '/usr/sbin/runc', '/usr/lib/cni/bridge', '/usr/sbin/conntrack', '/usr/bin/socat', '/usr/sbin/ethtool',
      '/usr/sbin/iptables', '/usr/sbin/ebtables', '/usr/bin/cloud-init', '/usr/bin/growpart', '/usr/sbin/sshd', '/usr/sbin/chronyd', '/usr/bin/curl']) {
      const st = await run('debugfs', ['-R', `stat ${bin}`, fs], 30_000)
      t.match(st.stdout, /Inode: \d+/, `${bin} is in the image`)
    }
    const kubeadm = await run('debugfs', ['-R', 'stat /usr/bin/kubeadm', fs], 30_000)
    t.notMatch(kubeadm.stdout, /Inode: \d+/, 'no kubeadm')
    t.match(kubeadm.stderr, /not found/, 'debugfs looked for it and did not find it')

    // rackboot loads it as a disk image, verified against the manifest.
    const cfg = join(dir, 'rackboot.yaml')
    writeFileSync(cfg, `dataDir: ${join(dir, 'var')}\nboot: { imagesDir: ${join(HERE, '..')} }\n`)
    const check = await run(process.execPath, [MAIN, 'images', 'check', '--config', cfg, '--json'], 300_000)
    const listed = (JSON.parse(check.stdout) as Array<{ name: string; ok: boolean; kind: string; kubernetes: string | null; problems: string[]; disk: { rawSha256: string; rawSize: number } | null }>).find(i => i.name === 'debian-node')
    t.match(listed, { ok: true, kind: 'disk', kubernetes: null, disk: { rawSha256: manifest.disk.rawSha256, rawSize: manifest.disk.rawSize } }, `rackboot images check: debian-node is a servable disk image ${JSON.stringify(listed?.problems)}`)

    const again = await run('bash', [BUILD], 120_000)
    t.equal(again.code, 0)
    t.match(again.stderr, /up to date/, 'a second build with the same inputs is a no-op')

  })

  t.test('installs end to end: BIOS and UEFI VMs with blank disks netboot the installer, boot their disk, phone home', { timeout: 30 * 60_000 }, async t => {
    await installs(t)
  })
}

async function sha256 (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Every step kind of a machine's timeline, as `type` or `type:step|kind`. */
const kinds = (steps: Step[]) => steps.map(e => e.type === 'boot.install' ? `install:${String(e.detail.step)}` : e.type === 'boot.script' || e.type === 'boot.file' ? `${e.type}:${String(e.detail.kind)}` : e.type)

async function installs (t: Test): Promise<void> {
  const dir = tempDir(t)
  const images = join(dir, 'images')
  mkdirSync(join(images, 'node'), { recursive: true })
  writeFileSync(join(images, 'node', 'image.yaml'), `kind: disk\nmanifest: ${join(OUT, 'manifest.json')}\n`)
  await tinyImage(images, join(OUT, 'manifest.json'), 'tiny')
  const bad = await tinyImage(images, join(OUT, 'manifest.json'), 'tiny-bad')
  const lab = await installLab(t, images)
  // tiny-bad was verified when the daemon loaded it; now its bytes change under the same size
  // and mtime: what the installer receives no longer has the SHA-256 rackboot gives it.
  const st = statSync(bad.zst)
  const bytes = readFileSync(bad.zst)
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff
  writeFileSync(bad.zst, bytes)
  utimesSync(bad.zst, st.atime, st.mtime)

  const add = async (hostname: string, mac: string, ip: string, image: string) => {
    const r = await lab.cli(['machines', 'add', '--hostname', hostname, '--mac', mac, '--lan', 'prov', '--ip', ip, '--image', image])
    t.equal(r.code, 0, `${hostname} registered ${r.stderr}`)
  }
  const imageStreams = async () => (await lab.steps('bios-1')).filter(e => e.type === 'boot.file' && e.detail.kind === 'disk').length

  // A wrong token on the installer's routes: 403, nothing changes.
  for (const [method, path] of [['POST', 'boot/install/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], ['GET', 'boot/install/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/image'], ['GET', 'boot/install/nope/files']] as const) {
    const r = await lab.server.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', method, '-H', 'content-type: application/json', ...(method === 'POST' ? ['--data', '{"step":"installed"}'] : []), `http://10.77.0.1:8080/${path}`])
    t.equal(r.stdout, '403', `${method} /${path.slice(0, 20)}…: 403`)
  }

  // The failures first, on the small image (they need no OS boot).
  await add('cut-1', '52:54:00:be:21:01', '10.77.0.23', 'tiny')
  await add('badsha-1', '52:54:00:be:21:02', '10.77.0.24', 'tiny-bad')
  await add('nodisk-1', '52:54:00:be:21:03', '10.77.0.25', 'tiny')
  // cut-1's image download is cut once more than 2 MB have gone out: the boot server's socket is
  // destroyed (ss -K: the kernel resets the connection), after the installer's kernel and initrd
  // are in (its `started` report), so only the image stream can be the one cut.
  let cutDone = false
  const cutter = (async () => {
    const end = Date.now() + 300_000
    while (Date.now() < end && !kinds(await lab.steps('cut-1').catch(() => [])).includes('install:started')) await new Promise(resolve => setTimeout(resolve, 300))
    while (Date.now() < end && !cutDone) {
      const ss = await lab.server.run('ss', ['-tniH', 'state', 'established', '( sport = :8080 and dst 10.77.0.23 )'])
      // One block per socket: its line, then its tab-indented details.
      const big = ss.stdout.split(/\n(?=\S)/).map(block => [/10\.77\.0\.23:(\d+)/.exec(block)?.[1], Number(/bytes_acked:(\d+)/.exec(block)?.[1] ?? 0)] as const).find(([port, acked]) => port !== undefined && acked > 2_000_000)
      if (big !== undefined) {
        const k = await lab.server.run('ss', ['-K', '-tn', 'state', 'established', `( sport = :8080 and dst 10.77.0.23 and dport = :${big[0] ?? ''} )`])
        cutDone = k.code === 0
      } else await new Promise(resolve => setTimeout(resolve, 50))
    }
  })()
  const [cut, badsha, nodisk] = await Promise.all([
    lab.vm({ name: 'cut1', mac: '52:54:00:be:21:01', firmware: 'bios', disk: await blankDisk(dir, 'cut', '1G'), timeoutMs: 360_000 }),
    lab.vm({ name: 'badsha1', mac: '52:54:00:be:21:02', firmware: 'bios', disk: await blankDisk(dir, 'badsha', '1G'), timeoutMs: 360_000 }),
    lab.vm({ name: 'nodisk1', mac: '52:54:00:be:21:03', firmware: 'bios', disk: null, timeoutMs: 360_000 })
  ])
  const [c, b, n] = await Promise.all([
    lab.until('cut-1', m => m.state !== 'provisioning' && m.state !== 'ready', 330_000),
    lab.until('badsha-1', m => m.state !== 'provisioning' && m.state !== 'ready', 330_000),
    lab.until('nodisk-1', m => m.state !== 'provisioning' && m.state !== 'ready', 330_000)
  ])
  await cutter
  t.ok(cutDone, 'the image stream was cut mid-way (ss -K on the boot server\'s socket)')
  t.equal(c.state, 'installed', `the cut stream was resumed and the install finished (${c.stateReason ?? ''})`)
  const cutSteps = await lab.steps('cut-1')
  t.ok(kinds(cutSteps).includes('install:resumed'), `cut-1 reported resuming: ${kinds(cutSteps).join(' ')}`)
  t.ok(cutSteps.some(e => e.type === 'boot.file' && e.detail.kind === 'disk' && /^bytes=[1-9]\d*-$/.test(String(e.detail.range))), 'the boot server served the rest with a Range')
  t.match(b, { state: 'failed', stateReason: /^install failed: checksum-mismatch: the image received has SHA-256 [0-9a-f]{64}, rackboot says [0-9a-f]{64}$/ }, 'a SHA-256 mismatch fails the install with that reason')
  t.match(n, { state: 'failed', stateReason: /^install failed: no-disk: no disk found/ }, 'a VM with no disk fails with "no disk"')
  await cut.kill(); await nodisk.kill()
  // The failed machine reboots after 30 s; powered on again it waits at the iPXE prompt saying
  // why, and neither installs again nor boots its (corrupt) disk.
  await badsha.exited
  const again = await lab.vm({ name: 'badsha1b', mac: '52:54:00:be:21:02', firmware: 'bios', disk: join(dir, 'badsha.qcow2'), timeoutMs: 120_000 })
  // iPXE wraps its console at 80 columns: the message is matched with the line breaks taken out.
  const waiting = /badsha-1 is failed \(install failed: checksum-mismatch: [^)]*\): reprovision it to netboot again; asking again in 10 s/
  for (let i = 0; i < 50 && !waiting.test(again.console().replace(/\n/g, '')); i++) await new Promise(resolve => setTimeout(resolve, 2000))
  t.match(again.console().replace(/\n/g, ''), waiting, 'the waiting iPXE script shows the failure')
  t.notMatch(again.console(), /Booting from Hard Disk|rackboot-install/, 'no disk boot, no second install')
  await again.kill()
  t.equal((await lab.machine('badsha-1')).state, 'failed', 'still failed')

  // The real image, BIOS and UEFI at once: the two nodes of a cluster (issue 14), the BIOS one
  // its control plane (it runs kubeadm init), the UEFI one its worker.
  for (const args of [['pools', 'create', 'vips', '--range', '10.77.0.240-10.77.0.241', '--lan', 'prov'], ['clusters', 'create', 'e2e', '--kubernetes', 'v1.31.4', '--vip-pool', 'vips']]) {
    const r = await lab.cli(args)
    t.equal(r.code, 0, `${args.slice(0, 2).join(' ')} ${r.stderr}`)
  }
  await add('bios-1', '52:54:00:be:11:01', '10.77.0.21', 'node')
  await add('uefi-1', '52:54:00:be:11:02', '10.77.0.22', 'node')
  for (const [ref, role] of [['bios-1', 'control-plane'], ['uefi-1', 'worker']] as const) {
    const r = await lab.cli(['machines', 'set', ref, '--role', role, '--cluster', 'e2e'])
    t.equal(r.code, 0, `${ref} is a ${role} of cluster e2e ${r.stderr}`)
  }
  const disks = { bios: await blankDisk(dir, 'bios'), uefi: await blankDisk(dir, 'uefi') }
  const installed = await Promise.all((['bios', 'uefi'] as const).map(async fw => {
    const ref = `${fw}-1`
    const mac = fw === 'bios' ? '52:54:00:be:11:01' : '52:54:00:be:11:02'
    const vm = await lab.vm({ name: `${fw}1`, mac, firmware: fw, disk: disks[fw], timeoutMs: 600_000 })
    const m = await lab.until(ref, m => m.state !== 'provisioning' && m.state !== 'ready', 580_000)
    await Promise.race([vm.exited, new Promise(resolve => setTimeout(resolve, 30_000))])
    await vm.kill()
    if (m.state !== 'installed') return { fw, ref, mac, m, boot: null }
    // Powered on again: iPXE exits to the disk, Debian boots, cloud-init fetches its seed and phones home.
    const boot = await lab.vm({ name: `${fw}1b`, mac, firmware: fw, disk: disks[fw], timeoutMs: 540_000 })
    const p = await lab.until(ref, m => m.state !== 'installed', 520_000)
    await boot.waitFor(/login:/, 60_000).catch(() => null)
    await boot.kill()
    return { fw, ref, mac, m, boot, p }
  }))
  for (const r of installed) {
    t.equal(r.m.state, 'installed', `${r.fw}: the image was written and verified (${r.m.stateReason ?? ''})`)
    if (r.boot === null || r.p === undefined) continue
    t.match(r.p, { state: 'provisioned', netboot: false, ipv4: r.fw === 'bios' ? '10.77.0.21' : '10.77.0.22' }, `${r.fw}: the installed OS phoned home: provisioned`)
    const steps = await lab.steps(r.ref)
    const k = kinds(steps)
    t.equal(steps.filter(e => e.type === 'boot.phone-home').at(-1)?.detail.client, r.p.ipv4, `${r.fw}: the installed OS phoned home from the address the inventory shows (static, written at install)`)
    for (const step of ['boot.script:install', 'boot.file:kernel', 'boot.file:initrd', 'install:started', 'install:disk', 'boot.file:disk', 'install:progress', 'install:files', 'install:written', 'install:verified', 'install:installed', 'boot.script:disk', 'boot.metadata', 'boot.phone-home']) {
      t.ok(k.includes(step), `${r.fw}: the timeline has ${step}`)
    }
    t.match(r.boot.console(), /Welcome to Debian GNU\/Linux 12|Debian GNU\/Linux 12/, `${r.fw}: Debian booted from the disk`)
    t.match(r.boot.console(), new RegExp(`${r.ref} login:|login:`), `${r.fw}: to a login prompt`)
    if (r.fw === 'uefi') {
      t.match(r.boot.console(), /rackboot localboot: starting \(hd\d+,gpt2\)\/EFI\/BOOT\/BOOTX64\.EFI/, 'uefi: iPXE chained localboot.efi, which started the disk\'s boot loader')
      const grown = /EXT4-fs \(vda3\): resized filesystem to (\d+)/.exec(r.boot.console())
      t.ok(Number(grown?.[1] ?? 0) * 4096 > 3.5 * 2 ** 30, `the root file system grew to the 4 GiB disk (${Math.round(Number(grown?.[1] ?? 0) * 4096 / 2 ** 20)} MiB)`)
    }
  }
  // The cluster: each node's cloud-init wrote what rackboot issued for its role (the runner
  // reports every file's SHA-256), the worker got no CA key, and with no kubeadm in the image
  // the nodes say "kubeadm missing" and the cluster shows it instead of being ready.
  const events = async (type: string) => {
    const r = await lab.cli(['events', '--type', type, '--limit', '100', '--json'])
    return r.stdout.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { machineId: number; detail: Record<string, any> })
  }
  const material = await events('cluster.material')
  const reports = await events('cluster.kubeadm')
  for (const r of installed) {
    if (r.p === undefined) continue
    const id = (await lab.machine(r.ref)).id
    const issued = material.filter(e => e.machineId === id).at(-1)?.detail
    const got = reports.filter(e => e.machineId === id).at(-1)?.detail
    t.equal(issued?.role, r.fw === 'bios' ? 'init' : 'worker', `${r.ref}: issued its role's material`)
    const files = (issued?.files ?? []) as Array<{ path: string; sha256: string }>
    const received = new Map(((got?.files ?? []) as Array<{ path: string; sha256: string | null }>).map(f => [f.path, f.sha256]))
    const written = files.filter(f => f.path !== '/etc/rackboot/kubeadm.json' && f.path !== '/usr/local/sbin/rackboot-kubeadm')
    t.ok(written.length >= (r.fw === 'bios' ? 10 : 1), `${r.ref}: ${written.length} files issued`)
    t.same(written.filter(f => received.get(f.path) !== f.sha256).map(f => f.path), [], `${r.ref}: every issued file is on the node with the SHA-256 rackboot issued`)
    if (r.fw === 'uefi') t.notOk(files.some(f => f.path.endsWith('.key')), 'the worker received no CA key')
    else t.ok(files.some(f => f.path === '/etc/kubernetes/pki/ca.key'), 'the control plane received the cluster CA key')
    t.match(got, { outcome: 'failed', step: 'kubeadm missing' }, `${r.ref}: the node reported "kubeadm missing" (the image has no Kubernetes binaries)`)
    t.match(await lab.machine(r.ref), { clusterStatus: 'failed', clusterReason: /^kubeadm missing/ }, `${r.ref}: shown on the machine`)
  }
  const cluster = JSON.parse((await lab.cli(['clusters', 'show', 'e2e', '--json'])).stdout)
  t.match(cluster, { state: 'failed', stateReason: 'kubeadm init on bios-1 failed: kubeadm missing' }, 'the cluster shows it: failed, not ready')
  // Nothing secret in the daemon's log (at debug): no private key, no bootstrap token secret.
  const box = new SecretBox(loadKey(join(lab.dir, 'var', 'secrets.key'), false))
  const sealed = lab.db(db => db.prepare('SELECT cluster_id, token_id, sealed FROM bootstrap_tokens').all() as Array<{ cluster_id: number; token_id: string; sealed: string }>)
  const log = JSON.stringify(lab.daemon?.logs() ?? [])
  t.ok(log.length > 10_000, 'the daemon logged (at debug)')
  t.notOk(log.includes('PRIVATE KEY'), 'no private key in the log')
  t.ok(sealed.length > 0)
  for (const r of sealed) t.notOk(log.includes(box.openText(r.sealed, `cluster:${r.cluster_id}:token:${r.token_id}`)), `bootstrap token ${r.token_id}: its secret is not in the log`)

  // Once more for the BIOS machine: it boots its disk and nothing is downloaded.
  const streams = await imageStreams()
  const third = await lab.vm({ name: 'bios1c', mac: '52:54:00:be:11:01', firmware: 'bios', disk: disks.bios, timeoutMs: 300_000 })
  await third.waitFor(/login:/, 280_000)
  await third.kill()
  t.equal(await imageStreams(), streams, 'the third boot downloaded no image')
  t.notOk(kinds(await lab.steps('bios-1')).slice(-6).some(k => k.startsWith('install:') || k === 'boot.file:kernel'), 'nor the installer')
}
