// Clusters through the API: PKI checked with openssl, secrets sealed at rest (the database
// file holds no key and no token in clear), the kubeconfig (read-write tokens only; parsed by
// kubectl when installed), nodes and roles, MetalLB manifests, deletion freeing allocations.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { build, mac, tempDir } from '../helpers/build.js'

const haveKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0
const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) })

/** A PEM to a file in `dir`, for openssl. */
const file = (dir: string, name: string, pem: string) => { const p = join(dir, name); mkdirSync(join(p, '..'), { recursive: true }); writeFileSync(p, pem); return p }

t.test('a cluster: PKI made up front, VIP from a pool, sealed secrets, kubeconfig', async t => {
  const { app, auth, store, loaded } = await build(t)
  const dir = tempDir(t)
  let res = await app.inject({ method: 'POST', url: '/api/v1/pools', headers: auth(), payload: { name: 'vips', ranges: ['10.77.0.240-10.77.0.244'], lan: 'prov' } })
  t.equal(res.statusCode, 201)
  res = await app.inject({ method: 'POST', url: '/api/v1/clusters', headers: auth(), payload: { name: 'prod', version: '1.31.4', endpoint: { pool: 'vips' } } })
  t.equal(res.statusCode, 201, res.body)
  const c = res.json()
  t.match(c, { name: 'prod', version: 'v1.31.4', endpoint: { host: '10.77.0.240', port: 6443, pool: 'vips' }, podCidr: '10.244.0.0/16', serviceCidr: '10.96.0.0/12', keyAlgorithm: 'ecdsa-p256', state: 'pending', initMachine: null, nodes: [] })
  t.match(c.caCertHash, /^sha256:[0-9a-f]{64}$/)
  t.equal(c.tokens.length, 1)
  t.match(c.tokens[0], { id: /^[a-z0-9]{6}$/, inCluster: false })
  t.notOk(JSON.stringify(c).includes('PRIVATE KEY'), 'no key in the answer')

  // The public certificates, checked by openssl: CAs with CA:TRUE and keyCertSign; the pin.
  const pki = store.clusters.pki(c.id).public
  for (const name of ['ca', 'front-proxy-ca', 'etcd/ca'] as const) {
    const crt = file(dir, `${name}.crt`, pki[`${name}.crt`])
    t.match(openssl(['verify', '-CAfile', crt, crt]), /: OK/, `${name} verifies`)
    const text = openssl(['x509', '-in', crt, '-noout', '-text'])
    t.match(text, /CA:TRUE/, `${name} is a CA`)
    t.match(text, /Certificate Sign/, `${name} may sign certificates`)
    t.match(text, /Public Key Algorithm: id-ecPublicKey/)
    t.match(text, /ASN1 OID: prime256v1/)
    const key = store.clusters.secret(c.id, `${name}.key`)
    t.equal(openssl(['pkey', '-pubout'], key), openssl(['x509', '-in', crt, '-noout', '-pubkey']), `${name}.key belongs to ${name}.crt`)
  }
  t.match(openssl(['x509', '-in', file(dir, 'ca.crt', pki['ca.crt']), '-noout', '-subject']), /CN ?= ?kubernetes/)
  const spki = execFileSync('sh', ['-c', `openssl x509 -pubkey -noout -in ${join(dir, 'ca.crt')} | openssl pkey -pubin -outform der | sha256sum`], { encoding: 'utf8' })
  t.equal(c.caCertHash, `sha256:${spki.split(' ')[0] ?? ''}`, 'caCertHash is the openssl pin of the CA public key')
  t.equal(openssl(['pkey', '-pubout'], store.clusters.secret(c.id, 'sa.key')), openssl(['pkey', '-pubin', '-pubout'], pki['sa.pub']), 'sa.key and sa.pub are a pair')

  // The VIP is an allocation of the cluster.
  res = await app.inject({ url: '/api/v1/pools/vips/allocations', headers: auth() })
  t.match(res.json().items, [{ address: '10.77.0.240', cluster: 'prod', purpose: 'vip' }])

  // Secrets at rest: nothing in clear in the database file, its WAL or anywhere in dataDir but the key file.
  const token = store.write(() => store.clusters.tokenForInit(c.id, 24 * 3600_000, 3600_000)).token
  t.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/)
  store.close()
  const dataDir = loaded.config.dataDir
  for (const f of readdirSync(dataDir)) {
    if (f === 'secrets.key') continue
    const bytes = readFileSync(join(dataDir, f))
    t.equal(bytes.indexOf('PRIVATE KEY'), -1, `${f}: no private key in clear`)
    t.equal(bytes.indexOf(token.slice(7)), -1, `${f}: no token secret in clear`)
  }
  t.equal((readFileSync(join(dataDir, 'secrets.key')).length), 32)
})

