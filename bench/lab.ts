// `pnpm lab`: rackboot and one QEMU machine in a network namespace of their own, from the
// machine's first DHCPDISCOVER to `provisioned`, in one command (root, Linux).
//
// The namespace holds a bridge br0 with 10.77.0.1/24; rackboot runs inside it with one LAN on
// br0 (API on the namespace's own 127.0.0.1:9080, TFTP and boot HTTP on 10.77.0.1), the machine
// lab-1 (52:54:00:77:00:01, 10.77.0.11, image testos) is registered through the CLI, and a VM
// boots from its NIC on the bridge (bench/vm.ts: BIOS through QEMU's iPXE ROM, --uefi through
// OVMF's own PXE). Progress is the machine's events as they arrive (`rackboot events --follow`)
// and the console's milestones. Nothing is created in this host's own network namespace; the
// namespace, and with it every process in it, goes on exit, on an error and on Ctrl-C.
import { spawnSync } from 'node:child_process'
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { stopChild } from './lib.js'
import { openNetns, waitListening } from './netns.js'
import { accel, bootVm, CONSOLE_MILESTONES, ensureTestos, IPXE_ROMS, OVMF_CODE, OVMF_VARS, QEMU, type Firmware, type Vm } from './vm.js'

const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'pnpm-workspace.yaml')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
})()
const MAIN = join(ROOT, 'daemon/dist/main.js')
const BIN = join(ROOT, 'daemon/bin/rackboot.js')
const NET = '10.77.0'
const MACHINE = { hostname: 'lab-1', mac: '52:54:00:77:00:01', ip: `${NET}.11` }
const IPXE_DIR = '/usr/lib/ipxe'

const HELP = `Usage: pnpm lab [--uefi] [--keep] [--timeout <seconds>]

Boots one QEMU machine from rackboot in a network namespace of its own: DHCP, TFTP/iPXE,
kernel and initrd over HTTP, the test OS phones home, the machine is provisioned. Shows each
step as it arrives and the machine's timeline at the end; exits 0 once the machine is
provisioned, 1 naming the step that did not happen. Root and Linux only; nothing touches
this host's interfaces, and everything is removed on exit or Ctrl-C.

Options:
  --uefi               boot with UEFI firmware (OVMF's own PXE client) instead of BIOS
  --keep               keep the lab up afterwards and print the commands to explore it; Ctrl-C ends it
  --timeout <seconds>  give up on the boot after this long (default 600)
  -h, --help           show this help
`

interface Args { firmware: Firmware; keep: boolean; timeoutS: number }

function parseArgs (argv: string[]): Args | string {
  const a: Args = { firmware: 'bios', keep: false, timeoutS: 600 }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i] as string
    if (x === '--uefi') a.firmware = 'uefi'
    else if (x === '--bios') a.firmware = 'bios'
    else if (x === '--keep') a.keep = true
    else if (x === '--timeout' || x.startsWith('--timeout=')) {
      const v = x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i]
      const n = Number(v)
      if (v === undefined || !Number.isFinite(n) || n <= 0) return `--timeout needs a positive number of seconds (got ${v ?? 'nothing'})`
      a.timeoutS = n
    } else if (x === '--') continue
    else return `unknown option ${x}`
  }
  return a
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

/** What this host lacks for the lab, as [what, Debian package]; empty when nothing. */
function missing (firmware: Firmware): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const cmd = (c: string, pkg: string, ...alt: string[]): void => { if (![c, ...alt].some(has)) out.push([c, pkg]) }
  const file = (f: string, pkg: string): void => { if (!existsSync(f)) out.push([f, pkg]) }
  if (!['/usr/sbin/ip', '/sbin/ip'].some(existsSync)) cmd('ip', 'iproute2')
  cmd('ss', 'iproute2')
  cmd(QEMU, 'qemu-system-x86')
  cmd('cpio', 'cpio', 'busybox')
  cmd('apt-get', 'apt')
  file(join(IPXE_DIR, 'undionly.kpxe'), 'ipxe')
  file(join(IPXE_DIR, 'ipxe.efi'), 'ipxe')
  if (firmware === 'bios') file(IPXE_ROMS.virtio, 'ipxe-qemu')
  else { file(OVMF_CODE, 'ovmf'); file(OVMF_VARS, 'ovmf') }
  return out
}

const say = (msg: string): void => { process.stdout.write(`lab: ${msg}\n`) }

/** Thrown for a step that failed: the message names it; exit code 1. */
class StepFailed extends Error {}

