// Network namespaces: the one helper for the tests (tap, from source), the benchmarks and
// `pnpm lab` (compiled). Nothing sent in them leaves the namespaces made here.
//
//   const why = netnsUnavailable(['tftp'])             // null, or why this machine cannot use them
//   if (!requireOrSkip(t, why)) return                  // skip with the reason outside CI; fail when CI=true
//   const server = await createNetns(t, 'srv')          // `rbt-<pid>-<n>-srv`, loopback up, removed at t's teardown
//   const lab = openNetns('lab')                         // the same without an owner: removed at exit or by lab.remove()
//   const l = await veth(server, client, { mtu: 1500 })  // l.a = { ns, ifname, ip: '10.201.n.1' }, l.b = { …, ip: '10.201.n.2' }, /24
//   const br = await bridge(server, 'br0', [l.a.ifname], '10.202.0.1/24')  // a bridge holding interfaces
//   await impair(client, l.b.ifname, { lossPct: 5, delayMs: 100 })      // egress loss and delay (netem or a userspace stand-in)
//   const r = await client.run('tftp', [l.a.ip, '-c', 'get', 'f'])      // { code, signal, stdout, stderr }
//   const p = server.spawn(process.execPath, ['daemon/dist/main.js', …]) // `ip netns exec` execs: p.pid is the command's
//   server.sh('ip link add br0 type bridge'); server.ip('addr', 'show')  // synchronous, throw with stderr
//   server.onCpu(0).spawn(…)                                             // the same, pinned with taskset
//
// Cleanup happens three ways: the owner's teardown (or remove()), this process's 'exit' and
// SIGINT/SIGTERM/SIGHUP (cleanup, then the signal's default action), and at load time a sweep
// of `rbt-<pid>-…` namespaces whose process is gone (a SIGKILLed run). Cleanup kills every
// process inside the namespace (all were started there by this module's users) and deletes it,
// which removes its veths and bridges too. Addresses are 10.x only, and only inside namespaces.
// Names are unique per process, so test files run in parallel.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What owns a namespace: its teardown removes it. A tap test fits. */
export interface Owner { teardown (fn: () => unknown): void }
interface Tap { fail (msg: string): unknown; comment (...msg: unknown[]): unknown }

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Running commands inside a namespace (bench/vm.ts's VmNetns). */
export interface NsExec {
  /** Runs `cmd args` to completion (killed after `timeoutMs`, default 60 s). */
  run (cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>
  /** Starts `cmd args`; killed at cleanup at the latest. stdio defaults to ignore/pipe/pipe. */
  spawn (cmd: string, args: string[], opts?: SpawnOptions): ChildProcess
}

export interface Netns extends NsExec {
  readonly name: string
  /** Runs a shell script inside the namespace; its stdout, or an error carrying its stderr. */
  sh (script: string): string
  /** `ip -n <name> …args`, synchronously; its stdout, or an error carrying its stderr. */
  ip (...args: string[]): string
  /** run and spawn pinned to one CPU (taskset), when taskset is installed. */
  onCpu (cpu: number): NsExec
  /** Kills what runs inside and deletes the namespace now (also done at cleanup). Idempotent. */
  remove (): void
}

export interface End { ns: Netns; ifname: string; ip: string }
export interface Link { a: End; b: End; prefix: number }

const PREFIX = `rbt-${process.pid}-`
const created = new Set<string>()
const children = new Set<ChildProcess>()
let counter = 0
let subnet = 0
const IP = existsSync('/usr/sbin/ip') ? '/usr/sbin/ip' : existsSync('/sbin/ip') ? '/sbin/ip' : 'ip'
const TASKSET = existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : null
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

/** Null when namespaces can be used (Linux, root, `ip`, and the given commands present), else why not. */
export function netnsUnavailable (commands: string[] = []): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (IP === 'ip' && !has('ip')) return 'ip is not installed (apt-get install iproute2)'
  for (const cmd of commands) if (!has(cmd)) return `${cmd} is not installed`
  return null
}

/**
 * True when `reason` is null. Otherwise outside CI: a comment with the reason and false (the
 * caller returns: the test is skipped); with CI=true: a failure (peers are installed in CI).
 */
export function requireOrSkip (t: Tap, reason: string | null): boolean {
  if (reason === null) return true
  if (process.env.CI === 'true') t.fail(`${reason} (required in CI)`)
  else t.comment(`skipping: ${reason}`)
  return false
}

function ipSync (args: string[]): string {
  const r = spawnSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.error !== undefined) throw r.error
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${String(r.status)}`}`)
  return r.stdout
}

function ip (args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(IP, args, (err, _out, stderr) => { err === null ? resolve() : reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) })
  })
}

