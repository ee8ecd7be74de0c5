import t from 'tap'
import { build } from '../helpers/build.js'

const body = { hostname: 'n1', macs: ['52:54:00:00:00:01'], lan: 'prov' }

t.test('every /api/v1 route needs a bearer token, and says why when refused', async t => {
  const { app, store, rw, ro } = await build(t)
  const routes: Array<[string, string]> = [
    ['GET', '/api/v1/machines'], ['GET', '/api/v1/machines/1'], ['POST', '/api/v1/machines'], ['PATCH', '/api/v1/machines/1'],
    ['DELETE', '/api/v1/machines/1'], ['POST', '/api/v1/machines:import'], ['GET', '/api/v1/lans'], ['GET', '/api/v1/lans/prov'],
    ['GET', '/api/v1/leases'], ['GET', '/api/v1/events'], ['GET', '/api/v1/events/stream'], ['GET', '/api/v1/openapi.json']
  ]
  for (const [method, url] of routes) {
    const res = await app.inject({ method: method as 'GET', url })
    t.equal(res.statusCode, 401, `${method} ${url}`)
    t.equal(res.json().code, 'RB_AUTH_MISSING')
    t.equal(res.headers['www-authenticate'], 'Bearer realm="rackboot"')
  }
  let res = await app.inject({ url: '/api/v1/machines', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })
  t.same(res.json(), { code: 'RB_AUTH_INVALID', message: 'the Authorization header must be "Bearer <token>"' })
  res = await app.inject({ url: '/api/v1/machines', headers: { authorization: 'Bearer rbt_nope' } })
  t.same(res.json(), { code: 'RB_AUTH_INVALID', message: 'the bearer token is not valid (unknown or revoked)' })
  res = await app.inject({ url: '/api/v1/machines', headers: { authorization: `bearer ${rw}` } })
  t.equal(res.statusCode, 200, 'scheme is case-insensitive')

  res = await app.inject({ url: '/api/v1/machines', headers: { authorization: `Bearer ${ro}` } })
  t.equal(res.statusCode, 200, 'read-only token reads')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: { authorization: `Bearer ${ro}` }, payload: body })
  t.equal(res.statusCode, 403)
  t.same(res.json(), { code: 'RB_AUTH_READ_ONLY', message: 'token "viewer" is read-only; POST /api/v1/machines needs a read-write token' })
  t.equal(store.machines.count(), 0, 'nothing written')

  store.tokens.revoke('admin')
  res = await app.inject({ url: '/api/v1/machines', headers: { authorization: `Bearer ${rw}` } })
  t.equal(res.statusCode, 401, 'revoked token refused at once')

  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /rackboot_api_auth_failures_total\{code="RB_AUTH_MISSING"\} 12/)
  t.match(metrics, /rackboot_api_auth_failures_total\{code="RB_AUTH_READ_ONLY"\} 1/)
})

t.test('tokens never reach the log', async t => {
  const lines: string[] = []
  const { Writable } = await import('node:stream')
  const pino = (await import('pino')).default
  const { createLogger } = await import('../../src/log.js')
  const dest = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const log = createLogger({ level: 'trace', format: 'json', destination: dest as unknown as ReturnType<typeof pino.destination> })
  const { Store } = await import('../../src/store/index.js')
  const { buildApi } = await import('../../src/api/app.js')
  const { Metrics } = await import('../../src/metrics.js')
  const { config } = await import('../helpers/build.js')
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const app = await buildApi({ store, lans: () => loaded.lans, log, metrics: new Metrics({ defaults: false }) })
  t.teardown(async () => { await app.close(); store.close() })
  const { token } = store.tokens.create('admin', false)
  await app.inject({ url: '/api/v1/machines', headers: { authorization: `Bearer ${token}` } })
  await app.inject({ url: '/api/v1/machines', headers: { authorization: `Bearer ${token}x` } })
  log.info({ token, headers: { authorization: `Bearer ${token}` } }, 'an accidental log call with secrets')
  const all = lines.join('')
  t.ok(lines.length >= 3, 'requests were logged')
  t.notOk(all.includes(token), 'no token in any log line')
  t.match(all, /\[redacted\]/)
})
