// What one node is given to become part of its cluster, by role: kubeadm's configuration,
// the PKI files that role needs (a worker never gets a CA private key), kube-vip on control
// planes, and the runner that calls kubeadm and reports the outcome. Delivered only through
// the installed OS's seed (boot token of kind `seed`, while the machine is installing).
import { createHash } from 'node:crypto'
import type { Store } from '../store/index.js'
import type { Cluster } from '../store/clusters.js'
import type { Machine } from '../store/machines.js'
import { initConfig, joinConfig, kubeconfig, kubeVipManifest, BOOTSTRAP_GROUP, type ClusterView, type JoinCredential } from './kubeadm.js'
import { issueLeaf } from './pki.js'
import { clusterManifests } from './manifests.js'

export type NodeRole = 'init' | 'control-plane' | 'worker'

export interface NodeFile { path: string; content: string; mode: number }

export interface NodeMaterial {
  role: NodeRole
  /** How the node authenticates when it joins (init: none). */
  credential: 'token' | 'certificate' | null
  files: NodeFile[]
  /** Every file by path and SHA-256 (what the timeline records and the runner reports back). */
  issued: Array<{ path: string; sha256: string }>
  /** The token the node was given (init: the one kubeadm init creates), to record its id, never its secret. */
  tokenId: string | null
}

export interface MaterialOptions {
  /** The URL the runner POSTs its outcome to (carries the node's seed token). */
  reportUrl: string
  kubeVipImage: string
  joinMarginMs: number
  bootstrapCertTtlMs: number
  bootstrapTokenTtlMs: number
  now: number
}

export const KUBEADM_CONFIG = '/etc/rackboot/kubeadm.yaml'
export const RUNNER = '/usr/local/sbin/rackboot-kubeadm'
export const RUNNER_CONFIG = '/etc/rackboot/kubeadm.json'
export const BOOTSTRAP_KUBECONFIG = '/etc/rackboot/bootstrap-kubelet.conf'
export const METALLB_MANIFESTS = '/etc/rackboot/metallb.yaml'
const KUBE_VIP_STAGED = '/etc/rackboot/kube-vip.yaml'
const KUBE_VIP = '/etc/kubernetes/manifests/kube-vip.yaml'
const PKI = '/etc/kubernetes/pki'

export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')

export const viewOf = (c: Cluster): ClusterView => ({
  name: c.name, version: c.version, endpoint: { host: c.endpoint.host, port: c.endpoint.port },
  podCidr: c.podCidr, serviceCidr: c.serviceCidr, dnsDomain: c.dnsDomain, keyAlgorithm: c.keyAlgorithm, caCertHash: c.caCertHash
})

/** The role a node plays now: the init node runs `kubeadm init` until the cluster is ready; after that every control plane joins. */
export function roleOf (c: Cluster, m: Machine): NodeRole {
  if (m.role === 'worker') return 'worker'
  return c.initMachine === m.hostname && c.state !== 'ready' ? 'init' : 'control-plane'
}

/**
 * Everything the node gets. Call inside a write transaction only for the token part; the
 * certificate for a late joiner is made here (async), so call it outside and record after.
 */