/** Kills what runs inside `name` and deletes it. Synchronous: usable from 'exit'. */
function destroy (name: string): void {
  if (!created.has(name)) return
  try {
    const pids = execFileSync(IP, ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    }
  } catch { /* namespace already gone */ }
  try { ipSync(['netns', 'del', name]) } catch { /* already gone */ }
  created.delete(name)
}

/** Removes every namespace this process made, killing what runs in them. Synchronous. */
export function removeAllNetns (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL') } catch { /* gone */ } }
  for (const name of [...created]) destroy(name)
}

// Installed with the first namespace, not at import: importing this module must not change
// how a process handles signals.
let handlersInstalled = false
function installHandlers (): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', removeAllNetns)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      removeAllNetns()
      process.off(sig, handler)
      process.kill(process.pid, sig) // the default action, unless another listener handles it
    }
    process.on(sig, handler)
  }
}

/** Namespaces left by a run that was SIGKILLed: `rbt-<pid>-…` whose pid is gone. */
function sweepStale (): void {
  let names: string[]
  try { names = readdirSync('/run/netns') } catch { return }
  for (const name of names) {
    const m = /^rbt-(\d+)-/.exec(name)
    if (m === null || Number(m[1]) === process.pid) continue
    let alive = true
    try { process.kill(Number(m[1]), 0) } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM' }
    if (!alive) { created.add(name); destroy(name) }
  }
}
if (process.getuid?.() === 0) sweepStale()

function execIn (name: string, cpu?: number): NsExec {
  const argv = (cmd: string, args: string[]): string[] =>
    ['netns', 'exec', name, ...(cpu === undefined || TASKSET === null ? [cmd] : [TASKSET, '-c', String(cpu), cmd]), ...args]
  return {
    run (cmd, args, opts = {}) {
      return new Promise((resolve) => {
        const p = execFile(IP, argv(cmd, args), { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'utf8', killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null
          resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, stdout, stderr })
        })
        children.add(p)
        p.on('exit', () => children.delete(p))
        p.stdin?.on('error', () => {}) // the command may exit before reading its input
        p.stdin?.end(opts.input ?? '')
      })
    },
    spawn (cmd, args, opts = {}) {
      const p = spawn(IP, argv(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
      children.add(p)
      p.on('exit', () => children.delete(p))
      return p
    }
  }
}

/**
 * Creates `rbt-<pid>-<n>-<label>` now, loopback up unless `loopback: false`. It goes at this
 * process's exit (or signal) or at `remove()`; `createNetns` ties it to a test as well.
 */
export function openNetns (label: string, opts: { loopback?: boolean } = {}): Netns {
  installHandlers()
  const name = `${PREFIX}${counter++}-${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}`
  ipSync(['netns', 'add', name])
  created.add(name)
  try {
    if (opts.loopback !== false) ipSync(['-n', name, 'link', 'set', 'lo', 'up'])
  } catch (err) { destroy(name); throw err }
  return {
    name,
    ...execIn(name),
    sh (script) {
      const r = spawnSync(IP, ['netns', 'exec', name, 'sh', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 })
      if (r.error !== undefined) throw r.error
      if (r.status !== 0) throw new Error(`in ${name}: ${script}: ${r.stderr.trim() || `exit ${String(r.status)}`}`)
      return r.stdout
    },
    ip: (...args) => ipSync(['-n', name, ...args]),
    onCpu: (cpu) => execIn(name, cpu),
    remove () { destroy(name) }
  }
}

/** openNetns, removed at `t`'s teardown. */
export async function createNetns (t: Owner, label: string, opts: { loopback?: boolean } = {}): Promise<Netns> {
  const ns = openNetns(label, opts)
  t.teardown(() => { ns.remove() })
  return ns
}

/**
 * Waits until something in `ns` listens on each of `sockets` (`udp:67`, `tcp:8080`, …, read
 * with iproute2's ss); rejects naming those still missing after `ms` (default 20 s), or at once
 * when `proc` (the server expected to listen) exits first.
 */
