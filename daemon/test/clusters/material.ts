// What each role is given: kubeadm v1beta4 documents checked against a schema written from the
// field reference (unknown fields refused), the PKI files per role (a worker never gets a CA
// key), the token a joining node gets while it is valid and a bootstrap certificate after,
// and — when a kubeadm binary is given (KUBEADM=…) — `kubeadm config validate`.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { Value } from 'typebox/value'
import { Store } from '../../src/store/index.js'
import { createClusterPki } from '../../src/clusters/pki.js'
import { nodeMaterial, KUBEADM_CONFIG, RUNNER, RUNNER_CONFIG, BOOTSTRAP_KUBECONFIG, type NodeMaterial } from '../../src/clusters/material.js'
import { BY_KIND } from '../fixtures/kubeadm-v1beta4.js'
import { config, mac, tempDir } from '../helpers/build.js'

const HOUR = 3600_000
const opts = (now: number) => ({ reportUrl: 'http://10.77.0.1:8080/boot/kubeadm/TOKEN', kubeVipImage: 'ghcr.io/kube-vip/kube-vip:v0.8.9', joinMarginMs: HOUR, bootstrapCertTtlMs: 2 * HOUR, bootstrapTokenTtlMs: 24 * HOUR, now })

/** Every YAML document of the node's kubeadm.yaml, each checked against its kind's schema. */
function kubeadmDocs (t: Checks, m: NodeMaterial): Array<Record<string, any>> {
  const f = m.files.find(x => x.path === KUBEADM_CONFIG)
  if (f === undefined) { t.fail('no kubeadm.yaml'); return [] }
  const docs = parseAllDocuments(f.content).map(d => d.toJS() as Record<string, any>)
  for (const d of docs) {
    const schema = BY_KIND[d.kind as string]
    if (schema === undefined) { t.fail(`unexpected kind ${String(d.kind)}`); continue }
    const errors = [...Value.Errors(schema, d)].map(e => `${e.instancePath} ${e.message}`)
    t.same(errors, [], `${String(d.kind)} matches the v1beta4 field reference`)
  }
  return docs
}

interface Checks { fail (message: string): unknown; same (found: unknown, wanted: unknown, message: string): unknown }

