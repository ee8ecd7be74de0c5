// Runs the real rackboot process (node daemon/dist/main.js) for integration tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const MAIN = join(ROOT, 'daemon/dist/main.js')

interface Tap { teardown (fn: () => unknown): void }

export function tempDir (t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-it-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export { freePort } from '../../bench/lib.js'

export interface Cli { code: number | null; stdout: string; stderr: string }

/** Runs `rackboot ARGS` to completion. */
export function cli (args: string[], env: Record<string, string> = {}, input?: string): Promise<Cli> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', d => { stdout += String(d) })
    p.stderr.on('data', d => { stderr += String(d) })
    p.on('error', reject)
    p.on('close', code => resolve({ code, stdout, stderr }))
    p.stdin.end(input ?? '')
  })
}

export interface Running {
  proc: ChildProcess
  url: string
  logs: () => Array<Record<string, any>>
  waitLog: (pred: (l: Record<string, any>) => boolean, ms?: number) => Promise<Record<string, any>>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * For daemons run in this machine's own network namespace: LAN-facing listeners on loopback
 * ephemeral ports (never the real 0.0.0.0:69) and no DHCP at all (tests that serve DHCP run
 * the daemon inside a namespace they made: test/helpers/dhcp-lab.ts).
 */
export const BOOT_LOOPBACK = 'boot: { tftp: "127.0.0.1:0", http: "127.0.0.1:0" }\ndhcp: { enabled: false }\n'

/**
 * Writes a config into `dir` and returns its path. Its boot.ipxeDir is `dir`/ipxe with
 * stand-ins for the iPXE binaries (these tests boot nothing), so that it passes check-config
 * on a host without Debian's ipxe package.
 */
export function writeConfig (dir: string, port: number, lansYaml = '', name = 'rackboot.yaml'): string {
  const file = join(dir, name)
  writeFileSync(file, `dataDir: ${join(dir, 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:${port} }\n${bootLoopback(dir)}${lansYaml}`)
  return file
}

/** BOOT_LOOPBACK with boot.ipxeDir at `dir`/ipxe, holding stand-ins for the iPXE binaries. */
export function bootLoopback (dir: string): string {
  const ipxe = join(dir, 'ipxe')
  mkdirSync(ipxe, { recursive: true })
  for (const f of ['undionly.kpxe', 'ipxe.efi', 'ipxe-arm64.efi']) writeFileSync(join(ipxe, f), `stand-in for ${f}\n`)
  return BOOT_LOOPBACK.replace('}', `, ipxeDir: ${ipxe} }`)
}

/**
 * Starts `rackboot serve --config FILE` and waits until it listens. Killed at teardown.
 * `netns` (bench/netns.ts) runs it inside that network namespace.
 */
export async function serve (t: Tap, configFile: string, port: number, opts: { netns?: { spawn: (cmd: string, args: string[]) => ChildProcess } } = {}): Promise<Running> {
  const args = [MAIN, 'serve', '--config', configFile]
  const proc = opts.netns !== undefined ? opts.netns.spawn(process.execPath, args) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Array<Record<string, any>> = []
  const waiters: Array<{ pred: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }> = []
  let buf = ''
  let stderr = ''
  proc.stdout?.on('data', d => {
    buf += String(d)
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1)
      let obj: Record<string, any>
      try { obj = JSON.parse(line) } catch { obj = { raw: line } }
      lines.push(obj)
      for (const w of [...waiters]) if (w.pred(obj)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(obj) }
    }
  })
  proc.stderr?.on('data', d => { stderr += String(d) })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => proc.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited }
  })
  const waitLog = (pred: (l: Record<string, any>) => boolean, ms = 10_000) => {
    const found = lines.find(pred)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise<Record<string, any>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log line not seen in ${ms} ms; stderr: ${stderr}; lines: ${JSON.stringify(lines.slice(-5))}`)), ms)
      waiters.push({ pred, resolve: l => { clearTimeout(timer); resolve(l) } })
    })
  }
  await Promise.race([
    waitLog(l => l.msg === 'rackboot started'),
    exited.then(e => { throw new Error(`rackboot exited early (${JSON.stringify(e)}): ${stderr}`) })
  ])
  return { proc, url: `http://127.0.0.1:${port}`, logs: () => lines, waitLog, exited }
}

export const LANS = `lans:
  - name: prov
    interface: br-prov
    subnet: 10.77.0.0/24
    address: 10.77.0.1
    gateway: 10.77.0.1
    pool: 10.77.0.100-10.77.0.150
`
