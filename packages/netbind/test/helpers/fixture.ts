// The netbind tests' fixtures (Node scripts in ../fixtures/) run inside network namespaces made
// with the repository's one namespace helper, bench/netns.ts (removed at each test's teardown);
// a fixture reports one JSON object per stdout line and may take commands on stdin.
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { netnsUnavailable, type NsExec } from '../../../../bench/netns.js'

export const inCI = process.env.CI === 'true' || process.env.CI === '1'
export const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** For `t.test(name, { skip }, …)`: outside CI a missing prerequisite skips with the reason; with CI=true it fails. */
export function netnsSkip (t: Test): string | false {
  const reason = netnsUnavailable()
  if (reason === null) return false
  if (inCI) t.fail(`${reason} (required in CI)`)
  else t.comment(`skipping network namespace tests: ${reason}`)
  return reason
}

export interface NodeResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Starts `node <fixture> ...args` inside `ns` (killed when the namespace goes). */
export function startFixture (ns: NsExec, fixture: string, args: string[]): Fixture {
  const child = ns.spawn(process.execPath, [fixturesDir + fixture, ...args], { stdio: 'pipe', cwd: fixturesDir })
  return new Fixture(child as ChildProcessWithoutNullStreams)
}

/** Runs a fixture inside `ns` to completion (killed after `timeoutMs`, default 20 s). */
export async function runFixture (ns: NsExec, fixture: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<NodeResult> {
  const f = startFixture(ns, fixture, args)
  f.child.stdin.end()
  return await collect(f.child, opts.timeoutMs ?? 20_000)
}

/** Collects a child's output until it exits; kills it after `timeoutMs`. */
export async function collect (child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<NodeResult> {
  const fixture = new Fixture(child)
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await fixture.exited
  clearTimeout(timer)
  return { code, stdout: fixture.stdout, stderr: fixture.stderr }
}

/** A running fixture that reports one JSON object per stdout line. */
export class Fixture {
  stdout = ''
  stderr = ''
  readonly exited: Promise<number | null>
  private waiters: Array<() => void> = []

  constructor (readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.wake() })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => { this.wake(); resolve(code) })
    })
  }

  private wake (): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves with JSON line number `n` (0-based); rejects if the process exits first. */
  async line<T> (n: number, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const lines = this.stdout.split('\n')
      const line = lines[n]
      if (line !== undefined && lines.length > n + 1) return JSON.parse(line) as T
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`fixture exited before line ${n}; stdout: ${this.stdout} stderr: ${this.stderr}`)
      }
      if (Date.now() > deadline) throw new Error(`no line ${n} within ${timeoutMs} ms; stderr: ${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Sends one command line to the fixture's stdin. */
  send (line: string): void {
    this.child.stdin.write(line + '\n')
  }
}

/** The last line of a fixture's stdout, parsed as JSON. */
export function lastJson<T> (stdout: string): T {
  const lines = stdout.trim().split('\n')
  const last = lines[lines.length - 1]
  if (last === undefined || last === '') throw new Error('fixture printed nothing')
  return JSON.parse(last) as T
}
