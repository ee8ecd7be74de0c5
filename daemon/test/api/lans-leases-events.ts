import t from 'tap'
import { once } from 'node:events'
import { build, mac } from '../helpers/build.js'
import type { Built } from '../helpers/build.js'
import { sqlite } from '../helpers/build.js'

/** A lease row in any state (the DHCP service writes only bound, declined and released ones). */
function addLease (t: { teardown (fn: () => unknown): void }, b: Built, lan: string, ipv4: string, m: string, state = 'bound', expiresIn = 3600_000) {
  const now = Date.now()
  sqlite(t, b.loaded.config.dataDir).prepare('INSERT INTO leases (lan, ipv4, mac, state, starts_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(lan, ipv4, m, state, now, now + expiresIn, now)
}

t.test('LANs with pool usage', async t => {
  const b = await build(t)
  const { app, auth } = b
  await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'a', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.10' } })
  addLease(t, b, 'prov', '10.77.0.100', mac(2))
  addLease(t, b, 'prov', '10.77.0.101', mac(3), 'offered')
  addLease(t, b, 'prov', '10.77.0.102', mac(4), 'bound', -1000) // expired
  addLease(t, b, 'prov', '10.77.0.103', mac(5), 'released')
  addLease(t, b, 'prov', '10.77.0.10', mac(1)) // the reservation, outside the pool
  const res = await app.inject({ url: '/api/v1/lans', headers: auth() })
  t.equal(res.statusCode, 200)
  const [prov, bmc] = res.json().items
  t.match(prov, { name: 'prov', interface: 'br-prov', relay: false, subnet: '10.77.0.0/24', leaseTime: 3600, unknownMachines: 'ignore', machines: 1, reservations: 1, activeLeases: 3 })
  t.same(prov.pool, { range: '10.77.0.100-10.77.0.150', size: 51, leased: 2, free: 49 })
  t.equal(bmc.pool, null)
  const one = await app.inject({ url: '/api/v1/lans/bmc', headers: auth() })
  t.equal(one.json().name, 'bmc')
  const missing = await app.inject({ url: '/api/v1/lans/nope', headers: auth() })
  t.equal(missing.statusCode, 404)
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /rackboot_lan_pool_used\{lan="prov"\} 2/)
  t.match(metrics, /rackboot_lan_pool_size\{lan="prov"\} 51/)
})

t.test('leases: filters and cursor pages', async t => {
  const b = await build(t)
  const { app, auth } = b
  for (let i = 0; i < 30; i++) addLease(t, b, 'prov', `10.77.0.${100 + i}`, mac(i), i % 3 === 0 ? 'released' : 'bound')
  addLease(t, b, 'bmc', '10.78.0.50', mac(99))
  let res = await app.inject({ url: '/api/v1/leases?lan=prov&state=bound&limit=7', headers: auth() })
  let all = res.json().items
  while (res.json().next !== null) {
    res = await app.inject({ url: `/api/v1/leases?lan=prov&state=bound&limit=7&after=${encodeURIComponent(res.json().next)}`, headers: auth() })
    all = all.concat(res.json().items)
  }
  t.equal(all.length, 20)
  t.ok(all.every((l: { state: string; lan: string }) => l.state === 'bound' && l.lan === 'prov'))
  res = await app.inject({ url: `/api/v1/leases?mac=${mac(99).replace(/:/g, '-')}`, headers: auth() })
  t.same(res.json().items.map((l: { ipv4: string }) => l.ipv4), ['10.78.0.50'])
  res = await app.inject({ url: '/api/v1/leases?mac=zz', headers: auth() })
  t.same([res.statusCode, res.json().field], [400, 'querystring.mac'])
})

t.test('events: filters, newest first, pages', async t => {
  const { app, auth } = await build(t)
  for (let i = 1; i <= 5; i++) await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: `n${i}`, macs: [mac(i)], lan: i === 5 ? 'bmc' : 'prov' } })
  await app.inject({ method: 'PATCH', url: '/api/v1/machines/2', headers: auth(), payload: { role: 'worker' } })
  let res = await app.inject({ url: '/api/v1/events', headers: auth() })
  t.same(res.json().items.map((e: { type: string }) => e.type), ['machine.updated', 'machine.created', 'machine.created', 'machine.created', 'machine.created', 'machine.created'])
  t.equal(res.json().items[0].actor, 'api:admin')
  res = await app.inject({ url: '/api/v1/events?machine=2&order=asc', headers: auth() })
  t.same(res.json().items.map((e: { type: string }) => e.type), ['machine.created', 'machine.updated'])
  res = await app.inject({ url: '/api/v1/events?lan=bmc', headers: auth() })
  t.equal(res.json().items.length, 1)
  res = await app.inject({ url: '/api/v1/events?type=machine.updated', headers: auth() })
  t.equal(res.json().items.length, 1)
  res = await app.inject({ url: '/api/v1/events?limit=4', headers: auth() })
  const next = res.json().next
  t.equal(res.json().items.length, 4)
  res = await app.inject({ url: `/api/v1/events?limit=4&after=${next}`, headers: auth() })
  t.same(res.json().items.map((e: { id: number }) => e.id), [2, 1])
  t.equal(res.json().next, null)
})

t.test('events stream: Server-Sent Events, replay from Last-Event-ID, filters', async t => {
  const { app, auth, rw } = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const post = (i: number, lan = 'prov') => app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: `n${i}`, macs: [mac(i)], lan } })
  await post(1)

  const events: Array<{ id: number; type: string; lan: string }> = []
  const ac = new AbortController()
  const res = await fetch(`${base}/api/v1/events/stream?lan=prov`, { headers: { authorization: `Bearer ${rw}`, 'last-event-id': '0' }, signal: ac.signal })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  const reader = (async () => {
    const dec = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true })
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2)
          const data = block.split('\n').find(l => l.startsWith('data: '))
          if (data !== undefined) events.push(JSON.parse(data.slice(6)))
          if (events.length === 3) ac.abort()
        }
      }
    } catch (err) { if (!ac.signal.aborted) throw err }
  })()
  await post(2, 'bmc') // filtered out
  await post(3)
  await post(4)
  await reader
  t.same(events.map(e => [e.type, e.lan]), [['machine.created', 'prov'], ['machine.created', 'prov'], ['machine.created', 'prov']])
  t.same(events.map(e => e.id), [1, 3, 4], 'replayed #1, then live #3 and #4, in order, once each')
})

t.test('closing the app ends open streams', async t => {
  const { app, rw } = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/events/stream`, { headers: { authorization: `Bearer ${rw}` } })
  const body = res.body as unknown as AsyncIterable<Uint8Array>
  const done = (async () => { for await (const _ of body) { /* drain */ } return 'ended' })()
  const closed = app.close()
  t.equal(await Promise.race([done, new Promise(resolve => setTimeout(() => resolve('timeout'), 3000))]), 'ended')
  await closed
  void once
})
