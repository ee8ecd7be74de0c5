// Issue 12: `pnpm lab` — the README's five-minute tour — run as a newcomer runs it: a BIOS VM
// boots through DHCP → iPXE → HTTP to `provisioned`, the lab shows the steps and the timeline,
// exits 0 and leaves nothing behind; Ctrl-C in the middle removes everything too; a missing
// prerequisite is named with its Debian package.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { netnsUnavailable, requireOrSkip } from '../bench/netns.js'
import { ROOT, tempDir } from './helpers/daemon.js'
import { vmUnavailable } from './helpers/vm.js'

const LAB = join(ROOT, 'bench/dist/lab.js')
const why = netnsUnavailable() ?? vmUnavailable('bios') ?? (existsSync(LAB) ? null : `${LAB} is missing (pnpm test builds it)`)

interface Done { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

function run (p: ChildProcess, onOut?: (out: string) => void): Promise<Done> {
  let out = ''
  let err = ''
  p.stdout?.on('data', d => { out += String(d); onOut?.(out) })
  p.stderr?.on('data', d => { err += String(d) })
  return new Promise(resolve => p.on('close', (code, signal) => resolve({ code, signal, out, err })))
}

const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map(l => l.split(' ')[0] ?? '').filter(Boolean)
const labDirs = (): string[] => readdirSync(tmpdir()).filter(n => n.startsWith('rackboot-lab-'))
const alive = (pid: number): boolean => {
  try { process.kill(pid, 0) } catch { return false }
  // a zombie waiting for this machine's slow PID 1 is gone for our purposes
  try { return !/^\d+ \(.*\) Z/.test(spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout) } catch { return false }
}

t.test('--help and a bad option', async t => {
  const help = spawnSync(process.execPath, [LAB, '--help'], { encoding: 'utf8' })
  t.equal(help.status, 0)
  t.match(help.stdout, /^Usage: pnpm lab \[--uefi\] \[--keep\]/)
  t.match(help.stdout, /--timeout <seconds>/)
  const bad = spawnSync(process.execPath, [LAB, '--nope'], { encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.match(bad.stderr, /^lab: unknown option --nope/)
})

t.test('a missing prerequisite is named with the Debian package to install', async t => {
  if (!requireOrSkip(t, netnsUnavailable())) return
  // A PATH with the shell tools and no QEMU (and /usr/lib/ipxe is what it is: not checked here).
  const bin = join(tempDir(t), 'bin')
  mkdirSync(bin)
  for (const cmd of ['sh', 'ss', 'cpio', 'apt-get']) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
    if (r.status === 0) symlinkSync(r.stdout.trim(), join(bin, cmd))
  }
  const r = spawnSync(process.execPath, [LAB], { encoding: 'utf8', env: { ...process.env, PATH: bin } })
  t.equal(r.status, 1, r.stderr)
  t.match(r.stderr, /^lab: missing: .*qemu-system-x86_64/m)
  t.match(r.stderr, /^lab: install them with: sudo apt-get install -y .*qemu-system-x86\b/m)
  t.equal(r.stdout, '', 'nothing was started')
})

t.test('pnpm lab boots a BIOS VM to provisioned, shows the steps and the timeline, leaves nothing', { timeout: 900_000 }, async t => {
  if (!requireOrSkip(t, why)) return
  const dirsBefore = labDirs()
  // As the README says (`pnpm lab`) when this run was started by pnpm; else its script's command.
  const execPath = process.env.npm_execpath ?? ''
  const p = /pnpm/.test(execPath)
    ? spawn(process.execPath, [execPath, 'lab'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [LAB], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (p.exitCode === null) p.kill('SIGKILL') })
  const r = await run(p)
  t.equal(r.code, 0, `exit 0\n${r.out}\n${r.err}`)
  const ns = /network namespace (rbt-\d+-\d+-lab)/.exec(r.out)?.[1]
  t.ok(ns, 'it said which namespace it made')
  t.match(r.out, /rackboot is serving \(pid \d+\)/)
  t.match(r.out, /machine lab-1 \(id \d+\): 52:54:00:77:00:01 → 10\.77\.0\.11, image testos/)
  // the steps as they arrived, in order
  const live = ['dhcp.offer', 'dhcp.ack', 'boot.script', 'boot.file', 'boot.phone-home', 'machine.state +from=provisioning to=provisioned']
    .map(s => r.out.search(new RegExp(`^ {2}\\+ *[\\d.]+ s {2}${s.replace('.', '\\.')}( |$)`, 'm')))
  t.ok(live.every(i => i >= 0), `every step was shown as it came (${JSON.stringify(live)})`)
  t.same(live, [...live].sort((a, b) => a - b), 'in boot order')
  t.match(r.out, /^lab: lab-1 is provisioned, [\d.]+ s after the VM started/m)
  // then the machine's timeline from the CLI
  const timeline = r.out.slice(r.out.indexOf('Its timeline:'))
  t.match(timeline, /boot attempt \S+ → \S+: provisioned/)
  t.match(timeline, /boot\.file +kind=kernel .*file=vmlinuz/)
  t.match(timeline, /boot\.phone-home /)
  t.match(timeline, /machine\.state +from=provisioning to=provisioned/)
  t.match(r.out, /^lab: removed: the VM, rackboot, the namespace and its bridge$/m)
  t.notOk(namespaces().includes(ns ?? ''), `${ns ?? 'its namespace'} is gone`)
  t.same(labDirs().filter(d => !dirsBefore.includes(d)), [], 'its temporary directory is gone')
})

t.test('Ctrl-C while the VM boots removes the lab', { timeout: 300_000 }, async t => {
  if (!requireOrSkip(t, why)) return
  const dirsBefore = labDirs()
  const p = spawn(process.execPath, [LAB], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (p.exitCode === null) p.kill('SIGKILL') })
  let sent = false
  let daemonPid = 0
  const r = await run(p, out => {
    daemonPid ||= Number(/rackboot is serving \(pid (\d+)\)/.exec(out)?.[1] ?? 0)
    if (!sent && /booting a BIOS VM/.test(out)) { sent = true; setTimeout(() => p.kill('SIGINT'), 3_000) }
  })
  t.ok(sent, `the lab got as far as booting the VM\n${r.out}\n${r.err}`)
  t.equal(r.code, 130, `exit 130 after SIGINT\n${r.err}`)
  t.match(r.out, /lab: SIGINT: removing the lab/)
  const ns = /network namespace (rbt-\d+-\d+-lab)/.exec(r.out)?.[1] ?? ''
  t.notOk(namespaces().includes(ns), `${ns} is gone`)
  t.ok(daemonPid > 0 && !alive(daemonPid), `rackboot (pid ${daemonPid}) is gone`)
  const qemu = spawnSync('pgrep', ['-f', '--', '-name lab1 '], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number).filter(alive)
  t.same(qemu, [], 'no QEMU of the lab is left')
  t.same(labDirs().filter(d => !dirsBefore.includes(d)), [], 'its temporary directory is gone')
})