export async function nodeMaterial (store: Store, c: Cluster, m: Machine, o: MaterialOptions): Promise<NodeMaterial> {
  const role = roleOf(c, m)
  const view = viewOf(c)
  const pki = store.clusters.pki(c.id)
  const node = { hostname: m.hostname, ipv4: m.ipv4 }
  const files: NodeFile[] = []
  let credential: NodeMaterial['credential'] = null
  let tokenId: string | null = null
  if (role !== 'worker') {
    for (const name of ['ca', 'front-proxy-ca', 'etcd/ca'] as const) {
      files.push({ path: `${PKI}/${name}.crt`, content: pki.public[`${name}.crt`], mode: 0o644 })
      files.push({ path: `${PKI}/${name}.key`, content: store.clusters.secret(c.id, `${name}.key`), mode: 0o600 })
    }
    files.push({ path: `${PKI}/sa.key`, content: store.clusters.secret(c.id, 'sa.key'), mode: 0o600 })
    files.push({ path: `${PKI}/sa.pub`, content: pki.public['sa.pub'], mode: 0o644 })
    if (c.endpoint.pool !== null) {
      // The init node needs the VIP up before kubeadm init talks to the endpoint; a joining
      // control plane gets it after kubeadm join (join's preflight wants an empty manifests directory).
      files.push({ path: role === 'init' ? KUBE_VIP : KUBE_VIP_STAGED, content: kubeVipManifest(view, o.kubeVipImage, role === 'init'), mode: 0o600 })
    }
  }
  let config: string
  if (role === 'init') {
    const token = store.write(() => store.clusters.tokenForInit(c.id, o.bootstrapTokenTtlMs, o.joinMarginMs))
    tokenId = token.token.slice(0, 6)
    config = initConfig(view, node, token)
  } else {
    const token = store.clusters.joinToken(c.id, o.now + o.joinMarginMs)
    let cred: JoinCredential
    if (token !== null) {
      cred = { kind: 'token', token }
      credential = 'token'
      tokenId = token.slice(0, 6)
    } else {
      // No token in the cluster stays valid long enough: a bootstrap client certificate in the
      // group kubeadm's RBAC gives joining nodes, short-lived, in a discovery file.
      const leaf = await issueLeaf({ cert: pki.public['ca.crt'], key: store.clusters.secret(c.id, 'ca.key') }, { cn: `system:bootstrap:rackboot-${m.hostname}`, o: [BOOTSTRAP_GROUP], usage: ['client'], ttlMs: o.bootstrapCertTtlMs }, o.now)
      files.push({ path: BOOTSTRAP_KUBECONFIG, content: kubeconfig(view, `system:bootstrap:rackboot-${m.hostname}`, pki.public['ca.crt'], leaf), mode: 0o600 })
      cred = { kind: 'file', path: BOOTSTRAP_KUBECONFIG }
      credential = 'certificate'
    }
    config = joinConfig(view, node, role === 'worker' ? 'worker' : 'control-plane', cred)
  }
  files.push({ path: KUBEADM_CONFIG, content: config, mode: 0o600 })
  // The init node applies the MetalLB manifests once its API server is up, when the cluster asks for it.
  const manifests = role === 'init' && c.applyManifests ? clusterManifests(store, c) : null
  const apply = manifests !== null && !manifests.startsWith('#') ? [METALLB_MANIFESTS] : []
  if (apply.length > 0 && manifests !== null) files.push({ path: METALLB_MANIFESTS, content: manifests, mode: 0o600 })
  const issued = files.map(f => ({ path: f.path, sha256: sha256(f.content) }))
  const runnerConfig = {
    cluster: c.name,
    role,
    command: role === 'init' ? ['kubeadm', 'init', '--config', KUBEADM_CONFIG] : ['kubeadm', 'join', '--config', KUBEADM_CONFIG],
    after: role === 'control-plane' && c.endpoint.pool !== null ? [{ copy: KUBE_VIP_STAGED, to: KUBE_VIP }] : [],
    apply,
    report: o.reportUrl,
    files: issued.map(f => f.path)
  }
  files.push({ path: RUNNER_CONFIG, content: JSON.stringify(runnerConfig, null, 2) + '\n', mode: 0o600 })
  files.push({ path: RUNNER, content: RUNNER_SCRIPT, mode: 0o700 })
  const rest = files.slice(issued.length).map(f => ({ path: f.path, sha256: sha256(f.content) }))
  return { role, credential, files, issued: [...issued, ...rest], tokenId }
}

/**
 * The runner, in Python 3 (the installed OS has it: cloud-init is written in it). It reports
 * what it received (paths and SHA-256s), then runs kubeadm (or reports "kubeadm missing") and
 * reports the outcome with the last lines of kubeadm's output. Run by cloud-init's runcmd,
 * before phone_home (both in cloud-init's final stage, runcmd first).
 */
export const RUNNER_SCRIPT = `#!/usr/bin/python3
# rackboot: runs kubeadm for this node's role and tells rackboot how it went.
import hashlib, json, os, shutil, subprocess, sys, time, urllib.request

cfg = json.load(open(os.environ.get('RACKBOOT_KUBEADM_CONFIG', ${JSON.stringify(RUNNER_CONFIG)})))

def digest(path):
    try:
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None

def report(outcome, step, output=''):
    body = {'outcome': outcome, 'step': step, 'output': output[-4000:],
            'files': [{'path': p, 'sha256': digest(p)} for p in cfg['files']]}
    req = urllib.request.Request(cfg['report'], data=json.dumps(body).encode(), method='POST',
                                 headers={'content-type': 'application/json'})
    for attempt in range(5):
        try:
            urllib.request.urlopen(req, timeout=30).read()
            return
        except Exception as e:
            print('rackboot-kubeadm: report failed: %s' % e, file=sys.stderr)
    
if shutil.which(cfg['command'][0]) is None:
    print('rackboot-kubeadm: kubeadm missing: this image carries no Kubernetes binaries', file=sys.stderr)
    report('failed', 'kubeadm missing', 'kubeadm is not installed on this node (the image was built without K8S_DIR)')
    sys.exit(1)
report('running', 'kubeadm started')
p = subprocess.run(cfg['command'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
print(p.stdout)
if p.returncode != 0:
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    failing = next((l for l in reversed(lines) if 'error' in l.lower()), 'kubeadm exited with %d' % p.returncode)
    report('failed', failing[:200], '\\n'.join(lines[-30:]))
    sys.exit(1)
for step in cfg['after']:
    shutil.copyfile(step['copy'], step['to'])
    os.chmod(step['to'], 0o600)
done = 'kubeadm ' + cfg['command'][1] + ' succeeded'
for path in cfg.get('apply', []):
    # MetalLB's resources need its CRDs: retried for a while, then reported, not fatal.
    for attempt in range(30):
        a = subprocess.run(['kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if a.returncode == 0:
            break
        time.sleep(10)
    done += '; %s %s' % (path, 'applied' if a.returncode == 0 else 'not applied (is MetalLB installed?): ' + a.stdout.strip()[-300:])
report('succeeded', done, '\\n'.join(p.stdout.splitlines()[-10:]))
`
