import t from 'tap'
import { build, mac } from '../helpers/build.js'

t.test('create, get, update, delete', async t => {
  const { app, auth } = await build(t)
  let res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'Node-1', macs: ['52-54-00-AA-BB-01'], lan: 'prov', ipv4: '10.77.0.10', role: 'worker', labels: { rack: 'r1' }, bmc: { address: '10.78.0.10', mac: '5254.00aa.bb99' } } })
  t.equal(res.statusCode, 201)
  const m = res.json()
  t.equal(res.headers.location, `/api/v1/machines/${m.id}`)
  t.match(m, { hostname: 'node-1', macs: ['52:54:00:aa:bb:01'], lan: 'prov', ipv4: '10.77.0.10', role: 'worker', labels: { rack: 'r1' }, bmc: { address: '10.78.0.10', mac: '52:54:00:aa:bb:99' }, state: 'ready', netboot: true, image: null })

  res = await app.inject({ url: `/api/v1/machines/${m.id}`, headers: auth() })
  t.same(res.json(), m)

  res = await app.inject({ method: 'PATCH', url: `/api/v1/machines/${m.id}`, headers: auth(), payload: { image: 'debian-k8s', netboot: false, role: null } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { image: 'debian-k8s', netboot: false, role: null, hostname: 'node-1' })

  res = await app.inject({ method: 'PATCH', url: `/api/v1/machines/${m.id}`, headers: auth(), payload: {} })
  t.equal(res.statusCode, 400, 'an empty patch is an error')

  res = await app.inject({ method: 'DELETE', url: `/api/v1/machines/${m.id}`, headers: auth() })
  t.equal(res.statusCode, 204)
  res = await app.inject({ url: `/api/v1/machines/${m.id}`, headers: auth() })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { code: 'RB_NOT_FOUND', message: `machine ${m.id} does not exist`, field: 'params.id' })
  res = await app.inject({ method: 'DELETE', url: `/api/v1/machines/${m.id}`, headers: auth() })
  t.equal(res.statusCode, 404)
})

t.test('validation errors name the field', async t => {
  const { app, auth, store } = await build(t)
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: payload as object })
  let res = await post({ hostname: 'n1', macs: ['52:54:00:00:00:zz'], lan: 'prov' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'RB_VALIDATION')
  t.equal(res.json().field, 'body.macs[0]')
  t.match(res.json().message, /^body\.macs\[0\] "52:54:00:00:00:zz" is not a MAC address/)

  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.300' })
  t.equal(res.json().field, 'body.ipv4')
  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'prov', color: 'red' })
  t.same([res.json().field, res.json().message], ['body.color', 'body.color is not a known key; allowed: hostname, macs, lan, ipv4, image, role, labels, bmc, state, netboot, installDisk, network, cluster'])
  res = await post({ hostname: 'n1', lan: 'prov' })
  t.same([res.json().field, res.json().message], ['body.macs', 'body.macs is required'])
  res = await post({ hostname: 'n1', macs: [], lan: 'prov' })
  t.equal(res.json().field, 'body.macs')
  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'prov', state: 'booting' })
  t.match(res.json(), { field: 'body.state', message: /^body\.state must be one of "discovered", "ready", .*, not "booting"$/ })
  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'prov', labels: { 'bad key!': 'x' } })
  t.equal(res.json().field, 'body.labels.bad key!')
  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'lab' })
  t.same(res.json(), { code: 'RB_LAN_UNKNOWN', message: 'lan "lab" is not configured (configured: prov, bmc)', field: 'lan' })
  t.equal(res.statusCode, 422)
  res = await post({ hostname: 'n1', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.110' })
  t.equal(res.statusCode, 422)
  t.equal(res.json().code, 'RB_IP_INVALID')

  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"hostname": ' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'RB_BAD_REQUEST')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(res.statusCode, 415)
  t.equal(res.json().code, 'RB_UNSUPPORTED_MEDIA_TYPE')
  res = await app.inject({ url: '/api/v1/machines/a%20b', headers: auth() })
  t.same([res.statusCode, res.json().field], [400, 'params.id'], 'neither an id, a MAC nor a hostname')
  res = await app.inject({ url: '/api/v1/machines?limit=5000', headers: auth() })
  t.same([res.statusCode, res.json().field], [400, 'querystring.limit'])
  t.equal(store.machines.count(), 0, 'nothing was written by any bad request')
})

