// QEMU virtual machines plugged into a bridge of a namespace lab, for the end-to-end tests
// (through test/helpers/vm.ts, which re-exports this file) and for bench/boot. It lives here
// because the benchmarks are compiled (`tsc -b`) and the tests run from source (tap's ts-node),
// so both can import it from here and neither keeps a copy.
//
//   const why = vmUnavailable('uefi')                       // null, or why this machine cannot run it
//   if (!requireOrSkip(t, why)) return
//   const os = await ensureTestos()                         // images/testos/build.sh (a no-op when up to date)
//   const vm = await bootVm(t, { ns: lab.server, bridge: 'br0', mac: '52:54:00:00:00:01', firmware: 'uefi', name: 'u1' })
//   const m = await vm.waitFor(/RACKBOOT-TESTOS: phone-home ok ip=(\S+).*\n/, 120_000)  // end with \n: output arrives in pieces
//   await vm.exited                                         // the test OS powers off: QEMU exits
//   const d = await directBoot(t, { ns, bridge, mac, name: 'd1', kernel: os.kernel, initrd: os.initrd, append: '…' })
//
// Network: a tap `rbq…` (vnet_hdr) is created inside `ns`, attached to `bridge` and removed at
// teardown; QEMU runs inside `ns` (through `ns.spawn`), so nothing touches this machine's own
// interfaces. There is never a user-mode (slirp) NIC: `-nodefaults`, one tap NIC, nothing else.
// Firmware: 'bios' is `-machine pc` with the NIC's iPXE option ROM (Debian ipxe-qemu), so the
// first client is already iPXE; 'uefi' is `-machine q35` with OVMF (pflash code read-only + a
// per-VM copy of the variables) and `romfile=` on the NIC so that OVMF's own PXE client runs.
// Console: the serial port (COM1), captured in memory, optionally appended to `consoleLog`;
// for BIOS PXE boots SeaBIOS mirrors the text screen to it (sercon), so iPXE's messages are there too.
// Acceleration: KVM only when a probe guest actually runs under it (cached per boot of this
// machine), otherwise TCG; RACKBOOT_VM_ACCEL=kvm|tcg overrides.
// Lifetime: QEMU is killed at the owner's teardown (a tap test, or bench/boot's stand-in: SIGTERM,
// then SIGKILL), after `timeoutMs`, or by `kill()`; `-no-reboot` makes a guest reboot or panic end QEMU too.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, appendFileSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Who owns a VM: its teardown ends QEMU and removes the tap; remarks go to `comment`. A tap test fits. */
export interface VmOwner { teardown (fn: () => unknown): void; comment (...msg: unknown[]): unknown }

/** A network namespace to run commands in: bench/netns.ts's Netns (or its onCpu(n)). */
export interface VmNetns {
  run (cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }>
  spawn (cmd: string, args: string[], opts?: SpawnOptions): ChildProcess
}

export type Firmware = 'bios' | 'uefi'
export type Accel = 'kvm' | 'tcg'

export interface VmOptions {
  /** The namespace holding `bridge`: the tap is created there and QEMU runs there. */
  ns: VmNetns
  bridge: string
  /** The NIC's MAC address, e.g. 52:54:00:12:34:56. */
  mac: string
  /** A short label (tap and log names, QEMU's -name). */
  name: string
  /** Default 'bios'. */
  firmware?: Firmware
  /** Default 'virtio' (virtio-net-pci). 'e1000' exists for BIOS and direct boots only: OVMF has no e1000 driver. */
  nic?: 'virtio' | 'e1000'
  /** A file that receives the console output as it arrives (appended). */
  consoleLog?: string
  /** QEMU is killed this long after start (default 240 s). */
  timeoutMs?: number
  /** Guest memory, default 256 MiB (keep ≤ 512: the machine is shared). */
  memoryMb?: number
  /** Default: KVM when it works here, else TCG (see accel()). */
  accel?: Accel
  /** More QEMU arguments, appended. */
  extraArgs?: string[]
}

