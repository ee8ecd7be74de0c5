// Issue 12: any body gets a 4xx with an RB_* code (never Fastify's own shape, never a 500):
// JSON nested thousands of levels deep, deep values where a field expects a string.
import t from 'tap'
import { build } from '../helpers/build.js'
import { preview } from '../../src/api/validation.js'
import { nestingDepth, MAX_BODY_DEPTH } from '../../src/api/app.js'

/** `[[[…]]]` (or `{"a":{"a":…}}`) `depth` levels deep, as text: built without recursion. */
const deep = (depth: number, kind: 'array' | 'object' = 'array') => kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

t.test('deeply nested bodies: 400 RB_BAD_REQUEST on POST, PATCH and import', async t => {
  const { app, auth, store } = await build(t)
  const m = store.write(() => store.machines.create({ hostname: 'n1', macs: ['52:54:00:00:00:01'], lan: 'prov' }, 'test'))
  const headers = { ...auth(), 'content-type': 'application/json' }
  for (const [method, url] of [['POST', '/api/v1/machines'], ['PATCH', `/api/v1/machines/${m.id}`], ['POST', '/api/v1/machines:import']] as const) {
    for (const kind of ['array', 'object'] as const) {
      const res = await app.inject({ method, url, headers, payload: deep(5000, kind) })
      t.equal(res.statusCode, 400, `${method} ${url} ${kind}`)
      t.same(res.json(), { code: 'RB_BAD_REQUEST', message: `the request body is nested deeper than ${MAX_BODY_DEPTH} levels` })
    }
  }
  const inField = `{"hostname": ${deep(30)}, "macs": ["52:54:00:00:00:02"], "lan": "prov"}`
  const res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers, payload: inField })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'RB_VALIDATION', field: 'body.hostname' })
  t.equal(res.json().message, 'body.hostname must be a string, not a list')
  t.match(store.machines.get(m.id), { hostname: 'n1' }, 'nothing changed')
})

t.test('preview and nestingDepth never recurse', async t => {
  let v: unknown = 1
  for (let i = 0; i < 100_000; i++) v = [v]
  t.equal(nestingDepth(v, 32), 33, 'stops counting past the limit')
  t.equal(preview(v), '[[[[[[[[…]]]]]]]]', 'eight levels shown, the rest elided')
  t.equal(preview({ a: 'x'.repeat(1000) }), `{"a":"${'x'.repeat(74)}`)
  t.equal(preview([1, 'two', null, true, { k: [] }]), '[1,"two",null,true,{"k":[]}]')
  t.equal(nestingDepth({ a: [1, { b: 2 }] }, 32), 3)
})