t.test('conflicts are 409 with the field and the owner', async t => {
  const { app, auth } = await build(t)
  await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'n1', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.10' } })
  const cases: Array<[object, string, string]> = [
    [{ hostname: 'n2', macs: [mac(2), 'AA:BB:CC:DD:EE:FF', mac(1).toUpperCase()], lan: 'prov' }, 'RB_CONFLICT_MAC', 'macs[2]'],
    [{ hostname: 'N1', macs: [mac(2)], lan: 'prov' }, 'RB_CONFLICT_HOSTNAME', 'hostname'],
    [{ hostname: 'n2', macs: [mac(2)], lan: 'prov', ipv4: '10.77.0.10' }, 'RB_CONFLICT_IP', 'ipv4']
  ]
  for (const [payload, code, field] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload })
    t.equal(res.statusCode, 409, code)
    t.match(res.json(), { code, field, message: /machine 1/ })
  }
})

t.test('lookup by MAC in any notation, filters and pagination', async t => {
  const { app, auth } = await build(t)
  const rows = Array.from({ length: 250 }, (_, i) => ({ hostname: `n${i + 1}`, macs: [mac(i + 1)], lan: i % 10 === 0 ? 'bmc' : 'prov', labels: { rack: `r${i % 4}` }, state: i < 5 ? 'discovered' : 'ready' }))
  const imp = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: auth(), payload: rows })
  t.equal(imp.statusCode, 201)

  for (const notation of ['52:54:00:00:00:2a', '52-54-00-00-00-2A', '5254.0000.002a', '52540000002A']) {
    const res = await app.inject({ url: `/api/v1/machines?mac=${encodeURIComponent(notation)}`, headers: auth() })
    t.same(res.json().items.map((m: { hostname: string }) => m.hostname), ['n42'], notation)
  }
  let res = await app.inject({ url: '/api/v1/machines?mac=52:54:00:ff:ff:ff', headers: auth() })
  t.same(res.json(), { items: [], next: null })
  res = await app.inject({ url: '/api/v1/machines?hostname=N7', headers: auth() })
  t.equal(res.json().items[0].hostname, 'n7')

  res = await app.inject({ url: '/api/v1/machines?lan=bmc&limit=1000', headers: auth() })
  t.equal(res.json().items.length, 25)
  res = await app.inject({ url: '/api/v1/machines?state=discovered', headers: auth() })
  t.equal(res.json().items.length, 5)
  res = await app.inject({ url: '/api/v1/machines?label=rack=r1&label=rack&lan=prov&limit=1000', headers: auth() })
  t.ok(res.json().items.every((m: { labels: { rack: string }; lan: string }) => m.labels.rack === 'r1' && m.lan === 'prov'))
  t.equal(res.json().items.length, rows.filter(r => r.labels.rack === 'r1' && r.lan === 'prov').length)
  res = await app.inject({ url: '/api/v1/machines?label=rack!=r1&limit=1000', headers: auth() })
  t.equal(res.json().items.length, rows.filter(r => r.labels.rack !== 'r1').length)
  res = await app.inject({ url: '/api/v1/machines?label==x', headers: auth() })
  t.same([res.statusCode, res.json().field], [400, 'querystring.label[0]'])

  const ids: number[] = []
  let next: string | null = null
  let pages = 0
  do {
    res = await app.inject({ url: `/api/v1/machines?limit=100${next === null ? '' : `&after=${next}`}`, headers: auth() })
    const page = res.json() as { items: Array<{ id: number }>; next: string | null }
    ids.push(...page.items.map(m => m.id))
    next = page.next
    pages++
  } while (next !== null)
  t.equal(pages, 3, 'no empty trailing page')
  t.equal(ids.length, 250)
  t.equal(new Set(ids).size, 250, 'no duplicates across pages')
  t.same(ids, [...ids].sort((a, b) => a - b), 'stable order')
})

t.test('lifecycle: an illegal state change is 409', async t => {
  const { app, auth } = await build(t)
  const m = (await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'n1', macs: [mac(1)], lan: 'prov', state: 'discovered' } })).json()
  const res = await app.inject({ method: 'PATCH', url: `/api/v1/machines/${m.id}`, headers: auth(), payload: { state: 'provisioned' } })
  t.equal(res.statusCode, 409)
  t.same(res.json(), { code: 'RB_STATE_TRANSITION', message: `machine ${m.id} cannot go from discovered to provisioned`, field: 'state' })
})

