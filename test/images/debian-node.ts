// images/debian-node: the recipe builds (without Kubernetes binaries, saying so), the disk
// image is what its manifest says, the root file system carries what kubeadm's preflight needs,
// and the image boots from a virtual disk with SeaBIOS and with OVMF (QEMU, TCG here), growing
// its root to a disk larger than the image. The VMs run in a network namespace of their own
// with QEMU's user network restricted to the guest (restrict=on): nothing leaves.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNetns } from '../../bench/netns.js'
import { OVMF_CODE, OVMF_VARS, accel } from '../../bench/vm.js'
import { MAIN, tempDir } from '../helpers/daemon.js'

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

    // Boot it: SeaBIOS from the image as it is, OVMF from a 6 GiB overlay (the root grows to it).
    const qcow = join(dir, 'uefi.qcow2')
    t.equal((await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', raw, '-F', 'raw', qcow, '6G'], 30_000)).code, 0)
    const vars = join(dir, 'vars.fd')
    copyFileSync(OVMF_VARS, vars)
    const ns = await createNetns(t, 'nodeimg')
    const acc = await accel()
    const common = ['-m', '2048', '-smp', '2', '-accel', acc, '-display', 'none', '-no-reboot', '-nic', 'user,model=virtio-net-pci,restrict=on']
    const [bios, uefi] = await Promise.all([
      bootUntil(ns, [...common, '-drive', `file=${raw},format=raw,if=virtio,snapshot=on`, '-serial', `file:${join(dir, 'bios.log')}`], join(dir, 'bios.log'), [/login:/, /Cloud-init v\. \S+ finished/]),
      bootUntil(ns, [...common, '-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${vars}`,
        '-drive', `file=${qcow},format=qcow2,if=virtio`, '-serial', `file:${join(dir, 'uefi.log')}`], join(dir, 'uefi.log'), [/login:/, /Cloud-init v\. \S+ finished/, /EXT4-fs \(vda3\): resized filesystem to \d+/])
    ])
    t.ok(bios.ok, `SeaBIOS → GRUB → Debian: login prompt and cloud-init finished (${bios.seconds} s)${bios.ok ? '' : `\n${bios.tail}`}`)
    t.ok(uefi.ok, `OVMF → GRUB → Debian: login, cloud-init, root grown to the 6 GiB disk (${uefi.seconds} s)${uefi.ok ? '' : `\n${uefi.tail}`}`)
    const grown = /resized filesystem to (\d+)/.exec(uefi.log)
    t.ok(Number(grown?.[1] ?? 0) * 4096 > 5.5 * 2 ** 30, `the root file system grew to ${Math.round(Number(grown?.[1] ?? 0) * 4096 / 2 ** 20)} MiB`)
  })
}

async function run (cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await new Promise(resolve => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', b => { stdout += String(b) })
    p.stderr.on('data', b => { stderr += String(b) })
    p.on('close', code => resolve({ code, stdout, stderr }))
  })
}

async function sha256 (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Boots QEMU in `ns` until every pattern has shown on the serial log (≤ 8 min), then stops it. */
async function bootUntil (ns: Awaited<ReturnType<typeof createNetns>>, args: string[], logFile: string, patterns: RegExp[]) {
  const start = Date.now()
  const vm = ns.spawn('qemu-system-x86_64', args)
  let exited = false
  vm.on('exit', () => { exited = true })
  let log = ''
  while (Date.now() - start < 8 * 60_000 && !exited) {
    await new Promise(resolve => setTimeout(resolve, 2000))
    log = existsSync(logFile) ? readFileSync(logFile, 'latin1') : ''
    if (patterns.every(p => p.test(log))) break
  }
  const ok = patterns.every(p => p.test(log))
  if (!exited) {
    vm.kill('SIGKILL')
    await new Promise(resolve => vm.once('exit', resolve))
  }
  return { ok, log, seconds: Math.round((Date.now() - start) / 1000), tail: log.slice(-1500) }
}
