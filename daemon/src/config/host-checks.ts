// What a config needs from this host before a machine can boot: the directories it names and
// the iPXE binary for each firmware. Separate from parsing (a config can be valid for another
// host): `check-config` fails on these problems, and the daemon logs them at start.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { ConfigProblem } from './errors.js'
import type { LoadedConfig } from './load.js'

export interface HostCheck { problems: ConfigProblem[]; warnings: ConfigProblem[] }

const isDir = (p: string) => { try { return statSync(p).isDirectory() } catch { return false } }
const isFile = (p: string) => { try { return statSync(p).isFile() } catch { return false } }

/** Nothing is checked while no LAN is configured: then nothing boots from this host. */
export function checkHost (loaded: LoadedConfig): HostCheck {
  const out: HostCheck = { problems: [], warnings: [] }
  if (loaded.lans.size === 0) return out
  const boot = loaded.config.boot
  const at = (list: ConfigProblem[], key: string, message: string) => { list.push({ file: loaded.file, line: null, key, message }) }
  if (!isDir(boot.imagesDir)) at(out.problems, 'boot.imagesDir', `${boot.imagesDir} is not a directory: create it and put an image in it (images/testos/build.sh makes the test OS), or point boot.imagesDir at yours`)
  const roots = [boot.tftpRoot, boot.ipxeDir].filter((d): d is string => d !== undefined)
  if (boot.tftpRoot !== undefined && !isDir(boot.tftpRoot)) at(out.problems, 'boot.tftpRoot', `${boot.tftpRoot} is not a directory`)
  const install = boot.ipxeDir === '/usr/lib/ipxe' ? ' (Debian/Ubuntu: sudo apt-get install ipxe)' : ''
  if (!isDir(boot.ipxeDir)) {
    at(boot.tftpRoot === undefined ? out.problems : out.warnings, 'boot.ipxeDir', `${boot.ipxeDir} is not a directory${install}`)
  }
  const files: Array<[keyof typeof boot.files, string, boolean]> = [
    ['bios', 'BIOS PXE machines', true],
    ['efiX64', 'x86-64 UEFI machines', true],
    ['efiArm64', 'arm64 UEFI machines', false]
  ]
  for (const [key, who, needed] of files) {
    const name = boot.files[key]
    if (roots.some(r => isFile(join(r, name)))) continue
    const where = roots.join(' or ')
    const fix = needed ? install : ' (Debian ships no arm64 build on x86-64: put one in boot.tftpRoot)'
    at(needed ? out.problems : out.warnings, `boot.files.${key}`, `${name} is not in ${where}: ${who} cannot netboot${fix}`)
  }
  return out
}
