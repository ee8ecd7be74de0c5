// Network namespaces for the netbind tests. Every namespace is created by the test that uses
// it, named `rbn-<pid>-<random>-<role>`, and deleted in t.teardown (and, as a last resort, on
// process exit). Broadcast traffic only ever flows between namespaces made here; nothing binds
// or sends on the host's own interfaces.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export const inCI = process.env.CI === 'true' || process.env.CI === '1'
export const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** Why namespace tests cannot run here, or undefined if they can. */
export function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root'
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' })
  if (ip.error !== undefined || ip.status !== 0) return '`ip` (iproute2) is not installed'
  return undefined
}

/** Outside CI a missing prerequisite skips with the reason; with CI=true it fails. */
export function netnsSkip (t: Test): string | false {
  const reason = netnsUnavailable()
  if (reason === undefined) return false
  if (inCI) t.fail(`${reason} (required in CI)`)
  else t.comment(`skipping network namespace tests: ${reason}`)
  return reason
}

function run (cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.error !== undefined) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.status)}): ${r.stderr.trim()}`)
  return r.stdout
}

export interface NodeResult {
  code: number | null
  stdout: string
  stderr: string
}

/** A set of namespaces and the processes started in them, all removed by `cleanup()`. */
export class Lab {
  readonly prefix = `rbn-${process.pid}-${randomBytes(3).toString('hex')}`
  private readonly namespaces: string[] = []
  private readonly children = new Set<ChildProcessWithoutNullStreams>()
  private readonly onExit = (): void => { this.cleanupSync() }

  constructor (t: Test) {
    process.once('exit', this.onExit)
    t.teardown(() => {
      process.removeListener('exit', this.onExit)
      this.cleanupSync()
    })
  }

  /** Creates namespace `<prefix>-<role>` (loopback left down) and returns its name. */
  netns (role: string): string {
    const name = `${this.prefix}-${role}`
    run('ip', ['netns', 'add', name])
    this.namespaces.push(name)
    return name
  }

  /** `ip -n <ns> ...args` */
  ip (ns: string, ...args: string[]): string {
    return run('ip', ['-n', ns, ...args])
  }

  /** Starts `node <fixture> ...args` inside `ns`; the child is killed in cleanup. */
  spawnNode (ns: string, fixture: string, args: string[]): ChildProcessWithoutNullStreams {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, fixturesDir + fixture, ...args],
      { stdio: 'pipe', cwd: fixturesDir })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Starts a fixture and wraps it to read its JSON lines. */
  start (ns: string, fixture: string, args: string[]): Fixture {
    return new Fixture(this.spawnNode(ns, fixture, args))
  }

  /** Runs a fixture to completion (killed after `timeoutMs`). */
  async runNode (ns: string, fixture: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<NodeResult> {
    const child = this.spawnNode(ns, fixture, args)
    child.stdin.end()
    return await collect(child, opts.timeoutMs ?? 20_000)
  }

  private cleanupSync (): void {
    for (const child of this.children) child.kill('SIGKILL')
    this.children.clear()
    for (const ns of this.namespaces.splice(0).reverse()) {
      // Deleting a namespace removes its veth/dummy links (and a veth's peer with it).
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    }
  }
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
