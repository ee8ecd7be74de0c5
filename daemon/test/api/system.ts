import t from 'tap'
import { build } from '../helpers/build.js'

t.test('healthz, metrics, OpenAPI and docs', async t => {
  const { app, auth, store } = await build(t)
  let res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { status: 'ok', version: /^\d+\.\d+\.\d+/ })

  await app.inject({ url: '/api/v1/machines', headers: auth() })
  res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  t.match(res.body, /# TYPE rackboot_api_requests_total counter/)
  t.match(res.body, /rackboot_api_requests_total\{method="GET",route="\/api\/v1\/machines",status="200"\} 1/)
  t.match(res.body, /# TYPE rackboot_machines gauge/)

  res = await app.inject({ url: '/api/v1/openapi.json', headers: auth() })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.0.3')
  t.same(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } })
  const paths = Object.keys(doc.paths).sort()
  t.same(paths, ['/api/v1/clusters', '/api/v1/clusters/{name}', '/api/v1/clusters/{name}/ca.crt', '/api/v1/clusters/{name}/kubeconfig', '/api/v1/clusters/{name}/manifests', '/api/v1/events', '/api/v1/events/stream', '/api/v1/images', '/api/v1/images/{name}', '/api/v1/lans', '/api/v1/lans/{name}', '/api/v1/leases', '/api/v1/machines', '/api/v1/machines/{id}', '/api/v1/machines/{id}/boot-device', '/api/v1/machines/{id}/deprovision', '/api/v1/machines/{id}/power', '/api/v1/machines/{id}/reprovision', '/api/v1/machines/{id}/timeline', '/api/v1/machines:import', '/api/v1/pools', '/api/v1/pools/{name}', '/api/v1/pools/{name}/allocations', '/api/v1/pools/{name}/allocations/{id}', '/healthz', '/metrics'])
  // every route documents its request and response
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>)) {
    for (const [method, op] of Object.entries(ops)) t.ok(op.responses !== undefined && Object.keys(op.responses).length > 0, `${method} ${path} has responses`)
  }
  t.ok(doc.paths['/api/v1/machines'].post.requestBody, 'POST /machines has a request body schema')

  res = await app.inject({ url: '/docs' })
  t.equal(res.statusCode, 200, 'docs page is served without a token')
  t.match(res.body, /swagger-ui/i)
  res = await app.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200, 'the OpenAPI document is public, as the README says')
  t.same(Object.keys(res.json().paths).sort(), paths, 'the docs page reads the same document')
  store.write(() => store.machines.create({ hostname: 'n1', macs: ['52:54:00:00:00:01'], lan: 'prov' }, 'test'))
  res = await app.inject({ url: '/docs/yaml' })
  t.equal(res.statusCode, 200)
  t.match(res.body, /^openapi: 3\.0\.3/m)
  t.notOk(/52:54:00|rbt_/.test(res.body), 'and it holds no inventory data or tokens')

  res = await app.inject({ url: '/nope' })
  t.same([res.statusCode, res.json().code], [404, 'RB_ROUTE_NOT_FOUND'])

  store.close()
  res = await app.inject({ url: '/healthz' })
  t.equal(res.statusCode, 503, 'healthz reports a dead database')
})