t.test('a machine in a path is its id, a MAC or its hostname (issue 12)', async t => {
  const { app, auth } = await build(t)
  const m = (await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'node-7', macs: [mac(7), mac(8)], lan: 'prov' } })).json()
  for (const ref of [String(m.id), 'node-7', 'NODE-7', mac(8), '52-54-00-00-00-07', '525400000007']) {
    const res = await app.inject({ url: `/api/v1/machines/${ref}`, headers: auth() })
    t.same([res.statusCode, res.json().id], [200, m.id], ref)
  }
  let res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/node-7', headers: auth(), payload: { role: 'worker' } })
  t.same([res.statusCode, res.json().role], [200, 'worker'])
  res = await app.inject({ url: `/api/v1/machines/node-7/timeline`, headers: auth() })
  t.equal(res.statusCode, 200)
  res = await app.inject({ url: '/api/v1/machines/node-9', headers: auth() })
  t.same([res.statusCode, res.json()], [404, { code: 'RB_NOT_FOUND', message: 'no machine with hostname node-9', field: 'params.id' }])
  res = await app.inject({ url: '/api/v1/machines/52:54:00:00:00:99', headers: auth() })
  t.same([res.statusCode, res.json().message], [404, 'no machine with MAC 52:54:00:00:00:99'])
  res = await app.inject({ method: 'POST', url: `/api/v1/machines/${mac(7)}/reprovision`, headers: auth() })
  t.equal(res.statusCode, 200)
  res = await app.inject({ method: 'DELETE', url: '/api/v1/machines/node-7', headers: auth() })
  t.equal(res.statusCode, 204)
})

t.test('an image that is not installed is refused, naming the installed ones (issue 12)', async t => {
  const { app, auth, store } = await build(t)
  store.machines.images = () => ({ names: ['testos'], dir: '/srv/images' })
  let res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'n1', macs: [mac(1)], lan: 'prov', image: 'nosuch' } })
  t.same([res.statusCode, res.json()], [422, { code: 'RB_IMAGE_UNKNOWN', message: 'image "nosuch" is not in boot.imagesDir (/srv/images) (installed: testos)', field: 'image' }])
  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'n1', macs: [mac(1)], lan: 'prov', image: 'testos' } })
  t.equal(res.statusCode, 201)
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/n1', headers: auth(), payload: { image: 'other' } })
  t.same([res.statusCode, res.json().code], [422, 'RB_IMAGE_UNKNOWN'])
  store.machines.images = () => ({ names: [], dir: '/srv/images' })
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/n1', headers: auth(), payload: { role: 'worker' } })
  t.equal(res.statusCode, 200, 'a change that leaves the image alone passes even when the image went away')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'n2', macs: [mac(2)], lan: 'nowhere', image: 'x' } })
  t.equal(res.statusCode, 422)
  t.same(res.json().errors.map((e: { code: string }) => e.code), ['RB_LAN_UNKNOWN', 'RB_IMAGE_UNKNOWN'], 'both problems at once')
})

t.test('an image the machine\'s firmware cannot boot is refused (RB_IMAGE_ARCH); unseen machines are not checked', async t => {
  const { app, auth, store } = await build(t)
  store.machines.images = () => ({ names: ['node', 'node-arm'], dir: '/srv/images', arch: new Map([['node', 'x86_64'], ['node-arm', 'arm64']]) })
  let res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'a0', macs: [mac(2)], lan: 'prov', image: 'node-arm' } })
  t.equal(res.statusCode, 201, 'never seen by DHCP: any image')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: 'a1', macs: [mac(1)], lan: 'prov' } })
  const id = (res.json() as { id: number }).id
  store.machines.seen(id, { arch: '11', uuid: null }, Date.now())
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/a1', headers: auth(), payload: { image: 'node' } })
  t.same([res.statusCode, res.json()], [422, { code: 'RB_IMAGE_ARCH', message: 'image "node" is for x86_64, but this machine\'s firmware reported arm64 (DHCP option 93 = 11)', field: 'image' }])
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/a1', headers: auth(), payload: { image: 'node-arm' } })
  t.equal(res.statusCode, 200, 'an arm64 image for an arm64 machine')
  store.machines.seen(id, { arch: '7', uuid: null }, Date.now())
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/a1', headers: auth(), payload: { image: 'node' } })
  t.equal(res.statusCode, 200, 'x86-64 UEFI (7) boots x86_64')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/a1', headers: auth(), payload: { role: 'worker' } })
  t.equal(res.statusCode, 200, 'a change that leaves the image alone is not checked')
})
