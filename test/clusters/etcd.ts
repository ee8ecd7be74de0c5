// A real etcd (Debian etcd-server) on certificates from a rackboot-made cluster PKI: two
// members in two network namespaces talking over peer TLS with client-certificate auth, a
// client with the apiserver-etcd-client certificate writing and reading, and one with a
// certificate from another cluster's etcd CA refused.
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createNetns, netnsUnavailable, requireOrSkip, veth, type Netns } from '../../bench/netns.js'
import { createClusterPki, issueLeaf } from '../../daemon/src/clusters/pki.js'
import { tempDir } from '../helpers/daemon.js'

const HOUR = 3600_000

t.test('etcd with rackboot-issued server, peer and client certificates', async t => {
  if (!requireOrSkip(t, netnsUnavailable(['etcd', 'etcdctl']))) return
  const dir = tempDir(t)
  mkdirSync(join(dir, 'pki'))
  const now = Date.now()
  const pki = await createClusterPki('ecdsa-p256', now)
  const other = await createClusterPki('ecdsa-p256', now)
  const etcdCa = { cert: pki.public['etcd/ca.crt'], key: pki.secret['etcd/ca.key'] }
  const a = await createNetns(t, 'etcd-a')
  const b = await createNetns(t, 'etcd-b')
  const link = await veth(a, b)
  const ipA = link.a.ip
  const ipB = link.b.ip

  const write = (name: string, pem: string) => { const p = join(dir, 'pki', name); writeFileSync(p, pem, { mode: 0o600 }); return p }
  const ca = write('etcd-ca.crt', etcdCa.cert)
  // The certificates kubeadm would make for a local etcd on each control plane, made here from rackboot's etcd CA.
  const certs: Record<string, { cert: string; key: string }> = {}
  for (const [name, ip] of [['a', ipA], ['b', ipB]] as const) {
    const server = await issueLeaf(etcdCa, { cn: `etcd-${name}`, usage: ['server', 'client'], sans: [`etcd-${name}`, 'localhost', ip, '127.0.0.1'], ttlMs: HOUR }, now)
    const peer = await issueLeaf(etcdCa, { cn: `etcd-${name}`, usage: ['server', 'client'], sans: [`etcd-${name}`, ip], ttlMs: HOUR }, now)
    certs[name] = { cert: write(`${name}-server.crt`, server.cert), key: write(`${name}-server.key`, server.key) }
    certs[`${name}-peer`] = { cert: write(`${name}-peer.crt`, peer.cert), key: write(`${name}-peer.key`, peer.key) }
  }
  const client = await issueLeaf(etcdCa, { cn: 'kube-apiserver-etcd-client', usage: ['client'], ttlMs: HOUR }, now)
  const clientCert = write('apiserver-etcd-client.crt', client.cert)
  const clientKey = write('apiserver-etcd-client.key', client.key)
  const stranger = await issueLeaf({ cert: other.public['etcd/ca.crt'], key: other.secret['etcd/ca.key'] }, { cn: 'kube-apiserver-etcd-client', usage: ['client'], ttlMs: HOUR }, now)
  const strangerCert = write('stranger.crt', stranger.cert)
  const strangerKey = write('stranger.key', stranger.key)

  const cluster = `a=https://${ipA}:2380,b=https://${ipB}:2380`
  const start = (ns: Netns, name: 'a' | 'b', ip: string) => {
    const p = ns.spawn('etcd', [
      '--name', name, '--data-dir', join(dir, `data-${name}`),
      '--listen-client-urls', `https://${ip}:2379`, '--advertise-client-urls', `https://${ip}:2379`,
      '--listen-peer-urls', `https://${ip}:2380`, '--initial-advertise-peer-urls', `https://${ip}:2380`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'rackboot-test',
      '--client-cert-auth', '--trusted-ca-file', ca, '--cert-file', certs[name]?.cert ?? '', '--key-file', certs[name]?.key ?? '',
      '--peer-client-cert-auth', '--peer-trusted-ca-file', ca, '--peer-cert-file', certs[`${name}-peer`]?.cert ?? '', '--peer-key-file', certs[`${name}-peer`]?.key ?? ''
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    p.stderr?.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20000) })
    return { p, log: () => log }
  }
  const ea = start(a, 'a', ipA)
  const eb = start(b, 'b', ipB)
  const ctl = (args: string[], cert = clientCert, key = clientKey) => b.run('etcdctl', ['--endpoints', `https://${ipA}:2379,https://${ipB}:2379`, '--cacert', ca, '--cert', cert, '--key', key, '--dial-timeout', '3s', '--command-timeout', '5s', ...args], { timeoutMs: 20_000 })

  let healthy = false
  for (let i = 0; i < 60 && !healthy; i++) {
    const r = await ctl(['endpoint', 'health', '--cluster'])
    healthy = r.code === 0 && (r.stdout + r.stderr).split('is healthy').length === 3
    if (!healthy) await new Promise(resolve => setTimeout(resolve, 500))
  }
  if (!healthy) t.comment(`etcd a:\n${ea.log().slice(-3000)}\netcd b:\n${eb.log().slice(-3000)}`)
  t.ok(healthy, 'both members are healthy: peer TLS on rackboot\'s etcd certificates works')
  const members = await ctl(['member', 'list'])
  t.equal(members.stdout.trim().split('\n').filter(l => l.includes('started')).length, 2, 'two started members')

  const put = await ctl(['put', '/rackboot/test', 'hello'])
  t.equal(put.code, 0, `the apiserver-etcd-client certificate writes: ${put.stderr}`)
  const got = await ctl(['get', '/rackboot/test', '--print-value-only'])
  t.equal(got.stdout.trim(), 'hello', 'and reads back')

  const refused = await ctl(['put', '/rackboot/test', 'evil'], strangerCert, strangerKey)
  t.not(refused.code, 0, 'a client certificate from another CA is refused')
  t.match(refused.stderr, /certificate|tls|deadline|context/i, refused.stderr)
  const still = await ctl(['get', '/rackboot/test', '--print-value-only'])
  t.equal(still.stdout.trim(), 'hello', 'nothing was written by it')
})