t.test('material per role', async t => {
  let now = Date.parse('2026-12-01T10:00:00Z')
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans, now: () => now })
  t.teardown(() => store.close())
  store.write(() => store.pools.create({ name: 'vips', ranges: ['10.77.0.240-10.77.0.241'], lan: 'prov' }, 'test'))
  const pki = await createClusterPki('ecdsa-p256', now)
  const c0 = store.write(() => store.clusters.create({ name: 'prod', version: 'v1.31.4', endpoint: { pool: 'vips' } }, pki, 24 * HOUR, 'test'))
  const add = (n: number, role: string) => store.write(() => store.machines.create({ hostname: `n${n}`, macs: [mac(n)], lan: 'prov', ipv4: `10.77.0.${10 + n}`, role, cluster: 'prod' }, 'test'))
  const cp1 = add(1, 'control-plane'); const cp2 = add(2, 'control-plane'); const w1 = add(3, 'worker')
  const cluster = () => store.clusters.get('prod') ?? (() => { throw new Error('gone') })()
  t.equal(cluster().initMachine, 'n1')

  const init = await nodeMaterial(store, cluster(), cp1, opts(now))
  t.equal(init.role, 'init')
  const paths = (m: NodeMaterial) => m.files.map(f => f.path).sort()
  t.same(paths(init), [
    '/etc/kubernetes/manifests/kube-vip.yaml',
    '/etc/kubernetes/pki/ca.crt', '/etc/kubernetes/pki/ca.key', '/etc/kubernetes/pki/etcd/ca.crt', '/etc/kubernetes/pki/etcd/ca.key',
    '/etc/kubernetes/pki/front-proxy-ca.crt', '/etc/kubernetes/pki/front-proxy-ca.key', '/etc/kubernetes/pki/sa.key', '/etc/kubernetes/pki/sa.pub',
    RUNNER_CONFIG, KUBEADM_CONFIG, RUNNER
  ].sort())
  t.equal(init.files.find(f => f.path === '/etc/kubernetes/pki/ca.key')?.content, pki.secret['ca.key'], 'the CA key rackboot made')
  t.equal(init.files.find(f => f.path === '/etc/kubernetes/pki/ca.key')?.mode, 0o600)
  t.equal(init.files.find(f => f.path === '/etc/kubernetes/pki/ca.crt')?.mode, 0o644)
  const [ic, cc, kc] = kubeadmDocs(t, init)
  t.match(ic, { kind: 'InitConfiguration', nodeRegistration: { name: 'n1', criSocket: 'unix:///run/containerd/containerd.sock', kubeletExtraArgs: [{ name: 'node-ip', value: '10.77.0.11' }] }, localAPIEndpoint: { advertiseAddress: '10.77.0.11', bindPort: 6443 } })
  t.equal(ic?.bootstrapTokens.length, 1)
  const initToken = ic?.bootstrapTokens[0].token as string
  t.match(ic?.bootstrapTokens[0], { expires: '2026-12-02T10:00:00Z', usages: ['signing', 'authentication'], groups: ['system:bootstrappers:kubeadm:default-node-token'] })
  t.match(cc, { kind: 'ClusterConfiguration', clusterName: 'prod', kubernetesVersion: 'v1.31.4', controlPlaneEndpoint: '10.77.0.240:6443', encryptionAlgorithm: 'ECDSA-P256', networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' }, apiServer: { certSANs: ['10.77.0.240', '10.77.0.11'] } })
  t.match(kc, { kind: 'KubeletConfiguration', cgroupDriver: 'systemd' })
  t.equal(init.tokenId, initToken.slice(0, 6))
  const vip = parse(init.files.find(f => f.path === '/etc/kubernetes/manifests/kube-vip.yaml')?.content ?? '')
  t.match(vip, { kind: 'Pod', metadata: { name: 'kube-vip', namespace: 'kube-system' }, spec: { hostNetwork: true, volumes: [{ hostPath: { path: '/etc/kubernetes/super-admin.conf' } }] } }, 'kube-vip on the init node uses super-admin.conf')
  t.match(vip.spec.containers[0].env, [{ name: 'address', value: '10.77.0.240' }])
  const runner = JSON.parse(init.files.find(f => f.path === RUNNER_CONFIG)?.content ?? '{}')
  t.same(runner.command, ['kubeadm', 'init', '--config', KUBEADM_CONFIG])
  t.equal(runner.report, 'http://10.77.0.1:8080/boot/kubeadm/TOKEN')
  t.same([...runner.files].sort(), paths(init).filter(p => p !== RUNNER && p !== RUNNER_CONFIG), 'the runner reports every issued file')
  t.equal(store.clusters.tokens(c0.id).filter(x => x.inCluster).length, 1, 'the init token is marked as the cluster\'s')

  const worker = await nodeMaterial(store, cluster(), w1, opts(now))
  t.equal(worker.role, 'worker')
  t.same(paths(worker), [RUNNER_CONFIG, KUBEADM_CONFIG, RUNNER].sort(), 'a worker gets no PKI file at all')
  t.notOk(worker.files.some(f => f.content.includes('PRIVATE KEY')), 'and no private key anywhere')
  const [wj] = kubeadmDocs(t, worker)
  t.match(wj, { kind: 'JoinConfiguration', discovery: { bootstrapToken: { apiServerEndpoint: '10.77.0.240:6443', token: initToken, caCertHashes: [pki.caCertHash] } }, nodeRegistration: { name: 'n3' } })
  t.notOk('controlPlane' in (wj ?? {}), 'a worker joins as a worker')
  t.equal(worker.credential, 'token')

  const cp = await nodeMaterial(store, cluster(), cp2, opts(now))
  t.equal(cp.role, 'control-plane')
  t.ok(cp.files.some(f => f.path === '/etc/kubernetes/pki/ca.key'), 'another control plane gets the shared CA keys (no upload-certs window)')
  t.ok(cp.files.some(f => f.path === '/etc/rackboot/kube-vip.yaml'), 'its kube-vip is staged, copied after kubeadm join')
  t.notOk(cp.files.some(f => f.path === '/etc/kubernetes/manifests/kube-vip.yaml'), 'join wants an empty manifests directory')
  t.match(parse(cp.files.find(f => f.path === '/etc/rackboot/kube-vip.yaml')?.content ?? ''), { spec: { volumes: [{ hostPath: { path: '/etc/kubernetes/admin.conf' } }] } })
  const [cj] = kubeadmDocs(t, cp)
  t.match(cj, { kind: 'JoinConfiguration', controlPlane: { localAPIEndpoint: { advertiseAddress: '10.77.0.12', bindPort: 6443 } } })
  t.match(JSON.parse(cp.files.find(f => f.path === RUNNER_CONFIG)?.content ?? '{}').after, [{ copy: '/etc/rackboot/kube-vip.yaml', to: '/etc/kubernetes/manifests/kube-vip.yaml' }])

  // 23.5 hours later the token has less than the join margin left: a late joiner gets a
  // short-lived bootstrap certificate in the group kubeadm's RBAC gives joining nodes.
  now += 23.5 * HOUR
  const late = await nodeMaterial(store, cluster(), w1, opts(now))
  t.equal(late.credential, 'certificate')
  const [lj] = kubeadmDocs(t, late)
  t.match(lj, { discovery: { file: { kubeConfigPath: BOOTSTRAP_KUBECONFIG } } })
  t.notOk('bootstrapToken' in (lj?.discovery ?? {}))
  const boot = parse(late.files.find(f => f.path === BOOTSTRAP_KUBECONFIG)?.content ?? '')
  t.equal(boot.clusters[0].cluster.server, 'https://10.77.0.240:6443')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'ca.crt'), pki.public['ca.crt'])
  writeFileSync(join(dir, 'boot.crt'), Buffer.from(boot.users[0].user['client-certificate-data'], 'base64'))
  t.match(execFileSync('openssl', ['verify', '-attime', String(Math.floor(now / 1000)), '-CAfile', join(dir, 'ca.crt'), join(dir, 'boot.crt')], { encoding: 'utf8' }), /OK/)
  const subject = execFileSync('openssl', ['x509', '-in', join(dir, 'boot.crt'), '-noout', '-subject', '-enddate'], { encoding: 'utf8' })
  t.match(subject, /O ?= ?system:bootstrappers:kubeadm:default-node-token, CN ?= ?system:bootstrap:rackboot-n3/)
  t.match(subject, /notAfter=Dec {2}2 11:30:00 2026 GMT/, 'valid for bootstrapCertTtl (2 h)')

  // Once the cluster is ready the init node, provisioned again, joins like any control plane.
  store.write(() => store.clusters.setState(c0.id, 'ready', null, 'test'))
  const again = await nodeMaterial(store, cluster(), cp1, opts(now))
  t.equal(again.role, 'control-plane')

  if (process.env.KUBEADM !== undefined) {
    for (const m of [init, worker, cp]) {
      const p = join(dir, `${m.role}.yaml`)
      writeFileSync(p, m.files.find(f => f.path === KUBEADM_CONFIG)?.content ?? '')
      execFileSync(process.env.KUBEADM, ['config', 'validate', '--config', p], { stdio: 'inherit' })
      t.pass(`kubeadm config validate accepts the ${m.role} config`)
    }
  } else {
    t.comment('KUBEADM is not set: `kubeadm config validate` skipped (no kubeadm binary is in any registry reachable here)')
  }
})

