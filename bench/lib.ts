// Shared helpers for benchmarks: statistics, child processes, CPU pinning.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'

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
