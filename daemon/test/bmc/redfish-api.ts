// The power API with a Redfish BMC (the DMTF-shaped test service of test/helpers: no Redfish
// emulator is installable here): settings with a CA file or a pinned fingerprint, power and
// boot device reaching the system, every operation logged out afterwards.
import t from 'tap'
import { join } from 'node:path'
import pino from 'pino'
import { buildApi } from '../../src/api/app.js'
import { BmcService } from '../../src/bmc/service.js'
import { certFingerprint } from '../../src/bmc/redfish.js'
import { Metrics } from '../../src/metrics.js'
import { Store } from '../../src/store/index.js'
import { redfishService } from '../../../test/helpers/redfish-service.js'
import { config, tempDir } from '../helpers/build.js'

t.test('a Redfish machine through the API', async t => {
  const dir = tempDir(t)
  const svc = await redfishService({ user: 'root', password: 'Rf-api-9', dir })
  t.teardown(svc.close)
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const log = pino({ level: 'silent' })
  const app = await buildApi({ store, lans: () => loaded.lans, log, metrics: new Metrics({ defaults: false }), bmcService: new BmcService(store, log, () => ({ ipmitool: 'ipmitool', timeoutS: 1, retry: { attempts: 2, backoffMs: 50, deadlineMs: 10_000 } })) })
  await app.ready()
  t.teardown(async () => { await app.close(); store.close() })
  const headers = { authorization: `Bearer ${store.tokens.create('admin', false).token}` }

  let res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers, payload: { hostname: 'rf-1', macs: ['52:54:00:00:80:01'], lan: 'prov', bmc: { driver: 'redfish', address: '127.0.0.1', port: svc.port, username: 'root', password: 'Rf-api-9', caFile: join(dir, 'bmc.crt') } } })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.json().bmc, { driver: 'redfish', port: svc.port, caFile: join(dir, 'bmc.crt'), tlsVerify: null, passwordSet: true })
  res = await app.inject({ url: '/api/v1/machines/rf-1/power', headers })
  t.same([res.statusCode, res.json()], [200, { machine: 'rf-1', state: 'off', attempts: 1 }], res.body)
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/rf-1/power', headers, payload: { action: 'on' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(svc.state.power, 'On')
  res = await app.inject({ method: 'PUT', url: '/api/v1/machines/rf-1/boot-device', headers, payload: { device: 'pxe', mode: 'uefi' } })
  t.equal(res.statusCode, 200, res.body)
  t.match(svc.state.boot, { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' })
  t.equal(svc.sessions(), 0, 'every operation logged out')

  // Pinned instead of a CA; then without either: refused as untrusted, and nothing sent.
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/rf-1', headers, payload: { bmc: { caFile: null, fingerprint: certFingerprint(svc.cert) } } })
  t.equal(res.statusCode, 200, res.body)
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/rf-1/power', headers, payload: { action: 'soft' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(svc.state.power, 'Off')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/rf-1', headers, payload: { bmc: { fingerprint: null } } })
  const before = svc.calls.length
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/rf-1/power', headers, payload: { action: 'on' } })
  t.match([res.statusCode, res.json()], [502, { code: 'RB_BMC_AUTH', message: /TLS certificate is not trusted/ }])
  t.equal(svc.calls.length, before, 'no request reached an unverified server')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/rf-1', headers, payload: { bmc: { tlsVerify: false } } })
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/rf-1/power', headers, payload: { action: 'on' } })
  t.equal(res.statusCode, 200, 'verification off (configured): accepted')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/rf-1', headers, payload: { bmc: { fingerprint: 'not-hex' } } })
  t.match([res.statusCode, res.json().field], [400, 'body.bmc.fingerprint'])
})