t.test('the schema refuses v1beta3 shapes and unknown fields', async t => {
  const bad = { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration', apiServer: { extraArgs: { 'audit-log-path': '/x' }, timeoutForControlPlane: '4m0s' } }
  const errors = [...Value.Errors(BY_KIND.ClusterConfiguration as never, bad)]
  t.ok(errors.length >= 2, 'a map extraArgs and v1beta3\'s timeoutForControlPlane fail')
  t.same([...Value.Errors(BY_KIND.JoinConfiguration as never, { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'JoinConfiguration', discovery: { bootstrapToken: { token: 'abcdef.0123456789abcdef' } }, colour: 1 })].length > 0, true)
})

t.test('applyManifests: the init node gets the MetalLB manifests to apply; others do not', async t => {
  const now = Date.now()
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  t.teardown(() => store.close())
  const pki = await createClusterPki('ecdsa-p256', now)
  const c = store.write(() => {
    store.pools.create({ name: 'svc', ranges: ['10.60.0.0-10.60.0.7'] }, 'test')
    const created = store.clusters.create({ name: 'lb', version: 'v1.31.4', endpoint: { host: '10.77.0.9' }, applyManifests: true }, pki, 24 * HOUR, 'test')
    store.pools.allocate('svc', { prefix: 30, clusterId: created.id, purpose: 'services' }, 'test')
    return created
  })
  t.equal(c.applyManifests, true)
  const cp = store.write(() => store.machines.create({ hostname: 'cp', macs: [mac(1)], lan: 'prov', ipv4: '10.77.0.11', role: 'control-plane', cluster: 'lb' }, 'test'))
  const w = store.write(() => store.machines.create({ hostname: 'w', macs: [mac(2)], lan: 'prov', ipv4: '10.77.0.12', role: 'worker', cluster: 'lb' }, 'test'))
  const cluster = store.clusters.get('lb') ?? c
  const init = await nodeMaterial(store, cluster, cp, opts(now))
  const manifests = init.files.find(f => f.path === '/etc/rackboot/metallb.yaml')
  t.match(manifests?.content, /kind: IPAddressPool[\s\S]*- 10\.60\.0\.0\/30[\s\S]*kind: L2Advertisement/)
  t.same(JSON.parse(init.files.find(f => f.path === RUNNER_CONFIG)?.content ?? '{}').apply, ['/etc/rackboot/metallb.yaml'])
  t.notOk(init.files.some(f => f.path === '/etc/kubernetes/manifests/kube-vip.yaml'), 'a given endpoint (not a pool VIP) gets no kube-vip')
  const worker = await nodeMaterial(store, cluster, w, opts(now))
  t.same(JSON.parse(worker.files.find(f => f.path === RUNNER_CONFIG)?.content ?? '{}').apply, [])
})