function tail (file: string, n: number): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).map(l => `  ${l}`).join('\n') } catch { return '  (no log)' }
}

interface Event { id: number; ts: string; type: string; detail: Record<string, unknown> }

/** The steps a provisioning boot shows on the timeline, in order (UEFI also fetches iPXE over TFTP). */
function expectedSteps (firmware: Firmware): string[] {
  return ['dhcp.offer', 'dhcp.ack', ...(firmware === 'uefi' ? ['tftp.transfer'] : []), 'boot.script', 'boot.file:kernel', 'boot.file:initrd', 'boot.phone-home', 'machine.state:provisioned']
}
const STEP_MEANS: Record<string, string> = {
  'dhcp.offer': 'rackboot never offered the machine an address (is the VM on br0? see the console)',
  'dhcp.ack': 'the machine did not take the offered address',
  'tftp.transfer': 'the UEFI firmware did not fetch iPXE over TFTP',
  'boot.script': 'iPXE never asked for its boot script',
  'boot.file:kernel': 'iPXE did not fetch the kernel',
  'boot.file:initrd': 'iPXE did not fetch the initrd',
  'boot.phone-home': 'the test OS did not phone home (see the console)',
  'machine.state:provisioned': 'the machine was not marked provisioned'
}
const stepOf = (e: Event): string => e.type === 'boot.file' ? `boot.file:${String(e.detail.kind)}` : e.type === 'machine.state' ? `machine.state:${String(e.detail.to)}` : e.type

function detailText (e: Event): string {
  const keys = ['client', 'ip', 'arch', 'bootFile', 'kind', 'file', 'bytes', 'outcome', 'from', 'to']
  return keys.filter(k => e.detail[k] !== undefined && e.detail[k] !== null).map(k => `${k}=${String(e.detail[k])}`).join(' ')
}