export async function waitListening (ns: Netns, sockets: string[], opts: { ms?: number; proc?: ChildProcess } = {}): Promise<void> {
  const ms = opts.ms ?? 20_000
  const until = Date.now() + ms
  for (;;) {
    const p = opts.proc
    if (p !== undefined && (p.exitCode !== null || p.signalCode !== null)) throw new Error(`it exited (${String(p.exitCode ?? p.signalCode)}) before listening on ${sockets.join(', ')}`)
    const absent = sockets.filter(s => { const [proto, port] = s.split(':'); return ns.sh(`ss -Hln${proto === 'udp' ? 'u' : 't'} 'sport = :${port}'`).trim() === '' })
    if (absent.length === 0) return
    if (Date.now() > until) throw new Error(`nothing listens on ${absent.join(', ')} after ${ms / 1000} s`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** A veth pair between two namespaces, up, with 10.201.<n>.1/24 on `a` and .2 on `b`. */
export async function veth (a: Netns, b: Netns, opts: { mtu?: number } = {}): Promise<Link> {
  const n = subnet++
  if (n > 255) throw new Error('veth: out of test subnets')
  const id = `${process.pid.toString(36)}${n.toString(36)}`.slice(-8)
  const ia = `rbv${id}a`
  const ib = `rbv${id}b`
  // Created inside `a` so that no interface ever exists in this machine's own namespace.
  await ip(['-n', a.name, 'link', 'add', ia, 'type', 'veth', 'peer', 'name', ib, 'netns', b.name])
  const ends: End[] = [{ ns: a, ifname: ia, ip: `10.201.${n}.1` }, { ns: b, ifname: ib, ip: `10.201.${n}.2` }]
  for (const e of ends) {
    if (opts.mtu !== undefined) await ip(['-n', e.ns.name, 'link', 'set', e.ifname, 'mtu', String(opts.mtu)])
    await ip(['-n', e.ns.name, 'addr', 'add', `${e.ip}/24`, 'dev', e.ifname])
    await ip(['-n', e.ns.name, 'link', 'set', e.ifname, 'up'])
  }
  return { a: ends[0] as End, b: ends[1] as End, prefix: 24 }
}

/**
 * A bridge in `ns` holding `members` (interfaces already in `ns`, their addresses removed),
 * up, with `cidr` (a 10.x address) on the bridge itself when given.
 */
export async function bridge (ns: Netns, name: string, members: string[], cidr?: string): Promise<string> {
  if (cidr !== undefined && !cidr.startsWith('10.')) throw new Error('bridge: test addresses must be in 10.0.0.0/8')
  await ip(['-n', ns.name, 'link', 'add', name, 'type', 'bridge'])
  for (const m of members) {
    await ip(['-n', ns.name, 'addr', 'flush', 'dev', m])
    await ip(['-n', ns.name, 'link', 'set', m, 'master', name])
  }
  if (cidr !== undefined) await ip(['-n', ns.name, 'addr', 'add', cidr, 'dev', name])
  await ip(['-n', ns.name, 'link', 'set', name, 'up'])
  return name
}

/** bench/netem.py: next to this file from source (bench/), one level up compiled (bench/dist/). */
const NETEM_PY = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url))
  return [join(here, 'netem.py'), join(here, '..', 'netem.py')].find(p => existsSync(p)) ?? join(here, 'netem.py')
})()
let netemKernel: boolean | undefined

/**
 * Loss and delay on the egress of `ifname` in `ns`: `tc qdisc add dev IF root netem loss L% delay Dms`
 * where the kernel has sch_netem; otherwise (kernels built without it, such as this project's
 * machines) the same through iptables' NFQUEUE and netem.py, a userspace stand-in that drops with
 * probability L and releases the rest after D ms. Undone when the namespace goes.
 */
export async function impair (ns: Netns, ifname: string, opts: { lossPct: number; delayMs: number; seed?: number }): Promise<'netem' | 'nfqueue'> {
  if (netemKernel !== false) {
    const r = await ns.run('tc', ['qdisc', 'add', 'dev', ifname, 'root', 'netem', 'loss', `${opts.lossPct}%`, 'delay', `${opts.delayMs}ms`])
    netemKernel = r.code === 0
    if (netemKernel) return 'netem'
  }
  const queue = 7
  const rule = await ns.run('iptables', ['-A', 'OUTPUT', '-o', ifname, '-j', 'NFQUEUE', '--queue-num', String(queue), '--queue-bypass'])
  if (rule.code !== 0) throw new Error(`impair: neither tc netem nor iptables NFQUEUE works: ${rule.stderr.trim()}`)
  // stdin stays open: the stand-in exits when this process (its stdin's writer) dies.
  const p = ns.spawn('python3', [NETEM_PY, String(queue), String(opts.lossPct), String(opts.delayMs), String(opts.seed ?? 1)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  p.stderr?.on('data', (d) => { err += String(d) })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`netem.py did not start: ${err}`)), 10_000)
    p.stdout?.once('data', () => { clearTimeout(timer); resolve() })
    p.once('exit', (code) => { clearTimeout(timer); reject(new Error(`netem.py exited ${String(code)}: ${err}`)) })
  })
  return 'nfqueue'
}