t.test('kubeconfig: read-write tokens only; a client certificate of the cluster CA; kubectl reads it', async t => {
  const { app, auth, ro } = await build(t)
  const dir = tempDir(t)
  let res = await app.inject({ method: 'POST', url: '/api/v1/clusters', headers: auth(), payload: { name: 'lab', version: 'v1.32.0', endpoint: { host: 'k8s.lab.example' }, keyAlgorithm: 'rsa-2048' } })
  t.equal(res.statusCode, 201, res.body)
  res = await app.inject({ url: '/api/v1/clusters/lab/kubeconfig', headers: auth(ro) })
  t.match([res.statusCode, res.json().code], [403, 'RB_AUTH_READ_ONLY'], 'a read-only token gets no kubeconfig')
  res = await app.inject({ url: '/api/v1/clusters/lab/kubeconfig', headers: auth() })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /yaml/)
  t.equal(res.headers['cache-control'], 'no-store')
  const kc = parse(res.body)
  t.equal(kc.clusters[0].cluster.server, 'https://k8s.lab.example:6443')
  const ca = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()
  const cert = Buffer.from(kc.users[0].user['client-certificate-data'], 'base64').toString()
  const key = Buffer.from(kc.users[0].user['client-key-data'], 'base64').toString()
  t.match(openssl(['verify', '-CAfile', file(dir, 'ca.crt', ca), file(dir, 'admin.crt', cert)]), /admin\.crt: OK/, 'the client certificate verifies against the cluster CA')
  const text = openssl(['x509', '-in', join(dir, 'admin.crt'), '-noout', '-text'])
  t.match(text, /Subject: O ?= ?system:masters, CN ?= ?rackboot-admin-admin/)
  t.match(text, /TLS Web Client Authentication/)
  t.match(text, /CA:FALSE/)
  t.match(text, /rsaEncryption/, 'RSA cluster: RSA keys')
  t.equal(openssl(['pkey', '-pubout'], key), openssl(['x509', '-in', join(dir, 'admin.crt'), '-noout', '-pubkey']))
  const end = new Date(openssl(['x509', '-in', join(dir, 'admin.crt'), '-noout', '-enddate']).split('=')[1] ?? '').getTime()
  t.ok(end - Date.now() < 24 * 3600_000 + 60_000 && end - Date.now() > 23 * 3600_000, 'short-lived: 24 h by default')
  if (!haveKubectl && process.env.CI === 'true') t.fail('kubectl (Debian kubernetes-client) is missing in CI')
  if (haveKubectl) {
    const path = file(dir, 'kubeconfig', res.body)
    const view = parse(execFileSync('kubectl', ['config', 'view', '--raw', '--kubeconfig', path], { encoding: 'utf8' }))
    t.equal(view['current-context'], 'rackboot-admin-admin@lab')
    t.equal(view.users[0].user['client-certificate-data'], kc.users[0].user['client-certificate-data'], 'kubectl reads the embedded certificate')
  } else {
    t.comment('kubectl is not installed (apt install kubernetes-client): the kubectl check is skipped outside CI')
  }
})