async function run (args: Args, cleanups: Array<() => unknown>): Promise<void> {
  const t0 = Date.now()
  const secs = (from = t0): string => `${((Date.now() - from) / 1000).toFixed(1)} s`
  if (!existsSync(MAIN)) throw new StepFailed(`${relative(process.cwd(), MAIN)} is missing: run \`npx -y pnpm@10 install\` (it builds rackboot) first`)

  say('the test OS (images/testos/build.sh: Debian packages, first time a minute or so)…')
  let lastLine = ''
  const os = await ensureTestos(chunk => {
    for (const line of chunk.split('\n')) {
      // build.sh's own progress lines, not its package lists
      if (/^testos: (?!  )/.test(line) && line !== lastLine) { process.stdout.write(`  ${line}\n`); lastLine = line }
    }
  }).catch((err: Error) => { throw new StepFailed(`building the test OS: ${err.message}`) })
  say(`test OS ready in ${(os.ms / 1000).toFixed(1)} s: ${relative(ROOT, os.kernel)}, ${relative(ROOT, os.initrd)}`)

  const dir = mkdtempSync(join(tmpdir(), 'rackboot-lab-'))
  chmodSync(dir, 0o700)
  cleanups.push(() => { if (!keepDir) rmSync(dir, { recursive: true, force: true }) })
  const ns = openNetns('lab')
  cleanups.push(() => { ns.remove() })
  ns.sh(`ip link add br0 type bridge stp_state 0 forward_delay 0 && ip addr add ${NET}.1/24 dev br0 && ip link set br0 up && sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0`)
  say(`network namespace ${ns.name}: bridge br0 ${NET}.1/24`)

  const config = join(dir, 'rackboot.yaml')
  const log = join(dir, 'rackboot.log')
  const consoleLog = join(dir, 'console.log')
  writeFileSync(config, [
    '# pnpm lab: one LAN on the namespace\'s bridge; the boot services on its address',
    `dataDir: ${join(dir, 'var')}`,
    'log: { level: info, format: json }',
    'api: { listen: 127.0.0.1:9080 }',
    `boot: { tftp: "${NET}.1:69", http: "${NET}.1:8080", imagesDir: ${join(ROOT, 'images')}, ipxeDir: ${IPXE_DIR} }`,
    'lans:',
    '  - name: lab',
    '    interface: br0',
    `    subnet: ${NET}.0/24`,
    `    address: ${NET}.1`,
    `    gateway: ${NET}.1`,
    `    dns: [${NET}.1]`,
    ''
  ].join('\n'))
  const check = spawnSync(process.execPath, [MAIN, 'check-config', '--config', config], { encoding: 'utf8' })
  if (check.status !== 0) throw new StepFailed(`checking the lab's config: ${(check.stdout + check.stderr).trim()}`)
  const tokenFile = join(dir, 'token')
  const token = spawnSync(process.execPath, [MAIN, 'token', 'create', '--name', 'lab', '--config', config], { encoding: 'utf8' })
  if (token.status !== 0) throw new StepFailed(`creating an API token: ${token.stderr.trim()}`)
  writeFileSync(tokenFile, token.stdout.trim() + '\n', { mode: 0o600 })

  const fd = openSync(log, 'a')
  const daemon = ns.spawn(process.execPath, [MAIN, 'serve', '--config', config], { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  cleanups.push(() => stopChild(daemon))
  await waitListening(ns, ['udp:67', 'udp:69', 'tcp:8080', 'tcp:9080'], { ms: 30_000, proc: daemon })
    .catch((err: Error) => { throw new StepFailed(`starting rackboot: ${err.message}; its log:\n${tail(log, 15)}`) })
  say(`rackboot is serving (pid ${String(daemon.pid)}): DHCP on br0, TFTP and boot HTTP on ${NET}.1, API on 127.0.0.1:9080 inside the namespace`)

  const cli = async (cmdArgs: string[]): Promise<string> => {
    const r = await ns.run(process.execPath, [BIN, ...cmdArgs, '--token-file', tokenFile])
    if (r.code !== 0) throw new StepFailed(`rackboot ${cmdArgs.join(' ')}: ${r.stderr.trim()}`)
    return r.stdout
  }
  const m = JSON.parse(await cli(['machines', 'add', '--hostname', MACHINE.hostname, '--mac', MACHINE.mac, '--lan', 'lab', '--ip', MACHINE.ip, '--image', 'testos', '--json'])) as { id: number }
  say(`machine ${MACHINE.hostname} (id ${m.id}): ${MACHINE.mac} → ${MACHINE.ip}, image testos`)

  // The machine's events as they arrive, through the CLI as an operator would follow them.
  const follower = ns.spawn(process.execPath, [BIN, 'events', '--follow', '--json', '--machine', String(m.id), '--limit', '1', '--token-file', tokenFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanups.push(() => { if (follower.exitCode === null) follower.kill('SIGKILL') })
  const seen = new Set<string>()
  let vm: Vm | undefined
  let provisioned: (() => void) | undefined
  const done = new Promise<void>(resolve => { provisioned = resolve })
  const at = (): string => `+${(((Date.now() - (vm?.startedAt ?? Date.now())) / 1000).toFixed(1)).padStart(5)} s`
  createInterface({ input: follower.stdout as NodeJS.ReadableStream }).on('line', line => {
    let e: Event
    try { e = JSON.parse(line) as Event } catch { return }
    if (e.type === 'machine.created' || e.type === 'machine.updated') return // the state changes show as machine.state
    seen.add(stepOf(e))
    process.stdout.write(`  ${at()}  ${e.type.padEnd(16)} ${detailText(e)}\n`)
    if (e.type === 'machine.state' && e.detail.to === 'provisioned') provisioned?.()
  })
  let followErr = ''
  follower.stderr?.on('data', d => { followErr += String(d) })

  const acc = await accel()
  say(`booting a ${args.firmware.toUpperCase()} VM from its NIC (${acc === 'kvm' ? 'KVM' : 'TCG: no usable KVM here, so a minute or two'})…`)
  const owner = { teardown: (fn: () => unknown) => { cleanups.push(fn) }, comment: (...msg: unknown[]) => { say(msg.join(' ')) } }
  vm = await bootVm(owner, { ns, bridge: 'br0', mac: MACHINE.mac, firmware: args.firmware, name: 'lab1', timeoutMs: args.timeoutS * 1000 + 5_000, consoleLog })
  const booted = vm
  for (const [label, re] of CONSOLE_MILESTONES) {
    booted.waitFor(re, args.timeoutS * 1000).then(() => { process.stdout.write(`  ${at()}  ${'(console)'.padEnd(16)} ${label}\n`) }, () => {})
  }
  const outcome = await Promise.race([
    done.then(() => 'provisioned' as const),
    booted.exited.then(async e => { await new Promise(resolve => setTimeout(resolve, 3_000)); return `QEMU exited (${e.code ?? e.signal ?? '?'})` }),
    new Promise<string>(resolve => setTimeout(() => resolve(`not done within --timeout ${args.timeoutS} s`), args.timeoutS * 1000).unref()),
    new Promise<string>(resolve => daemon.once('exit', code => resolve(`rackboot exited (${String(code)})`)))
  ])
  if (outcome !== 'provisioned' && !seen.has('machine.state:provisioned')) {
    const step = expectedSteps(args.firmware).find(s => !seen.has(s)) ?? 'machine.state:provisioned'
    // Kept for a look when a step failed; not when Ctrl-C stopped the VM (that removes everything).
    if (!interrupted) keepDir = true
    throw new StepFailed([
      `FAILED at ${step}: ${STEP_MEANS[step] ?? step} (${outcome}, after ${secs()})`,
      ...(followErr.trim() === '' ? [] : [`the event stream said: ${followErr.trim()}`]),
      'the last console lines:',
      booted.console().replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd().split('\n').slice(-12).map(l => `  ${l}`).join('\n'),
      'the last rackboot log lines:',
      tail(log, 8),
      `kept for a look: ${dir} (rackboot.yaml, rackboot.log, console.log)`
    ].join('\n'))
  }
  say(`${MACHINE.hostname} is provisioned, ${secs(booted.startedAt)} after the VM started (${secs()} in all). Its timeline:`)
  process.stdout.write((await cli(['machines', 'timeline', MACHINE.hostname])).trimEnd().replace(/^/gm, '  ') + '\n')
  // The test OS powers off after phoning home; cleanup stops QEMU if it has not.
  await Promise.race([booted.exited, new Promise(resolve => setTimeout(resolve, 30_000).unref())])

  if (args.keep) {
    const inNs = `sudo ip netns exec ${ns.name}`
    const rb = `${inNs} node ${relative(process.cwd(), BIN) || BIN}`
    say('the lab stays up; Ctrl-C removes it. To explore (the API answers only inside the namespace):')
    for (const l of [
      `${rb} machines show ${MACHINE.hostname} --token-file ${tokenFile}`,
      `${rb} events --token-file ${tokenFile}`,
      `${rb} leases --token-file ${tokenFile}`,
      `${inNs} curl -s 'http://${NET}.1:8080/boot/ipxe?mac=${MACHINE.mac}'   # its next boot script: from disk`,
      `${inNs} curl -s http://127.0.0.1:9080/metrics`,
      `less ${log}   # rackboot's log (JSON lines); the VM's console: ${consoleLog}`,
      `${inNs} bash   # a shell inside the lab`
    ]) process.stdout.write(`  ${l}\n`)
    await new Promise(() => { setInterval(() => {}, 1 << 30) }) // until a signal
  }
}

let keepDir = false
/** A signal asked the lab to go away: its cleanup is running. */
let interrupted = false

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (process.argv.includes('-h') || process.argv.includes('--help')) { process.stdout.write(HELP); return 0 }
  if (typeof args === 'string') { process.stderr.write(`lab: ${args}\n\n${HELP}`); return 2 }
  if (process.platform !== 'linux') { process.stderr.write(`lab: needs Linux (network namespaces); this is ${process.platform}\n`); return 1 }
  if (process.getuid?.() !== 0) { process.stderr.write('lab: needs root (network namespaces, a tap for the VM): sudo npx -y pnpm@10 lab\n'); return 1 }
  const lack = missing(args.firmware)
  if (lack.length > 0) {
    const pkgs = [...new Set(lack.map(([, p]) => p))]
    process.stderr.write(`lab: missing: ${lack.map(([w]) => w).join(', ')}\nlab: install them with: sudo apt-get install -y ${pkgs.join(' ')}\n`)
    return 1
  }

  const cleanups: Array<() => unknown> = []
  let cleaning: Promise<void> | undefined
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      for (const fn of cleanups.reverse()) {
        try { await fn() } catch { /* best effort: the namespace's removal kills what is left */ }
      }
    })()
    return cleaning
  }
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    process.stdout.write(`\nlab: ${sig}: removing the lab\n`)
    const hard = setTimeout(() => process.exit(130), 10_000)
    void cleanup().then(() => { clearTimeout(hard); process.exit(args.keep ? 0 : 130) })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)
  try {
    await run(args, cleanups)
    return 0
  } catch (err) {
    if (interrupted) return 130
    process.stderr.write(`lab: ${err instanceof StepFailed ? err.message : (err as Error).stack ?? String(err)}\n`)
    return 1
  } finally {
    if (!interrupted) {
      await cleanup()
      say('removed: the VM, rackboot, the namespace and its bridge')
    }
  }
}

process.exitCode = await main()
