// The installer's choice of target disk (images/debian-node/installer/rackboot-install
// choose-disk), on made-up /sys trees: installDisk when given, else the first non-removable disk
// large enough; a disk too small or no disk at all fails with its reason (and nothing else runs).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/daemon.js'

const SCRIPT = fileURLToPath(new URL('../../images/debian-node/installer/rackboot-install', import.meta.url))
const GiB = 2 ** 30
const NEED = 3 * GiB

interface Disk { name: string; bytes: number; removable?: boolean; device?: boolean }

function choose (t: { teardown (fn: () => unknown): void }, disks: Disk[], installDisk?: string) {
  const dir = tempDir(t)
  for (const d of disks) {
    const at = join(dir, 'block', d.name)
    mkdirSync(at, { recursive: true })
    if (d.device !== false) mkdirSync(join(at, 'device'))
    writeFileSync(join(at, 'size'), `${Math.floor(d.bytes / 512)}\n`)
    writeFileSync(join(at, 'removable'), d.removable === true ? '1\n' : '0\n')
  }
  writeFileSync(join(dir, 'cmdline'), `boot=rackboot-install ip=dhcp${installDisk === undefined ? '' : ` rackboot.disk=${installDisk}`}\n`)
  const r = spawnSync('sh', [SCRIPT, 'choose-disk', String(NEED)], {
    env: { PATH: process.env.PATH, RACKBOOT_SYS: dir, RACKBOOT_CMDLINE: join(dir, 'cmdline'), RACKBOOT_NO_REBOOT: '1' }, encoding: 'utf8'
  })
  return { code: r.status, disk: r.stdout.trim(), err: r.stderr }
}

const CASES: Array<{ name: string; disks: Disk[]; installDisk?: string; disk?: string; fails?: RegExp }> = [
  { name: 'the first non-removable disk large enough', disks: [{ name: 'sda', bytes: 8 * GiB }, { name: 'sdb', bytes: 8 * GiB }], disk: '/dev/sda' },
  { name: 'loop, ram, CD and md devices are not disks', disks: [{ name: 'loop0', bytes: 9 * GiB }, { name: 'ram0', bytes: 9 * GiB }, { name: 'sr0', bytes: 9 * GiB }, { name: 'md0', bytes: 9 * GiB }, { name: 'vda', bytes: 4 * GiB }], disk: '/dev/vda' },
  { name: 'a removable disk (a USB stick) is skipped', disks: [{ name: 'sda', bytes: 16 * GiB, removable: true }, { name: 'nvme0n1', bytes: 100 * GiB }], disk: '/dev/nvme0n1' },
  { name: 'a disk too small is skipped for a larger one', disks: [{ name: 'sda', bytes: 1 * GiB }, { name: 'sdb', bytes: 4 * GiB }], disk: '/dev/sdb' },
  { name: 'a virtual block device without a device (no hardware) is skipped', disks: [{ name: 'sda', bytes: 8 * GiB, device: false }, { name: 'sdb', bytes: 8 * GiB }], disk: '/dev/sdb' },
  { name: 'every disk too small: disk-too-small, naming them', disks: [{ name: 'sda', bytes: 1 * GiB }, { name: 'sdb', bytes: 2 * GiB }], fails: /FAILED \(disk-too-small\): no disk is large enough for the image \(3221225472 bytes\): sda \(1073741824 bytes\) sdb \(2147483648 bytes\)/ },
  { name: 'no disk: no-disk', disks: [{ name: 'sr0', bytes: 4 * GiB, removable: true }], fails: /FAILED \(no-disk\): no disk found/ },
  { name: 'installDisk by name, even when not the first', disks: [{ name: 'sda', bytes: 8 * GiB }, { name: 'sdb', bytes: 8 * GiB }], installDisk: 'sdb', disk: '/dev/sdb' },
  { name: 'installDisk as a /dev path', disks: [{ name: 'sda', bytes: 8 * GiB }, { name: 'nvme1n1', bytes: 8 * GiB }], installDisk: '/dev/nvme1n1', disk: '/dev/nvme1n1' },
  { name: 'installDisk too small: refused with the reason, no other disk taken', disks: [{ name: 'sda', bytes: 1 * GiB }, { name: 'sdb', bytes: 8 * GiB }], installDisk: 'sda', fails: /FAILED \(disk-too-small\): installDisk sda has 1073741824 bytes; the image needs 3221225472/ },
  { name: 'installDisk that does not exist: no-disk', disks: [{ name: 'sda', bytes: 8 * GiB }], installDisk: 'sdz', fails: /FAILED \(no-disk\): installDisk sdz \(sdz\) is not a whole disk/ }
]

for (const c of CASES) {
  t.test(c.name, async t => {
    const r = choose(t, c.disks, c.installDisk)
    if (c.disk !== undefined) {
      t.equal(r.code, 0, r.err)
      t.equal(r.disk, c.disk)
    } else {
      t.not(r.code, 0, 'fails')
      t.equal(r.disk, '', 'prints no disk')
      t.match(r.err, c.fails as RegExp)
    }
  })
}