t.test('nodes: roles, the init machine, status; deletion frees the VIP', async t => {
  const { app, auth, store } = await build(t)
  await app.inject({ method: 'POST', url: '/api/v1/pools', headers: auth(), payload: { name: 'vips', ranges: ['10.77.0.240-10.77.0.241'], lan: 'prov' } })
  let res = await app.inject({ method: 'POST', url: '/api/v1/clusters', headers: auth(), payload: { name: 'c1', version: 'v1.31.0', endpoint: { pool: 'vips', address: '10.77.0.241' } } })
  t.match(res.json(), { endpoint: { host: '10.77.0.241' } })
  const node = (n: number, role: string | null, cluster = 'c1') => app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { hostname: `n${n}`, macs: [mac(n)], lan: 'prov', ipv4: `10.77.0.${10 + n}`, role, cluster } })
  res = await node(1, null)
  t.match([res.statusCode, res.json()], [422, { code: 'RB_CLUSTER_ROLE', field: 'role' }])
  res = await node(1, 'etcd')
  t.match([res.statusCode, res.json().code], [422, 'RB_CLUSTER_ROLE'])
  res = await node(1, 'worker', 'nope')
  t.match([res.statusCode, res.json().code], [422, 'RB_CLUSTER_UNKNOWN'])
  t.equal((await node(1, 'worker')).statusCode, 201)
  t.equal((await node(2, 'control-plane')).statusCode, 201)
  t.equal((await node(3, 'control-plane')).statusCode, 201)
  res = await app.inject({ url: '/api/v1/clusters/c1', headers: auth() })
  t.match(res.json(), { initMachine: 'n2', nodes: [{ hostname: 'n1', role: 'worker', clusterStatus: 'pending' }, { hostname: 'n2' }, { hostname: 'n3' }] }, 'the first control plane runs kubeadm init')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/clusters/c1', headers: auth(), payload: { initMachine: 'n1' } })
  t.match([res.statusCode, res.json().code], [422, 'RB_CLUSTER_ROLE'], 'a worker cannot init')
  res = await app.inject({ method: 'PATCH', url: '/api/v1/clusters/c1', headers: auth(), payload: { initMachine: 'n3' } })
  t.match(res.json(), { initMachine: 'n3' })
  res = await app.inject({ url: '/api/v1/machines/n1', headers: auth() })
  t.match(res.json(), { cluster: 'c1', role: 'worker', clusterStatus: 'pending', clusterReason: null })
  res = await app.inject({ method: 'PATCH', url: '/api/v1/machines/n1', headers: auth(), payload: { role: 'db' } })
  t.match([res.statusCode, res.json().code], [422, 'RB_CLUSTER_ROLE'], 'a node keeps a cluster role')
  store.write(() => store.clusters.setState(store.clusters.get('c1')?.id ?? 0, 'initialising', null, 'test'))
  res = await app.inject({ method: 'PATCH', url: '/api/v1/clusters/c1', headers: auth(), payload: { initMachine: 'n2' } })
  t.match([res.statusCode, res.json().code], [409, 'RB_STATE_TRANSITION'], 'the init machine is fixed once initialising')

  res = await app.inject({ method: 'POST', url: '/api/v1/pools', headers: auth(), payload: { name: 'svc', ranges: ['10.60.0.0-10.60.0.15'] } })
  res = await app.inject({ method: 'POST', url: '/api/v1/pools/svc/allocations', headers: auth(), payload: { prefix: 29, cluster: 'c1', purpose: 'services' } })
  t.equal(res.statusCode, 201)
  res = await app.inject({ url: '/api/v1/clusters/c1/manifests', headers: auth() })
  const docs = res.body.split('---\n').map(d => parse(d))
  t.match(docs, [
    { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'rackboot-svc', namespace: 'metallb-system' }, spec: { addresses: ['10.60.0.0/29'] } },
    { kind: 'L2Advertisement', spec: { ipAddressPools: ['rackboot-svc'] } }
  ])

  res = await app.inject({ method: 'DELETE', url: '/api/v1/clusters/c1', headers: auth() })
  t.match([res.statusCode, res.json().code], [409, 'RB_CLUSTER_IN_USE'])
  res = await app.inject({ method: 'DELETE', url: '/api/v1/clusters/c1?force=true', headers: auth() })
  t.equal(res.statusCode, 204)
  res = await app.inject({ url: '/api/v1/pools', headers: auth() })
  t.same(res.json().items.map((p: { allocated: number }) => p.allocated), [0, 0], 'the VIP and the service block were freed')
  res = await app.inject({ url: '/api/v1/machines/n1', headers: auth() })
  t.match(res.json(), { cluster: null, clusterStatus: null })
  const e = store.events.list({ type: 'cluster.deleted', limit: 5 })
  t.match(e[0]?.detail, { cluster: 'c1', released: ['svc:10.60.0.0/29', 'vips:10.77.0.241'] })
})

t.test('cluster input errors', async t => {
  const { app, auth } = await build(t)
  const post = (payload: object) => app.inject({ method: 'POST', url: '/api/v1/clusters', headers: auth(), payload })
  let res = await post({ name: 'a', version: 'v1.30.2', endpoint: { host: '10.0.0.1' } })
  t.match([res.statusCode, res.json()], [400, { field: 'version', message: /v1beta4.*v1\.31/ }])
  res = await post({ name: 'a', version: 'latest', endpoint: { host: '10.0.0.1' } })
  t.match([res.statusCode, res.json().field], [400, 'version'])
  res = await post({ name: 'a', version: 'v1.31.1', endpoint: { pool: 'nope' } })
  t.match([res.statusCode, res.json()], [404, { message: 'pool nope does not exist' }])
  res = await post({ name: 'a', version: 'v1.31.1', endpoint: { host: '10.0.0.1' }, podCidr: '10.77.0.0/16' })
  t.match([res.statusCode, res.json()], [422, { field: 'podCidr', message: /overlaps LAN prov/ }])
  res = await post({ name: 'a', version: 'v1.31.1', endpoint: { host: '10.0.0.1' }, serviceCidr: '10.244.0.0/20' })
  t.match([res.statusCode, res.json()], [422, { message: /overlaps serviceCidr/ }])
  res = await post({ name: 'A_b', version: 'v1.31.1', endpoint: { host: '10.0.0.1' } })
  t.equal(res.statusCode, 400)
  res = await post({ name: 'a', version: 'v1.31.1', endpoint: { host: 'bad host!' } })
  t.match([res.statusCode, res.json().field], [400, 'endpoint.host'])
  t.equal((await post({ name: 'a', version: 'v1.31.1', endpoint: { host: '10.0.0.1' } })).statusCode, 201)
  res = await post({ name: 'a', version: 'v1.31.1', endpoint: { host: '10.0.0.1' } })
  t.match([res.statusCode, res.json().code], [409, 'RB_CONFLICT_CLUSTER'])
  res = await app.inject({ url: '/api/v1/clusters/zzz', headers: auth() })
  t.equal(res.statusCode, 404)
})
