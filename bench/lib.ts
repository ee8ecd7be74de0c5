// Shared helpers for benchmarks: statistics, child processes, CPU pinning (namespaces: netns.ts).
import { spawn, type ChildProcess } from 'node:child_process'
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

/** Stops a child: SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild (p: ChildProcess, graceMs = 5_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise(resolve => p.once('exit', resolve))
  p.kill('SIGTERM')
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export async function waitHttp (url: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    try { if ((await fetch(url)).ok) return } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
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
