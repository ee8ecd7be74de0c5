// Shared helpers for benchmarks: statistics, child processes, CPU pinning.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Prefix for pinning a child to one CPU (the benchmark process takes the other). */
export function pinned (cpu: number, cmd: string, args: string[]): [string, string[]] {
  return existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]
}

/** Spawns a child that is killed when this process exits, whatever the reason. */
export function child (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env })
  const kill = () => { if (p.exitCode === null) p.kill('SIGKILL') }
  process.once('exit', kill)
  p.once('exit', () => process.off('exit', kill))
  return p
}

export async function waitHttp (url: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    try { if ((await fetch(url)).ok) return } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/**
 * Network namespaces for benchmarks (root only): created with `ip netns add rbb-<pid>-<name>`,
 * every process inside killed and the namespace deleted at exit, whatever ends the run.
 */
const namespaces = new Set<string>()
function dropNamespaces (): void {
  for (const ns of namespaces) {
    try {
      const pids = execFileSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)
      for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch { /* gone */ } }
      execFileSyncQuiet('ip', ['netns', 'del', ns])
    } catch { /* already gone */ }
  }
  namespaces.clear()
}
// Installed with the first namespace, not at import: importing this module (the tests take
// freePort from here) must not change how a process handles signals.
let cleanupInstalled = false
function installCleanup (): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', dropNamespaces)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { dropNamespaces(); process.exit(130) })
}

function execFileSyncQuiet (cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
}

export function netns (name: string): string {
  const ns = `rbb-${process.pid}-${name}`
  installCleanup()
  execFileSyncQuiet('ip', ['netns', 'add', ns])
  namespaces.add(ns)
  execFileSyncQuiet('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  return ns
}

export function removeNetns (ns: string): void {
  if (!namespaces.has(ns)) return
  const pids = execFileSyncQuiet('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)
  for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch { /* gone */ } }
  execFileSyncQuiet('ip', ['netns', 'del', ns])
  namespaces.delete(ns)
}

/** Runs a shell command inside `ns`, throwing with its stderr on failure. */
export function nsSh (ns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' })
}

/**
 * `ns` as bench/vm.ts (and so bootVm) wants it: `run` a command inside it to completion, or
 * `spawn` one there (pinned to `cpu` when given; `ip netns exec` and taskset exec, so the
 * child's pid is the command's). What it starts dies with the namespace at the latest.
 */
export function nsHandle (ns: string, cpu?: number): {
  run: (cmd: string, args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>
  spawn: (cmd: string, args: string[], opts?: SpawnOptions) => ChildProcess
} {
  const argv = (cmd: string, args: string[]): string[] => ['netns', 'exec', ns, ...(cpu === undefined ? [cmd, ...args] : pinned(cpu, cmd, args).flat())]
  return {
    run: (cmd, args) => new Promise(resolve => {
      execFile('ip', argv(cmd, args), { encoding: 'utf8' }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
      })
    }),
    spawn: (cmd, args, opts = {}) => spawn('ip', argv(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  }
}

/** Resident set size of a process, in MiB (0 when it is gone). */
export function rssMiB (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch { return 0 }
}

/** A loopback TCP port that was free a moment ago (also the tests' helper: test/helpers/daemon.ts). */
export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise(resolve => srv.close(resolve))
  return port
}
