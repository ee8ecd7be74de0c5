// A cluster node's installed-OS seed through the boot server: its role's kubeadm material in
// cloud-init's write_files, only with its own seed token while it is installed, a worker with
// no CA key, every issued file recorded by SHA-256, the runner's reports moving the node and
// the cluster (and "kubeadm missing" shown as such), and tokens refused.
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { createClusterPki } from '../../src/clusters/pki.js'
import { parseKubeadmReport } from '../../src/boot/server.js'
import { provisionAgain } from '../../src/lifecycle.js'
import { installToken, setup, untar } from '../helpers/boot-install.js'

t.test('cluster seeds by role, reports, refusals', async t => {
  const { app, store, add, script, report } = await setup(t)
  store.write(() => store.pools.create({ name: 'vips', ranges: ['10.77.0.240-10.77.0.241'], lan: 'prov' }, 'test'))
  const pki = await createClusterPki('ecdsa-p256', store.now())
  const cluster = store.write(() => store.clusters.create({ name: 'prod', version: 'v1.31.4', endpoint: { pool: 'vips' } }, pki, 24 * 3600_000, 'test'))
  const cp = add(1, { role: 'control-plane', cluster: 'prod' })
  const worker = add(2, { role: 'worker', cluster: 'prod' })
  add(3, {})

  /** Netboot the installer, fetch the files, report the disk done: the seed token the installed OS gets. */
  const install = async (n: number) => {
    const token = installToken(await script(n))
    const files = await untar((await app.inject({ url: `/boot/install/${token}/files` })).rawPayload)
    const seed = /\/boot\/metadata\/([A-Za-z0-9_-]{40})\//.exec(files.get('etc/cloud/cloud.cfg.d/91-rackboot-seed.cfg')?.content ?? '')?.[1] ?? ''
    for (const step of ['written', 'verified', 'installed']) t.equal((await report(token, { step })).statusCode, 200)
    return seed
  }
  const seedCp = await install(1)
  const seedW = await install(2)
  const seedLoner = await install(3)

  const userData = async (seed: string) => {
    const res = await app.inject({ url: `/boot/metadata/${seed}/user-data` })
    t.equal(res.statusCode, 200)
    t.match(res.body, /^#cloud-config\n/)
    return parse(res.body)
  }
  const decode = (ud: { write_files: Array<{ path: string; content: string; permissions: string; encoding: string }> }) =>
    new Map(ud.write_files.map(f => [f.path, { mode: f.permissions, content: Buffer.from(f.content, f.encoding === 'b64' ? 'base64' : 'utf8').toString() }]))

  const udCp = await userData(seedCp)
  t.match(udCp, { hostname: 'node-1', runcmd: [['/usr/local/sbin/rackboot-kubeadm']], phone_home: { url: `http://10.77.0.1:8080/boot/phone-home?token=${seedCp}` } })
  const cpFiles = decode(udCp)
  t.equal(cpFiles.get('/etc/kubernetes/pki/ca.key')?.content, pki.secret['ca.key'], 'the init node gets the cluster CA key rackboot made')
  t.equal(cpFiles.get('/etc/kubernetes/pki/ca.key')?.mode, '0600')
  t.match(cpFiles.get('/etc/kubernetes/pki/ca.crt'), { mode: '0644', content: pki.public['ca.crt'] })
  const kinds = (yaml: string | undefined) => parseAllDocuments(yaml ?? '').map(d => d.toJS() as Record<string, any>)
  t.match(kinds(cpFiles.get('/etc/rackboot/kubeadm.yaml')?.content), [{ kind: 'InitConfiguration' }, { kind: 'ClusterConfiguration' }, { kind: 'KubeletConfiguration' }])
  t.equal(JSON.parse(cpFiles.get('/etc/rackboot/kubeadm.json')?.content ?? '{}').report, `http://10.77.0.1:8080/boot/kubeadm/${seedCp}`)
  t.equal(store.clusters.getById(cluster.id)?.state, 'initialising', 'serving kubeadm init material starts the cluster')

  const udW = await userData(seedW)
  const wFiles = decode(udW)
  t.notOk([...wFiles.values()].some(f => f.content.includes('PRIVATE KEY')), 'a worker receives no private key')
  t.notOk([...wFiles.keys()].some(p => p.startsWith('/etc/kubernetes/pki/')), 'nor any PKI file')
  t.match(kinds(wFiles.get('/etc/rackboot/kubeadm.yaml')?.content), [{ kind: 'JoinConfiguration', discovery: { bootstrapToken: { caCertHashes: [pki.caCertHash] } } }, { kind: 'KubeletConfiguration' }])

  const udLoner = await userData(seedLoner)
  t.notOk('write_files' in udLoner, 'a machine in no cluster gets no cluster material')

  // What was issued is on the timeline by path and SHA-256, never by content.
  const material = store.events.list({ type: 'cluster.material', limit: 10, order: 'asc' })
  t.same(material.map(e => [e.machineId, e.detail.role]), [[cp.id, 'init'], [worker.id, 'worker']])
  const issued = material[0]?.detail.files as Array<{ path: string; sha256: string }>
  t.ok(issued.some(f => f.path === '/etc/kubernetes/pki/ca.key' && /^[0-9a-f]{64}$/.test(f.sha256)))
  t.notOk(JSON.stringify(material).includes('PRIVATE KEY'), 'no key in the event log')
  t.notOk(JSON.stringify(store.events.list({ limit: 1000 })).includes(store.clusters.joinToken(cluster.id, 0)?.slice(7) ?? 'none'), 'no token secret in the event log')

  // Tokens: another machine's seed opens only that machine's material; a wrong one nothing.
  let res = await app.inject({ url: '/boot/metadata/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/user-data' })
  t.equal(res.statusCode, 403)
  const late = add(4, { role: 'worker', cluster: 'prod', state: 'installed' })
  const expired = store.write(() => store.bootTokens.mint(late.id, 'node', Date.now(), 1, 'seed'))
  await new Promise(resolve => setTimeout(resolve, 20))
  res = await app.inject({ url: `/boot/metadata/${expired}/user-data` })
  t.match([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_EXPIRED'], 'an expired seed token gets no material')
  t.notOk(res.body.includes('kubeadm'))
  res = await app.inject({ method: 'POST', url: '/boot/kubeadm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', payload: { outcome: 'succeeded', step: 'x' } })
  t.equal(res.statusCode, 403, 'a wrong token cannot report')
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedLoner}`, payload: { outcome: 'succeeded', step: 'x' } })
  t.match([res.statusCode, res.json().code], [403, 'RB_BOOT_TOKEN_STALE'], 'a machine in no cluster has nothing to report')
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedCp}`, payload: { outcome: 'maybe', step: 'x' } })
  t.match([res.statusCode, res.json().message], [400, /outcome must be one of running, succeeded, failed/])

  // The worker's runner found no kubeadm: the node shows it, the cluster is not ready.
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedW}`, payload: { outcome: 'failed', step: 'kubeadm missing', output: 'kubeadm is not installed on this node', files: [{ path: '/etc/rackboot/kubeadm.yaml', sha256: 'a'.repeat(64) }] } })
  t.equal(res.statusCode, 200)
  t.match(store.machines.get(worker.id), { clusterStatus: 'failed', clusterReason: /^kubeadm missing/ })
  t.equal(store.clusters.getById(cluster.id)?.state, 'initialising', 'a worker failing does not fail the cluster')
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedCp}`, payload: { outcome: 'running', step: 'kubeadm started' } })
  t.match(store.machines.get(cp.id), { clusterStatus: 'running' })
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedCp}`, payload: { outcome: 'failed', step: 'kubeadm missing' } })
  t.match(store.clusters.getById(cluster.id), { state: 'failed', stateReason: 'kubeadm init on node-1 failed: kubeadm missing' }, 'the init node failing fails the cluster, with the reason')
  const reports = store.events.list({ type: 'cluster.kubeadm', limit: 10, order: 'asc' })
  t.same(reports.map(e => e.detail.outcome), ['failed', 'running', 'failed'])
  t.match(reports[0]?.detail.files, [{ path: '/etc/rackboot/kubeadm.yaml' }], 'what the node reports receiving is recorded')

  // Phone-home ends the seed token: no material after it.
  res = await app.inject({ method: 'POST', url: `/boot/phone-home?token=${seedCp}`, payload: 'instance_id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(res.statusCode, 200)
  res = await app.inject({ url: `/boot/metadata/${seedCp}/user-data` })
  t.equal(res.statusCode, 403, 'a used seed token opens no material')
  res = await app.inject({ method: 'POST', url: `/boot/kubeadm/${seedCp}`, payload: { outcome: 'succeeded', step: 'x' } })
  t.equal(res.statusCode, 403, 'nor reports')

  // Provisioned again, the node starts over in its cluster.
  store.write(() => provisionAgain(store, store.machines.get(worker.id) ?? worker, 'reprovision', 'test'))
  t.match(store.machines.get(worker.id), { state: 'ready', clusterStatus: 'pending', clusterReason: null })
})

t.test('report parsing', async t => {
  t.same(parseKubeadmReport({ outcome: 'succeeded', step: 'ok' }), { outcome: 'succeeded', step: 'ok' })
  t.type(parseKubeadmReport([]), 'string')
  t.type(parseKubeadmReport({ outcome: 'failed', step: 'x'.repeat(501) }), 'string')
  t.type(parseKubeadmReport({ outcome: 'failed', step: 'x', files: [{ path: '/a', sha256: 'nothex' }] }), 'string')
  t.type(parseKubeadmReport({ outcome: 'failed', step: 'x', output: 5 }), 'string')
  t.same(parseKubeadmReport({ outcome: 'failed', step: 'x', files: [{ path: '/a', sha256: null }] }), { outcome: 'failed', step: 'x', files: [{ path: '/a', sha256: null }] })
})
