import t from 'tap'
import { build, mac } from '../helpers/build.js'

t.test('JSON import: all rows or none', async t => {
  const { app, auth, store } = await build(t)
  const good = [{ hostname: 'a', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.10' }, { hostname: 'b', macs: [mac(2)], lan: 'bmc' }]
  let res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: auth(), payload: { machines: good } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().created, 2)
  t.same(res.json().machines.map((m: { hostname: string }) => m.hostname), ['a', 'b'])

  const before = store.events.list({ limit: 1000 }).length
  const bad = [
    { hostname: 'c', macs: [mac(3)], lan: 'prov' },
    { hostname: 'd', macs: [mac(1)], lan: 'prov' }, // MAC taken by a
    { hostname: 'e', macs: ['nope'], lan: 'prov' }, // schema
    { hostname: 'f', macs: [mac(3)], lan: 'prov' }, // MAC taken by c, earlier in this import
    { hostname: 'g', macs: [mac(7)], lan: 'prov', ipv4: '10.77.0.120' } // in the pool
  ]
  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: auth(), payload: bad })
  t.equal(res.statusCode, 422)
  const body = res.json()
  t.equal(body.code, 'RB_IMPORT_INVALID')
  t.equal(body.message, '4 problems in 4 of 5 rows; nothing was imported')
  t.same(body.errors.map((e: { row: number; code: string; field: string }) => [e.row, e.code, e.field]), [
    [2, 'RB_CONFLICT_MAC', 'macs[0]'],
    [3, 'RB_VALIDATION', 'macs[0]'],
    [4, 'RB_CONFLICT_MAC', 'macs[0]'],
    [5, 'RB_IP_INVALID', 'ipv4']
  ])
  t.match(body.errors[2].message, /^row 4: macs\[0\] 52:54:00:00:00:03 already belongs to machine \d+ \(c\)$/)
  t.equal(store.machines.count(), 2, 'row 1 (valid) was rolled back with the rest')
  t.equal(store.machines.getByHostname('c'), null)
  t.equal(store.events.list({ limit: 1000 }).length, before, 'no events from the failed import')
})

t.test('CSV import with per-row errors and line numbers', async t => {
  const { app, auth, store } = await build(t)
  const csv = [
    'hostname,mac,lan,ip,role,labels,bmc_address,bmc_mac,netboot',
    '# rack 1',
    'r1-n1,52:54:00:00:01:01;52:54:00:00:02:01,prov,10.77.0.11,worker,rack=r1;zone=a,10.78.0.11,52:54:00:00:03:01,yes',
    '"r1-n2",52-54-00-00-01-02,prov,,control-plane,"rack=r1",,,false',
    ''
  ].join('\n')
  let res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: csv })
  t.equal(res.statusCode, 201, res.body)
  const [n1, n2] = res.json().machines
  t.match(n1, { hostname: 'r1-n1', macs: ['52:54:00:00:01:01', '52:54:00:00:02:01'], ipv4: '10.77.0.11', role: 'worker', labels: { rack: 'r1', zone: 'a' }, bmc: { address: '10.78.0.11', mac: '52:54:00:00:03:01' }, netboot: true })
  t.match(n2, { hostname: 'r1-n2', ipv4: null, netboot: false, role: 'control-plane' })

  const bad = [
    'hostname,macs,lan,netboot',
    'ok-1,52:54:00:00:09:01,prov,true',
    'bad host,52:54:00:00:09:02,prov,true',
    'ok-2,52:54:00:00:09:03,nowhere,maybe'
  ].join('\n')
  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv; charset=utf-8' }, payload: bad })
  t.equal(res.statusCode, 422)
  t.same(res.json().errors.map((e: { row: number; line: number; field: string }) => [e.row, e.line, e.field]), [[2, 3, 'hostname'], [3, 4, 'netboot'], [3, 4, 'lan']], 'every fault of a row, with its CSV line')
  t.match(res.json().errors[2].message, /^row 3 \(line 4\): lan "nowhere" is not configured \(configured: prov, bmc\)$/)
  t.equal(store.machines.count(), 2)

  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'hostname,mac,rack\nx,52:54:00:00:00:01,r1\n' })
  t.same(res.json(), { code: 'RB_VALIDATION', message: 'unknown CSV column rack; known: hostname, macs, lan, ipv4, image, role, labels, bmc_address, bmc_mac, bmc_driver, bmc_port, bmc_username, bmc_password, bmc_cipher_suite, bmc_tls_verify, bmc_ca_file, bmc_fingerprint, bmc_system_id, state, netboot, install_disk, network, cluster', field: 'body' })
  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'hostname,mac\n"x,52:54\n' })
  t.equal(res.json().code, 'RB_VALIDATION')
  t.match(res.json().message, /^the CSV cannot be parsed: /)
  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: auth(), payload: { nope: 1 } })
  t.equal(res.statusCode, 400)
  res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: auth(), payload: [] })
  t.same(res.json().message, 'body has no machines to import')
})

t.test('a body over api.bodyLimit is refused with 413', async t => {
  const { app, auth } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'x'.repeat(17 * 1024 * 1024) })
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'RB_PAYLOAD_TOO_LARGE')
})

t.test('one row with several faults reports each of them', async t => {
  const { app, auth, store } = await build(t)
  store.write(() => store.machines.create({ hostname: 'taken', macs: [mac(50)], lan: 'prov', ipv4: '10.77.0.20' }, 'test'))
  const csv = 'hostname,mac,lan,ip,labels\ntaken,52:54:00:00:00:32,prov,10.77.0.120,oops\n'
  const res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: csv })
  t.equal(res.statusCode, 422)
  t.same(res.json().errors.map((e: { field: string; code: string }) => [e.field, e.code]), [
    ['labels', 'RB_VALIDATION'], ['macs[0]', 'RB_CONFLICT_MAC'], ['hostname', 'RB_CONFLICT_HOSTNAME'], ['ipv4', 'RB_IP_INVALID']
  ])
  t.match(res.json().message, '4 problems in 1 of 1 rows')
})

t.test('CSV with BMC settings: the password sealed and never answered', async t => {
  const { app, auth, store } = await build(t)
  const csv = 'hostname,macs,lan,bmc_driver,bmc_address,bmc_port,bmc_username,bmc_password,bmc_cipher_suite\nn1,52:54:00:00:60:01,prov,ipmi,10.78.0.11,623,admin,Csv-Secret-1,3\n'
  const res = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: csv })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.json().machines[0].bmc, { driver: 'ipmi', address: '10.78.0.11', port: 623, username: 'admin', passwordSet: true, cipherSuite: 3 })
  t.notOk(res.body.includes('Csv-Secret-1'), 'the password is not in the answer')
  t.equal(store.machines.bmcPassword(res.json().machines[0].id), 'Csv-Secret-1', 'it is stored, sealed')
  const bad = await app.inject({ method: 'POST', url: '/api/v1/machines:import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'hostname,macs,lan,bmc_driver,bmc_port\nn2,52:54:00:00:60:02,prov,smoke,99999\n' })
  t.equal(bad.statusCode, 422)
  t.match(bad.json().errors.map((e: { field: string }) => e.field).sort(), ['bmc.driver', 'bmc.port'])
})
