// The power API against a real BMC simulator (ipmi_sim in a namespace): a machine registered
// with its BMC, its live power state, power on/off, the next boot device, each on its
// timeline; a wrong password a clear 502 tried once; a machine without BMC settings a 422; the
// password write-only, sealed in the database, and in no log line.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { netnsUnavailable, requireOrSkip } from '../../../bench/netns.js'
import { buildApi } from '../../src/api/app.js'
import { BmcService } from '../../src/bmc/service.js'
import { Metrics } from '../../src/metrics.js'
import { Store } from '../../src/store/index.js'
import { parseConfig } from '../../src/config/load.js'
import { ipmiSim, ipmiSimUnavailable } from '../../../test/helpers/ipmi-sim.js'
import { tempDir } from '../helpers/build.js'

t.test('power and boot device through the API, on ipmi_sim', async t => {
  if (!requireOrSkip(t, netnsUnavailable() ?? ipmiSimUnavailable())) return
  const dir = tempDir(t)
  const sim = await ipmiSim(t, join(dir, 'sim'))
  const loaded = parseConfig(`dataDir: ${join(dir, 'var')}\nlans:\n  - name: prov\n    interface: br-prov\n    subnet: 10.77.0.0/24\n    address: 10.77.0.1\n    provisionWithBmc: true\n  - name: mgmt\n    interface: br-mgmt\n    subnet: 127.0.0.0/8\n    address: 127.0.0.254\n`, 'test.yaml')
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  let logged = ''
  const log = pino({ level: 'debug' }, new Writable({ write (chunk, _enc, done) { logged += String(chunk); done() } }))
  const bmcService = new BmcService(store, log, () => ({ ipmitool: sim.ipmitool, timeoutS: 1, retry: { attempts: 3, backoffMs: 100, deadlineMs: 20_000 } }))
  const app = await buildApi({ store, lans: () => loaded.lans, log, metrics: new Metrics({ defaults: false }), bmcService })
  await app.ready()
  t.teardown(async () => { await app.close(); store.close() })
  const rw = store.tokens.create('admin', false).token
  const ro = store.tokens.create('viewer', true).token
  const auth = (token = rw) => ({ authorization: `Bearer ${token}` })

  let res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'node-1', macs: ['52:54:00:00:50:01'], lan: 'prov', bmc: { driver: 'ipmi', address: sim.address, username: sim.user, password: sim.password, cipherSuite: 3 } } })
  t.equal(res.statusCode, 201, res.body)
  const machineId = res.json().id as number
  t.match(res.json().bmc, { driver: 'ipmi', address: '127.0.0.1', username: 'admin', passwordSet: true, cipherSuite: 3, powerState: null })
  t.notOk(res.body.includes(sim.password), 'the password is never in an answer')
  t.notOk('password' in res.json().bmc)

  res = await app.inject({ url: '/api/v1/machines/node-1/power', headers: auth(ro) })
  t.same([res.statusCode, res.json()], [200, { machine: 'node-1', state: 'off', attempts: 1 }], 'the live power state (a read-only token may read it)')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/power', headers: auth(ro), payload: { action: 'on' } })
  t.equal(res.statusCode, 403, 'a read-only token cannot power a machine')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/power', headers: auth(), payload: { action: 'on' } })
  t.same([res.statusCode, res.json()], [200, { machine: 'node-1', state: 'on', attempts: 1 }])
  t.equal(sim.power(), '1', 'the chassis is on')
  res = await app.inject({ method: 'PUT', url: '/api/v1/machines/node-1/boot-device', headers: auth(), payload: { device: 'pxe' } })
  t.same(res.json(), { machine: 'node-1', device: 'pxe', once: true, mode: 'bios', attempts: 1 })
  t.equal(sim.boot(), 'pxe', 'PXE set for the next boot')
  res = await app.inject({ url: '/api/v1/machines/node-1', headers: auth() })
  t.match(res.json().bmc, { powerState: 'on', powerCheckedAt: /^\d{4}-/ })
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/power', headers: auth(), payload: { action: 'bounce' } })
  t.equal(res.statusCode, 400, 'an unknown action is refused')

  const events = store.events.list({ machineId, limit: 50, order: 'asc' }).map(e => `${e.type}${e.detail.action === undefined ? '' : `:${String(e.detail.action)}`}`)
  t.same(events.filter(e => e.startsWith('bmc.') || e.startsWith('machine.power')), ['bmc.status', 'machine.power', 'bmc.power:on', 'machine.power', 'bmc.boot-device'], 'each operation, and each power change, on the timeline')

  // Provisioning acts: reprovision with power sets PXE once and cycles (or powers on) the
  // machine; deprovision with power powers it off. Each step on the timeline.
  const provisioned = (id: number) => store.write(() => { store.machines.update(id, { state: 'provisioning' }, 'test'); store.machines.update(id, { state: 'provisioned', netboot: false }, 'test') })
  provisioned(machineId)
  const callsBefore = sim.calls().length
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/reprovision', headers: auth(), payload: { power: true } })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { state: 'ready', netboot: true })
  // A BMC's power cycle is off now, on a moment later (ipmi_sim: after its cycle interval).
  for (let i = 0; i < 100 && !(sim.calls().slice(callsBefore).includes('set power 1') && sim.power() === '1'); i++) await new Promise(resolve => setTimeout(resolve, 100))
  const acted = sim.calls().slice(callsBefore)
  t.ok(acted.includes('set boot pxe'), `PXE for the next boot (${acted.join(', ')})`)
  t.ok(acted.indexOf('set boot pxe') < acted.indexOf('set power 0'), 'before the power action')
  t.ok(acted.indexOf('set power 0') >= 0 && acted.indexOf('set power 1') > acted.indexOf('set power 0'), 'the machine was on: power-cycled (off, then on)')
  t.equal(sim.power(), '1')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/deprovision', headers: auth(), payload: { power: true } })
  t.match([res.statusCode, res.json()], [200, { state: 'ready', netboot: false, bmc: { powerState: 'off' } }])
  t.equal(sim.power(), '0', 'deprovision with power: off')
  await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/reprovision', headers: auth(), payload: { power: true } })
  t.equal(sim.power(), '1', 'reprovision of a machine that is off: powered on')
  const steps = store.events.list({ machineId, limit: 100, order: 'asc' }).map(e => e.type).filter(ty => ty === 'machine.reprovision' || ty.startsWith('bmc.'))
  t.same(steps.slice(-4), ['machine.reprovision', 'bmc.boot-device', 'bmc.status', 'bmc.power'], 'each step on the timeline')

  // A wrong password: 502 with the reason, tried once, on the timeline.
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/node-1', headers: auth(), payload: { bmc: { password: 'not-the-password' } } })
  t.equal(res.statusCode, 200)
  const calls = sim.calls().length
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/power', headers: auth(), payload: { action: 'off' } })
  t.match([res.statusCode, res.json()], [502, { code: 'RB_BMC_AUTH', message: /node-1's BMC \(127\.0\.0\.1\): the BMC refused the user name or password \(.*RAKP 2 HMAC is invalid/ }])
  t.equal(sim.calls().length, calls, 'nothing reached the chassis')
  t.equal(sim.power(), '1', 'still on')
  const err = store.events.list({ type: 'bmc.error', limit: 5 })[0]
  t.match(err?.detail, { op: 'power', action: 'off', kind: 'auth', attempts: 1 })

  // The power poll: a BMC that refuses is one bmc.poll event, not one per pass; once it answers
  // again, that too, and a power state changed behind rackboot's back is a machine.power event.
  const polls = () => store.events.list({ machineId, type: 'bmc.poll', limit: 20 }).length
  t.equal(await bmcService.pollOnce(), 0, 'a poll with the wrong password: nobody answered')
  t.equal(polls(), 1)
  await bmcService.pollOnce()
  t.equal(polls(), 1, 'the same error again is not recorded again')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/node-1', headers: auth(), payload: { bmc: { password: sim.password } } })
  const changes = () => store.events.list({ machineId, type: 'machine.power', limit: 50 }).length
  const changesBefore = changes()
  const r = await sim.ns.run('sh', ['-c', `IPMITOOL_PASSWORD='${sim.password}' ipmitool -I lanplus -H ${sim.address} -U ${sim.user} -E -C 3 chassis power off`])
  t.equal(r.code, 0, 'powered off behind rackboot\'s back')
  t.equal(await bmcService.pollOnce(), 1)
  t.match(store.events.list({ machineId, type: 'bmc.poll', limit: 1, order: 'desc' })[0]?.detail, { outcome: 'answering again' })
  t.equal(store.machines.get(machineId)?.bmc.powerState, 'off', 'the poll updated the last known state')
  t.equal(changes(), changesBefore + 1, 'and recorded the change')
  await bmcService.pollOnce()
  t.equal(changes(), changesBefore + 1, 'no change, no event')

  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'node-2', macs: ['52:54:00:00:50:02'], lan: 'prov', bmc: { address: '10.78.0.2' } } })
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-2/power', headers: auth(), payload: { action: 'on' } })
  t.match([res.statusCode, res.json()], [422, { code: 'RB_BMC_NOT_CONFIGURED', message: /node-2 has no bmc\.driver, bmc\.username, bmc\.password/ }])
  provisioned(store.machines.getByHostname('node-2')?.id ?? 0)
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-2/reprovision', headers: auth(), payload: { power: true } })
  t.match([res.statusCode, res.json().code], [422, 'RB_BMC_NOT_CONFIGURED'])
  t.equal(store.machines.getByHostname('node-2')?.state, 'provisioned', 'nothing changed when the BMC cannot be driven')
  // LAN prov has provisionWithBmc: a plain reprovision acts through the BMC of a machine that has
  // a driver, and leaves one without (node-2) to be powered on by hand.
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-2/reprovision', headers: auth() })
  t.match([res.statusCode, res.json()], [200, { state: 'ready', netboot: true }])
  provisioned(machineId)
  const plain = sim.calls().length
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/node-1/reprovision', headers: auth() })
  t.equal(res.statusCode, 200, res.body)
  t.ok(sim.calls().slice(plain).includes('set boot pxe'), 'provisionWithBmc: PXE set without {"power": true}')

  // The password: sealed in the database, never in the log.
  store.close()
  for (const f of readdirSync(join(dir, 'var'))) {
    if (f === 'secrets.key') continue
    const bytes = readFileSync(join(dir, 'var', f))
    t.equal(bytes.indexOf(sim.password), -1, `${f}: no BMC password in clear`)
    t.equal(bytes.indexOf('not-the-password'), -1, `${f}: nor the wrong one`)
  }
  t.ok(logged.length > 0)
  t.notOk(logged.includes(sim.password) || logged.includes('not-the-password'), 'no password in the log')
})
