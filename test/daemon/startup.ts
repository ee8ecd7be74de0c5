// Issue 12: what an operator hits when starting the daemon, each in one line naming the cause
// and the fix; a service that cannot serve shows in /healthz and rackboot_service_up.
import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { BOOT_LOOPBACK, cli, freePort, LANS, MAIN, serve, tempDir, writeConfig } from '../helpers/daemon.js'
import { requireOrSkip } from '../../bench/netns.js'

/** `rackboot serve` run to its exit (for starts that must fail). */
function serveToExit (config: string, opts: { uid?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = opts.uid === undefined ? spawn(process.execPath, [MAIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawnAs(opts.uid, config)
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', d => { stdout += String(d) })
    p.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => { p.kill('SIGKILL') }, 20_000)
    p.on('error', reject)
    p.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/**
 * `rackboot serve` as another user. Through a shell that drops NODE_OPTIONS: tap adds its
 * coverage hook there, and as another user that hook cannot write its files (and prints a stack).
 */
function spawnAs (uid: number, config: string) {
  return spawn('sh', ['-c', 'unset NODE_OPTIONS; exec "$@"', 'sh', process.execPath, MAIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], uid, gid: uid })
}

t.test('a second daemon on the same dataDir is refused, naming the PID that holds it', async t => {
  const dir = tempDir(t)
  const port = await freePort()
  const first = await serve(t, writeConfig(dir, port), port)
  const second = await serveToExit(writeConfig(dir, await freePort(), '', 'second.yaml'))
  t.equal(second.code, 1)
  t.match(second.stderr, `rackboot: cannot start: dataDir ${join(dir, 'var')} is in use by another rackboot (PID ${first.proc.pid ?? 0}): stop it first, or give this one another dataDir\n`)
  t.notMatch(second.stderr + second.stdout, /\n\s+at /, 'no stack trace')
  // the token commands still open the database while the daemon runs
  const token = await cli(['token', 'create', '--name', 'ops', '--config', writeConfig(dir, port, '', 'third.yaml')])
  t.equal(token.code, 0, token.stderr)
  first.proc.kill('SIGKILL')
  await first.exited
  const again = await serve(t, writeConfig(dir, await freePort(), '', 'fourth.yaml'), 0)
  t.ok(again.proc.pid !== undefined, 'a SIGKILLed daemon leaves no stale lock')
})

t.test('the API port in use: one line with the cause and how to find who holds it', async t => {
  const dir = tempDir(t)
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const r = await serveToExit(writeConfig(dir, port))
  t.equal(r.code, 1)
  t.match(r.stderr, `rackboot: cannot start: api.listen 127.0.0.1:${port}: the address is already in use by another program`)
  t.notMatch(r.stderr + r.stdout, /\n\s+at /, 'no stack trace')
})

t.test('without root: an unwritable dataDir, then TFTP on port 69, each in one sentence; /healthz says degraded', async t => {
  if (!requireOrSkip(t, process.getuid?.() === 0 ? null : 'running as another user needs root')) return
  const dir = tempDir(t)
  chmodSync(dir, 0o755) // nobody may read the config, not write here
  const port = await freePort()
  const config = join(dir, 'rackboot.yaml')
  const yaml = (dataDir: string, boot: string) => `dataDir: ${dataDir}\nlog: { level: info, format: json }\napi: { listen: 127.0.0.1:${port} }\n${boot}${LANS}`
  writeFileSync(config, yaml(join(dir, 'var'), BOOT_LOOPBACK))
  chmodSync(config, 0o644)
  const r = await serveToExit(config, { uid: 65534 })
  t.equal(r.code, 1)
  t.match(r.stderr, `rackboot: cannot start: dataDir ${join(dir, 'var')}: permission denied`)
  t.match(r.stderr, /rackboot runs as uid 65534: make the directory writable by it/)
  t.notMatch(r.stderr + r.stdout, /\n\s+at /, `no stack trace: ${r.stderr}${r.stdout}`)

  // a writable dataDir, and TFTP on its real port (on loopback: nothing leaves this host)
  const data = join(dir, 'data')
  mkdirSync(data)
  chownSync(data, 65534, 65534)
  writeFileSync(config, yaml(data, 'boot: { tftp: "127.0.0.1:69", http: "127.0.0.1:0" }\ndhcp: { enabled: false }\n'))
  const p = spawnAs(65534, config)
  t.teardown(() => { p.kill('SIGKILL') })
  let out = ''
  p.stdout.on('data', d => { out += String(d) })
  const deadline = Date.now() + 20_000
  while (!out.includes('rackboot started') && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  const lines = out.trim().split('\n').map(l => JSON.parse(l) as { level: number; msg: string })
  const tftp = lines.filter(l => /TFTP is not serving/.test(l.msg))
  t.equal(tftp.length, 1, 'one line')
  t.match(tftp[0]?.msg, 'TFTP is not serving: boot.tftp 127.0.0.1:69: permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability')
  t.notMatch(out, /"stack"/, `no stack trace in the log: ${out}`)
  const res = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.equal(res.status, 503)
  const body = await res.json() as { status: string; services: Record<string, { ok: boolean; problem?: string }> }
  t.equal(body.status, 'degraded')
  t.match(body.services, { api: { ok: true }, 'boot-http': { ok: true }, tftp: { ok: false, problem: /CAP_NET_BIND_SERVICE/ } })
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  t.match(metrics, /rackboot_service_up\{service="tftp"\} 0/)
  t.match(metrics, /rackboot_service_up\{service="boot-http"\} 1/)
})
