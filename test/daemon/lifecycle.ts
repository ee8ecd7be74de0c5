// The daemon process: signals, reload, restarts, and a SIGKILL in the middle of writes.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { bootLoopback, cli, freePort, LANS, serve, tempDir, writeConfig } from '../helpers/daemon.js'

async function setup (t: { teardown (fn: () => unknown): void }) {
  const dir = tempDir(t)
  const port = await freePort()
  const file = writeConfig(dir, port, LANS)
  const token = (await cli(['token', 'create', '--name', 'admin', '--config', file])).stdout.trim()
  const api = (url: string, base: string, init: RequestInit = {}) => fetch(base + url, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } })
  return { dir, port, file, token, api }
}

const machine = (i: number) => JSON.stringify({ hostname: `n${i}`, macs: [`52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`], lan: 'prov' })

t.test('SIGTERM drains and exits 0; the inventory is there after a restart', async t => {
  const { file, port, api } = await setup(t)
  let d = await serve(t, file, port)
  const created = await (await api('/api/v1/machines', d.url, { method: 'POST', body: machine(1) })).json() as { id: number }
  d.proc.kill('SIGTERM')
  t.same(await d.exited, { code: 0, signal: null })
  t.ok(d.logs().some(l => l.msg === 'stopped'), 'logged its shutdown')
  d = await serve(t, file, port)
  const again = await (await api(`/api/v1/machines/${created.id}`, d.url)).json() as { hostname: string }
  t.equal(again.hostname, 'n1')
  d.proc.kill('SIGINT')
  t.same(await d.exited, { code: 0, signal: null }, 'SIGINT too')
})

t.test('a second signal exits at once, while the first still drains', async t => {
  const { file, port } = await setup(t)
  const d = await serve(t, file, port)
  // A request whose headers never finish keeps the drain waiting (up to its deadline).
  const sock = connect(port, '127.0.0.1')
  await new Promise(resolve => sock.once('connect', resolve))
  sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
  t.teardown(() => sock.destroy())
  d.proc.kill('SIGTERM')
  await d.waitLog(l => l.msg === 'shutting down')
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(d.proc.exitCode, null, 'still draining')
  const t0 = Date.now()
  d.proc.kill('SIGTERM')
  t.same(await d.exited, { code: 130, signal: null })
  t.ok(Date.now() - t0 < 2000, 'exited at once')
})

t.test('SIGHUP applies a valid config and keeps the old one when the new one is bad', async t => {
  const { file, port, api } = await setup(t)
  const d = await serve(t, file, port)
  const lanNames = async () => ((await (await api('/api/v1/lans', d.url)).json()) as { items: Array<{ name: string }> }).items.map(l => l.name)
  t.same(await lanNames(), ['prov'])

  writeFileSync(file, `dataDir: ${join(file, '..', 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:${port} }\n${bootLoopback(join(file, '..'))}${LANS}  - name: bmc\n    interface: br-bmc\n    subnet: 10.78.0.0/24\n    address: 10.78.0.1\n`)
  d.proc.kill('SIGHUP')
  const ok = await d.waitLog(l => l.msg === 'config reloaded')
  t.same(ok.applied, ['lans'])
  t.same(await lanNames(), ['prov', 'bmc'])
  const res = await api('/api/v1/machines', d.url, { method: 'POST', body: JSON.stringify({ hostname: 'b1', macs: ['52:54:00:00:00:b1'], lan: 'bmc', ipv4: '10.78.0.20' }) })
  t.equal(res.status, 201, 'the new LAN is usable at once')

  writeFileSync(file, `dataDir: ${join(file, '..', 'var')}\napi: { listen: 127.0.0.1:${port} }\nlans:\n  - name: prov\n    interface: br-prov\n    subnet: 10.77.0.0/24\n    address: 10.99.0.1\n`)
  d.proc.kill('SIGHUP')
  const bad = await d.waitLog(l => l.msg === 'new config is invalid; keeping the running config')
  t.same(bad.problems, [`${file}:7: lans[0].address: 10.99.0.1 is not a host address in the subnet 10.77.0.0/24`])
  t.same(await lanNames(), ['prov', 'bmc'], 'still serving the previous config')

  writeFileSync(file, `dataDir: ${join(file, '..', 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:1 }\n${bootLoopback(join(file, '..'))}${LANS}`)
  d.proc.kill('SIGHUP')
  const partial = await d.waitLog(l => l.msg === 'config reloaded; some keys need a restart')
  t.same(partial.needsRestart, ['api.listen'])
  t.equal((await api('/healthz', d.url)).status, 200, 'still listening where it was')
  t.ok(d.logs().some(l => l.msg === 'machines are registered on a LAN that is not configured' && l.lan === 'bmc'), 'warns about machines left on a removed LAN')
})

t.test('SIGKILL during a write storm loses no acknowledged row and leaves a database that opens', async t => {
  const { dir, file, port, api } = await setup(t)
  let d = await serve(t, file, port)
  const acked: string[] = []
  let next = 1
  let killed = false
  const writer = async () => {
    while (!killed && next <= 3000) {
      const i = next++
      try {
        const res = await api('/api/v1/machines', d.url, { method: 'POST', body: machine(i) })
        if (res.status === 201) acked.push(`n${i}`)
      } catch { /* the daemon is gone */ }
    }
  }
  const writers = Promise.all([writer(), writer(), writer(), writer()])
  while (acked.length < 200) await new Promise(resolve => setTimeout(resolve, 20))
  d.proc.kill('SIGKILL')
  killed = true
  await writers
  t.same(await d.exited, { code: null, signal: 'SIGKILL' })
  t.ok(acked.length >= 200, `${acked.length} machines acknowledged before the kill`)

  const db = new Database(join(dir, 'var', 'rackboot.db'))
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  const stored = new Set(db.prepare('SELECT hostname FROM machines').pluck().all() as string[])
  db.close()
  t.same(acked.filter(h => !stored.has(h)), [], 'every acknowledged machine is stored')

  d = await serve(t, file, port)
  const res = await api('/api/v1/machines?limit=1000', d.url)
  t.equal(res.status, 200, 'the daemon starts on the recovered database')
})
