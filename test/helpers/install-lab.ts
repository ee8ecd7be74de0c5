// Installs end to end, for test/images/debian-node.ts (which builds the image first): a lab
// namespace with rackboot serving one LAN, QEMU VMs with blank virtual disks that netboot
// rackboot's installer, write the node image onto their disk and boot it.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { dhcpLab, type Lab } from './dhcp-lab.js'
import { bootVm, type Firmware, type Vm } from './vm.js'

interface Tap { teardown (fn: () => unknown): void; fail (msg: string): unknown; comment (...msg: unknown[]): unknown }

export interface MachineJson { id: number; state: string; stateReason: string | null; netboot: boolean; ipv4: string | null; hostname: string; clusterStatus?: string | null; clusterReason?: string | null }
export interface Step { type: string; ts: string; detail: Record<string, unknown> }

export async function run (cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await new Promise(resolve => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', b => { stdout += String(b) })
    p.stderr.on('data', b => { stderr += String(b) })
    p.on('close', code => resolve({ code, stdout, stderr }))
  })
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * A small disk image with the node image's installer: GPT with a root ext4 partition (3, as the
 * installer expects) and 12 MiB of random bytes (so the compressed image is large enough to cut
 * mid-stream). It is not bootable: for the failure cases, which fail or stop before booting it.
 */
export async function tinyImage (dir: string, nodeManifest: string, name: string): Promise<{ dir: string; zst: string }> {
  const imageDir = join(dir, name)
  mkdirSync(imageDir, { recursive: true })
  const raw = join(imageDir, 'tiny.raw')
  const sectors = 65536 // 32 MiB
  writeFileSync(raw, Buffer.alloc(0))
  const steps: Array<[string, string[]]> = [
    ['truncate', ['-s', String(sectors * 512), raw]],
    ['sh', ['-c', `printf 'label: gpt\\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\\nstart=4096, size=24576, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\\nstart=28672, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\\n' | sfdisk -q ${raw}`]],
    ['mkfs.ext4', ['-q', '-F', '-E', `offset=${28672 * 512}`, raw, '16384k']]
  ]
  for (const [cmd, args] of steps) {
    const r = await run(cmd, args)
    if (r.code !== 0) throw new Error(`tiny image: ${cmd} ${args.join(' ')}: ${r.stderr}`)
  }
  // Random bytes in the EFI partition's place: incompressible.
  const bytes = readFileSync(raw)
  randomBytes(12 << 20).copy(bytes, 4096 * 512)
  writeFileSync(raw, bytes)
  const zst = join(imageDir, 'tiny.raw.zst')
  const z = await run('zstd', ['-q', '-f', '-3', raw, '-o', zst])
  if (z.code !== 0) throw new Error(`tiny image: zstd: ${z.stderr}`)
  const node = JSON.parse(readFileSync(nodeManifest, 'utf8')) as { installer: { kernel: { file: string; sha256: string }; initrd: { file: string; sha256: string } } }
  const base = join(nodeManifest, '..')
  const compressed = readFileSync(zst)
  writeFileSync(join(imageDir, 'manifest.json'), JSON.stringify({
    kind: 'disk', arch: 'x86_64', kubernetes: null,
    installer: { kernel: { ...node.installer.kernel, file: join(base, node.installer.kernel.file) }, initrd: { ...node.installer.initrd, file: join(base, node.installer.initrd.file) } },
    disk: { file: 'tiny.raw.zst', compression: 'zstd', size: compressed.length, sha256: sha(compressed), rawSize: bytes.length, rawSha256: sha(bytes) }
  }))
  writeFileSync(join(imageDir, 'image.yaml'), 'kind: disk\ndescription: a small disk image with the node installer (tests)\nmanifest: manifest.json\n')
  return { dir: imageDir, zst }
}

export interface InstallLab extends Lab {
  machine: (ref: string) => Promise<MachineJson>
  /** Polls the machine until `pred` holds (every 2 s, up to `ms`); the last state read. */
  until: (ref: string, pred: (m: MachineJson) => boolean, ms: number) => Promise<MachineJson>
  steps: (ref: string) => Promise<Step[]>
  /** Boots a VM with `disk` (a qcow2 file, or none). */
  vm: (o: { name: string; mac: string; firmware: Firmware; disk: string | null; timeoutMs: number }) => Promise<Vm>
}

export async function installLab (t: Tap, imagesDir: string): Promise<InstallLab> {
  const boot = `boot: { tftp: "0.0.0.0:69", http: "0.0.0.0:8080", imagesDir: ${imagesDir}, ipxeDir: /usr/lib/ipxe }`
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br0', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.150\n    installStreams: 4\n' }], 'dhcp: { ratePerMac: 100 }\n', { boot })
  await lab.server.run('sh', ['-c', 'sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'])
  await lab.start()
  const machine = async (ref: string): Promise<MachineJson> => {
    const r = await lab.cli(['machines', 'show', ref, '--json'])
    if (r.code !== 0) throw new Error(r.stderr)
    return JSON.parse(r.stdout) as MachineJson
  }
  return Object.assign(lab, {
    machine,
    async until (ref: string, pred: (m: MachineJson) => boolean, ms: number) {
      const end = Date.now() + ms
      let m = await machine(ref)
      while (!pred(m) && Date.now() < end) {
        await new Promise(resolve => setTimeout(resolve, 2000))
        m = await machine(ref)
      }
      return m
    },
    async steps (ref: string) {
      const r = await lab.cli(['machines', 'timeline', ref, '--json', '--limit', '20'])
      const attempts = (JSON.parse(r.stdout) as { attempts: Array<{ steps: Step[] }> }).attempts
      return attempts.reverse().flatMap(a => a.steps)
    },
    async vm (o: { name: string; mac: string; firmware: Firmware; disk: string | null; timeoutMs: number }) {
      const extraArgs = o.disk === null ? [] : ['-drive', `file=${o.disk},if=none,id=d0,format=qcow2`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2']
      return await bootVm(t, { ns: lab.server, bridge: 'br0', mac: o.mac, firmware: o.firmware, name: o.name, memoryMb: 512, timeoutMs: o.timeoutMs, consoleLog: join(lab.dir, `${o.name}.console`), extraArgs })
    }
  })
}

/** A blank qcow2 disk of `size`. */
export async function blankDisk (dir: string, name: string, size = '4G'): Promise<string> {
  const file = join(dir, `${name}.qcow2`)
  const r = await run('qemu-img', ['create', '-q', '-f', 'qcow2', file, size])
  if (r.code !== 0) throw new Error(`qemu-img: ${r.stderr}`)
  return file
}