export interface DirectBootOptions extends VmOptions {
  kernel: string
  /** One or more initrds (several are concatenated into one file, as Linux accepts). */
  initrd: string | string[]
  /** The kernel command line. */
  append: string
}

export interface VmExit { code: number | null; signal: NodeJS.Signals | null; /** ms from spawn to exit */ ms: number }

export interface Vm {
  readonly name: string
  readonly pid: number
  readonly tap: string
  readonly accel: Accel
  /** QEMU's command line (for messages). */
  readonly argv: string[]
  /** Date.now() when QEMU was spawned. */
  readonly startedAt: number
  /**
   * Resolves with the first match of `re` in the console so far or to come; rejects after `ms`
   * (default 120 s) or when QEMU exits first. The console arrives in pieces: end a pattern that
   * captures to the end of a line with `\n`, or it can match half a line.
   */
  waitFor (re: RegExp, ms?: number): Promise<RegExpMatchArray>
  /** The console output so far (CRs removed). */
  console (): string
  /** QEMU's own stderr so far. */
  stderr (): string
  /** Stops QEMU (SIGTERM, SIGKILL after 3 s) and waits until it is reaped. Idempotent. */
  kill (): Promise<VmExit>
  /** Settles when QEMU has exited (the test OS powers off: code 0). */
  readonly exited: Promise<VmExit>
}

