// checkHost: the directories and iPXE binaries a config needs on this host (issue 12: a
// missing ipxeDir, imagesDir or tftpRoot passed check-config and every PXE boot then failed).
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load.js'
import { checkHost } from '../../src/config/host-checks.js'
import { tempDir } from '../helpers/build.js'

const LAN = 'lans:\n  - name: prov\n    interface: br0\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n'
const check = (dir: string, boot: string, lans = LAN) => {
  const r = checkHost(parseConfig(`dataDir: ${dir}/var\nboot: { ${boot} }\n${lans}`, 'rb.yaml'))
  return { problems: r.problems.map(p => `${p.key}: ${p.message}`), warnings: r.warnings.map(p => `${p.key}: ${p.message}`) }
}

t.test('nothing is checked without a LAN', async t => {
  const dir = tempDir(t)
  t.same(check(dir, `imagesDir: ${dir}/none, ipxeDir: ${dir}/none`, 'lans: []\n'), { problems: [], warnings: [] })
})

t.test('missing directories and iPXE binaries are problems that say what to install', async t => {
  const dir = tempDir(t)
  let r = check(dir, `imagesDir: ${dir}/images, ipxeDir: /usr/lib/ipxe-not-here`)
  t.same(r.problems, [
    `boot.imagesDir: ${dir}/images is not a directory: create it and put an image in it (images/testos/build.sh makes the test OS), or point boot.imagesDir at yours`,
    'boot.ipxeDir: /usr/lib/ipxe-not-here is not a directory',
    'boot.files.bios: undionly.kpxe is not in /usr/lib/ipxe-not-here: BIOS PXE machines cannot netboot',
    'boot.files.efiX64: ipxe.efi is not in /usr/lib/ipxe-not-here: x86-64 UEFI machines cannot netboot'
  ])
  t.same(r.warnings, ['boot.files.efiArm64: ipxe-arm64.efi is not in /usr/lib/ipxe-not-here: arm64 UEFI machines cannot netboot (Debian ships no arm64 build on x86-64: put one in boot.tftpRoot)'])

  mkdirSync(join(dir, 'images'))
  mkdirSync(join(dir, 'root'))
  writeFileSync(join(dir, 'root', 'undionly.kpxe'), 'x')
  r = check(dir, `imagesDir: ${dir}/images, ipxeDir: ${dir}/ipxe, tftpRoot: ${dir}/root, files: { efiX64: snponly.efi }`)
  t.same(r.problems, [`boot.files.efiX64: snponly.efi is not in ${dir}/root or ${dir}/ipxe: x86-64 UEFI machines cannot netboot`], 'a file in tftpRoot counts; without ipxeDir, tftpRoot may hold them all')
  t.same(r.warnings.map(w => w.split(':')[0]), ['boot.ipxeDir', 'boot.files.efiArm64'])
  r = check(dir, `imagesDir: ${dir}/images, tftpRoot: ${dir}/nope`)
  t.match(r.problems, [`boot.tftpRoot: ${dir}/nope is not a directory`])
})

t.test('Debian\'s default directory gets the apt-get hint', async t => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'images'))
  const r = check(dir, `imagesDir: ${dir}/images, ipxeDir: /usr/lib/ipxe, files: { bios: not-there.kpxe }`)
  t.same(r.problems, ['boot.files.bios: not-there.kpxe is not in /usr/lib/ipxe: BIOS PXE machines cannot netboot (Debian/Ubuntu: sudo apt-get install ipxe)'])
})