/** The repository: the nearest directory above this file with pnpm-workspace.yaml (bench/ from source, bench/dist/ compiled). */
const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'pnpm-workspace.yaml')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
})()
export const TESTOS_DIR = join(ROOT, 'images/testos')
export const QEMU = 'qemu-system-x86_64'
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
export const IPXE_ROMS = { virtio: '/usr/lib/ipxe/qemu/efi-virtio.rom', e1000: '/usr/lib/ipxe/qemu/efi-e1000.rom' } as const

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Null when VMs with this firmware can run here (root, QEMU, firmware files), else why not. */
export function vmUnavailable (firmware: Firmware | 'direct' = 'bios', nic: 'virtio' | 'e1000' = 'virtio'): string | null {
  if (process.getuid?.() !== 0) return 'VMs on lab bridges need root (taps in network namespaces)'
  if (!has(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`
  if (firmware === 'uefi') {
    for (const f of [OVMF_CODE, OVMF_VARS]) if (!existsSync(f)) return `${f} is missing (apt-get install ovmf)`
    if (nic === 'e1000') return 'OVMF has no e1000 driver: UEFI VMs use virtio-net'
  }
  if (firmware === 'bios' && !existsSync(IPXE_ROMS[nic])) return `${IPXE_ROMS[nic]} is missing (apt-get install ipxe-qemu)`
  return null
}

// ---- acceleration ------------------------------------------------------------------------

let accelProbe: Promise<Accel> | undefined

/**
 * KVM when it really runs a guest here, else TCG. `/dev/kvm` can exist and QEMU can open it
 * while guests still fail (measured on this project's machines: SeaBIOS runs, but the Linux
 * kernel hangs while decompressing itself, and `-cpu host` aborts on an MSR), so the probe boots
 * the test OS's kernel under KVM with `earlyprintk` and waits (≤ 10 s; about 1 s where KVM works)
 * for its "Linux version" line. The answer is cached for this boot of the machine in
 * $TMPDIR/rackboot-vm-accel.json. RACKBOOT_VM_ACCEL=kvm|tcg skips the probe. VMs use QEMU's
 * default CPU model under either.
 */
export function accel (): Promise<Accel> {
  const forced = process.env.RACKBOOT_VM_ACCEL
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve(forced)
  accelProbe ??= probeAccel()
  return accelProbe
}

async function probeAccel (): Promise<Accel> {
  try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK) } catch { return 'tcg' }
  let kernel: string
  try { kernel = (await ensureTestos()).kernel } catch { return 'tcg' }
  const cache = join(tmpdir(), 'rackboot-vm-accel.json')
  let key = ''
  try { key = `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${statSync(spawnSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' }).stdout.trim()).mtimeMs}` } catch { /* no cache */ }
  try {
    const c = JSON.parse(readFileSync(cache, 'utf8')) as { key?: string; accel?: Accel }
    if (key !== '' && c.key === key && (c.accel === 'kvm' || c.accel === 'tcg')) return c.accel
  } catch { /* no cache yet */ }
  const result = await new Promise<Accel>(resolve => {
    const p = spawn(QEMU, ['-accel', 'kvm', '-machine', 'pc', '-nodefaults', '-display', 'none', '-m', '128', '-no-reboot',
      '-chardev', 'stdio,id=ser0,signal=off', '-serial', 'chardev:ser0',
      '-kernel', kernel, '-append', 'console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    let done = false
    const finish = (a: Accel): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
      resolve(a)
    }
    const timer = setTimeout(() => finish('tcg'), 10_000)
    p.stdout.on('data', d => { out += String(d); if (out.includes('Linux version')) finish('kvm') })
    p.on('error', () => finish('tcg'))
    p.on('exit', () => finish(out.includes('Linux version') ? 'kvm' : 'tcg'))
  })
  if (key !== '') { try { writeFileSync(cache, JSON.stringify({ key, accel: result })) } catch { /* read-only tmp */ } }
  return result
}

// ---- the test OS ---------------------------------------------------------------------------

export interface Testos { dir: string; kernel: string; initrd: string; sums: string; log: string; ms: number }

let testosBuild: Promise<Testos> | undefined

/**
 * Runs images/testos/build.sh (once per process; it says "up to date" in a few seconds when the
 * build matches its inputs) and returns the artefacts. Rejects with build.sh's output when it fails.
 * `progress` receives build.sh's output as it comes (when this call is the one that runs it).
 */
export function ensureTestos (progress?: (output: string) => void): Promise<Testos> {
  testosBuild ??= new Promise<Testos>((resolve, reject) => {
    const started = Date.now()
    const p = spawn('bash', [join(TESTOS_DIR, 'build.sh')], { stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    p.stdout.on('data', d => { log += String(d); progress?.(String(d)) })
    p.stderr.on('data', d => { log += String(d); progress?.(String(d)) })
    p.on('error', reject)
    p.on('exit', code => {
      const dir = join(TESTOS_DIR, 'build')
      if (code !== 0) { reject(new Error(`images/testos/build.sh exited ${String(code)}:\n${log}`)); return }
      resolve({ dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), sums: join(dir, 'SHA256SUMS'), log, ms: Date.now() - started })
    })
  })
  return testosBuild
}

/**
 * images/testos/image.yaml's command line with its placeholders filled: a stand-in for the
 * daemon's renderer, for booting the test OS without rackboot (direct boots, bench/boot's peer).
 */
export function testosCmdline (values: Record<string, string>): string {
  const yaml = readFileSync(join(TESTOS_DIR, 'image.yaml'), 'utf8')
  const tpl = /^cmdline:\s*"(.*)"\s*$/m.exec(yaml)?.[1]
  if (tpl === undefined) throw new Error('images/testos/image.yaml has no cmdline: "…" line')
  return tpl.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => {
    const v = values[name]
    if (v === undefined) throw new Error(`image.yaml: unknown placeholder {{ ${name} }}`)
    return v
  })
}

/** Console lines that mark the steps of a PXE boot of the test OS, in order (bench/boot's breakdown, pnpm lab's progress). */
export const CONSOLE_MILESTONES: Array<[string, RegExp]> = [
  ['pxe-dhcp', /Station IP address is/], // UEFI: OVMF's PXE (or HTTP boot) has its DHCP answer
  ['pxe-error', /PXE-E\d\d/], // UEFI: OVMF's PXE failed a step (TFTP error, no offer, …)
  ['http-boot', />>Start HTTP Boot/], // UEFI: OVMF gave up PXE and tries UEFI HTTP boot
  ['ipxe.efi', /NBP file downloaded successfully|Downloading\.\.\.100%/], // UEFI: iPXE loaded (TFTP or HTTP)
  ['ipxe', /iPXE initialising devices/], // iPXE runs (BIOS: QEMU's ROM)
  ['ipxe-dhcp', /Configuring \(net0 [^)]*\)\.* ok/], // iPXE's DHCP done (and its wait for IPv6 routers)
  ['script', /\d+ bytes \[script\]/],
  ['initrd', /initrd\.img\.\.\. o/], // kernel and initrd loaded (BIOS: Linux clears the screen before SeaBIOS mirrors the "k")
  ['os-init', /RACKBOOT-TESTOS: init ok/],
  ['os-dhcp', /RACKBOOT-TESTOS: dhcp ok/]
]

// ---- VMs -----------------------------------------------------------------------------------

let vmCount = 0

/** Boots a VM from its NIC (PXE): BIOS through QEMU's iPXE ROM, UEFI through OVMF's own PXE. */
export function bootVm (t: VmOwner, opts: VmOptions): Promise<Vm> {
  return startVm(t, opts, null)
}

/** Boots `kernel` + `initrd` with `append` directly (QEMU's -kernel), no PXE: tests an image by itself. */
export function directBoot (t: VmOwner, opts: DirectBootOptions): Promise<Vm> {
  return startVm(t, opts, opts)
}

/** The state letter of /proc/PID/stat ('R', 'S', 'Z' for a zombie, …), or null when there is no such process. */
export function procState (pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null
  } catch { return null }
}

async function startVm (t: VmOwner, opts: VmOptions, direct: DirectBootOptions | null): Promise<Vm> {
  const firmware = opts.firmware ?? 'bios'
  const nic = opts.nic ?? 'virtio'
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(opts.mac)) throw new Error(`vm ${opts.name}: bad MAC ${opts.mac}`)
  if (firmware === 'uefi' && nic === 'e1000') throw new Error(`vm ${opts.name}: OVMF has no e1000 driver; use nic: 'virtio'`)
  const acc = opts.accel ?? await accel()
  const n = vmCount++
  const tap = `rbq${process.pid.toString(36)}x${n.toString(36)}`.slice(0, 15)
  const dir = mkdtempSync(join(tmpdir(), `rackboot-vm-${opts.name.replace(/[^a-z0-9]/gi, '')}-`))
  let cleaned = false
  const cleanup = async (): Promise<void> => {
    if (cleaned) return
    cleaned = true
    await opts.ns.run('ip', ['link', 'del', tap]).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(async () => { await vm?.kill(); await cleanup() })
  let vm: Vm | undefined

  // The tap: in the lab namespace, with vnet_hdr (QEMU's virtio-net offloads expect it), on the bridge.
  for (const args of [
    ['tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr'],
    ['link', 'set', tap, 'master', opts.bridge],
    ['link', 'set', tap, 'up']
  ]) {
    const r = await opts.ns.run('ip', args)
    if (r.code !== 0) throw new Error(`vm ${opts.name}: ip ${args.join(' ')}: ${r.stderr.trim()}`)
  }

  const device = nic === 'virtio' ? 'virtio-net-pci' : 'e1000'
  // BIOS PXE keeps the NIC's iPXE ROM; UEFI PXE and direct boots load none (`romfile=`).
  const rom = firmware === 'bios' && direct === null ? '' : ',romfile='
  const argv = [
    '-name', opts.name,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', firmware === 'uefi' ? 'q35' : 'pc',
    '-accel', acc,
    '-smp', '1', '-m', String(opts.memoryMb ?? 256),
    '-no-reboot',
    '-chardev', 'stdio,id=ser0,signal=off', '-serial', 'chardev:ser0',
    '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    '-device', `${device},netdev=n0,mac=${opts.mac.toLowerCase()}${direct === null ? ',bootindex=1' : ''}${rom}`
  ]
  if (firmware === 'uefi') {
    const vars = join(dir, 'OVMF_VARS.fd')
    copyFileSync(OVMF_VARS, vars)
    argv.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`)
  } else if (direct === null) {
    // SeaBIOS copies the text screen to COM1 (its `etc/sercon-port` is a little-endian integer
    // file), so SeaBIOS's and the iPXE ROM's messages reach the console too. QEMU warns that the
    // name lacks "opt/": SeaBIOS wants exactly this name.
    const sercon = join(dir, 'sercon-port')
    writeFileSync(sercon, Buffer.from([0xf8, 0x03]))
    argv.push('-fw_cfg', `name=etc/sercon-port,file=${sercon}`)
  }
  if (direct !== null) {
    const initrds = Array.isArray(direct.initrd) ? direct.initrd : [direct.initrd]
    let initrd = initrds[0] ?? ''
    if (initrds.length > 1) {
      initrd = join(dir, 'initrd.cat')
      writeFileSync(initrd, Buffer.concat(initrds.map(f => readFileSync(f))))
    }
    argv.push('-kernel', direct.kernel, '-initrd', initrd, '-append', direct.append)
  }
  argv.push(...(opts.extraArgs ?? []))

  const startedAt = Date.now()
  // `ip netns exec` execs QEMU: the child's PID is QEMU's.
  const proc = opts.ns.spawn(QEMU, argv, { stdio: ['pipe', 'pipe', 'pipe'] })
  if (proc.pid === undefined) throw new Error(`vm ${opts.name}: could not start ${QEMU}`)
  const pid = proc.pid
  let out = ''
  let err = ''
  const waiters = new Set<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }>()
  proc.stdout?.on('data', (d: Buffer) => {
    const s = d.toString('latin1').replace(/\r/g, '')
    out += s
    if (opts.consoleLog !== undefined) { try { appendFileSync(opts.consoleLog, s) } catch { /* log only */ } }
    for (const w of waiters) {
      const m = out.match(w.re)
      if (m !== null) { waiters.delete(w); w.resolve(m) }
    }
  })
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  let exit: VmExit | null = null
  const exited = new Promise<VmExit>(resolve => {
    proc.on('exit', (code, signal) => { exit = { code, signal, ms: Date.now() - startedAt }; resolve(exit) })
  })
  const timer = setTimeout(() => { t.comment(`vm ${opts.name}: killed after its ${opts.timeoutMs ?? 240_000} ms timeout`); void vm?.kill() }, opts.timeoutMs ?? 240_000)
  timer.unref()
  void exited.then(() => clearTimeout(timer))

  const tail = (): string => out.split('\n').slice(-15).join('\n')
  vm = {
    name: opts.name,
    pid,
    tap,
    accel: acc,
    argv: [QEMU, ...argv],
    startedAt,
    exited,
    console: () => out,
    stderr: () => err,
    waitFor (re, ms = 120_000) {
      const m = out.match(re)
      if (m !== null) return Promise.resolve(m)
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const w = {
          re,
          resolve: (m: RegExpMatchArray) => { clearTimeout(deadline); resolve(m) }
        }
        const fail = (why: string): void => {
          if (!waiters.delete(w)) return
          clearTimeout(deadline)
          reject(new Error(`vm ${opts.name}: ${String(re)} ${why}; QEMU stderr: ${err.trim() || '(none)'}; last console lines:\n${tail()}`))
        }
        const deadline = setTimeout(() => fail(`not seen within ${ms} ms`), ms)
        waiters.add(w)
        void exited.then(e => { setImmediate(() => fail(`not seen before QEMU exited (${JSON.stringify(e)})`)) })
      })
    },
    async kill () {
      if (exit !== null) return exit
      proc.kill('SIGTERM')
      const hard = setTimeout(() => { if (exit === null) proc.kill('SIGKILL') }, 3_000)
      const e = await exited
      clearTimeout(hard)
      return e
    }
  }
  // QEMU can fail at once (a bad argument, a busy tap): report that here, not as a timeout later.
  const early = await Promise.race([exited, sleep(300).then(() => null)])
  if (early !== null && early.code !== 0) {
    throw new Error(`vm ${opts.name}: ${QEMU} exited at once (${JSON.stringify(early)}): ${err.trim()}\n${vm.argv.join(' ')}`)
  }
  // After the exit event Node has reaped QEMU; a zombie here would mean someone else owns it.
  void exited.then(() => { const s = procState(pid); if (s === 'Z') t.comment(`vm ${opts.name}: pid ${pid} is a zombie`) })
  return vm
}
