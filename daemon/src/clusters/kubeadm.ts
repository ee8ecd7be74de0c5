// kubeadm configuration per role (kubeadm.k8s.io/v1beta4), the kube-vip static pod for the
// control-plane VIP, and the kubeconfig files rackboot writes. Pure: given a cluster, a node
// and the secrets the caller opened, returns documents; nothing here reads the store.
import { stringify } from 'yaml'
import { KUBEADM_ENCRYPTION, type KeyAlgorithm } from './pki.js'

export const KUBEADM_API = 'kubeadm.k8s.io/v1beta4'
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock'
/** The group kubeadm's RBAC rules give a joining node's bootstrap identity (token or certificate). */
export const BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token'

export interface ClusterView {
  name: string
  version: string
  endpoint: { host: string; port: number }
  podCidr: string
  serviceCidr: string
  dnsDomain: string
  keyAlgorithm: KeyAlgorithm
  caCertHash: string
}

export interface NodeView { hostname: string; ipv4: string | null }

/** How a joining node proves itself to the cluster: its bootstrap token, or a bootstrap client certificate in a discovery file. */
export type JoinCredential = { kind: 'token'; token: string } | { kind: 'file'; path: string }

/**
 * YAML documents written as JSON (JSON is YAML, and kubeadm reads both): several times cheaper
 * to render than through a YAML emitter, which counts when a rack installs at once, and still
 * readable on the node. `---` separates the documents as kubeadm expects.
 */
export const yamlDocs = (docs: object[]): string => docs.map(d => JSON.stringify(d, null, 2) + '\n').join('---\n')

const nodeRegistration = (node: NodeView) => ({
  name: node.hostname,
  criSocket: CRI_SOCKET,
  ...(node.ipv4 === null ? {} : { kubeletExtraArgs: [{ name: 'node-ip', value: node.ipv4 }] })
})

const endpointOf = (c: ClusterView): string => `${c.endpoint.host}:${c.endpoint.port}`

/** kubelet's own configuration, shared by every role: the systemd cgroup driver, as containerd is set up in the node image. */
const kubeletConfiguration = () => ({
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  cgroupDriver: 'systemd'
})

/** The ClusterConfiguration every control plane's kubeadm reads (init writes it into the cluster). */
export function clusterConfiguration (c: ClusterView, sans: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: KUBEADM_API,
    kind: 'ClusterConfiguration',
    clusterName: c.name,
    kubernetesVersion: c.version,
    controlPlaneEndpoint: endpointOf(c),
    certificatesDir: '/etc/kubernetes/pki',
    encryptionAlgorithm: KUBEADM_ENCRYPTION[c.keyAlgorithm],
    networking: { podSubnet: c.podCidr, serviceSubnet: c.serviceCidr, dnsDomain: c.dnsDomain },
    apiServer: { certSANs: [...new Set([c.endpoint.host, ...sans])] }
  }
}

/** `kubeadm init --config` for the init node: its InitConfiguration (with the bootstrap token), the ClusterConfiguration and kubelet's configuration. */
export function initConfig (c: ClusterView, node: NodeView, token: { token: string; expiresAt: number }): string {
  const init = {
    apiVersion: KUBEADM_API,
    kind: 'InitConfiguration',
    bootstrapTokens: [{
      token: token.token,
      description: `rackboot: joins nodes to cluster ${c.name}`,
      expires: new Date(token.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      usages: ['signing', 'authentication'],
      groups: [BOOTSTRAP_GROUP]
    }],
    nodeRegistration: nodeRegistration(node),
    ...(node.ipv4 === null ? {} : { localAPIEndpoint: { advertiseAddress: node.ipv4, bindPort: 6443 } })
  }
  return yamlDocs([init, clusterConfiguration(c, node.ipv4 === null ? [] : [node.ipv4]), kubeletConfiguration()])
}

/** `kubeadm join --config` for another control plane (`controlPlane` set) or a worker. */
export function joinConfig (c: ClusterView, node: NodeView, role: 'control-plane' | 'worker', cred: JoinCredential): string {
  const join = {
    apiVersion: KUBEADM_API,
    kind: 'JoinConfiguration',
    discovery: cred.kind === 'token'
      ? { bootstrapToken: { apiServerEndpoint: endpointOf(c), token: cred.token, caCertHashes: [c.caCertHash] } }
      : { file: { kubeConfigPath: cred.path } },
    nodeRegistration: nodeRegistration(node),
    ...(role === 'control-plane' ? { controlPlane: node.ipv4 === null ? {} : { localAPIEndpoint: { advertiseAddress: node.ipv4, bindPort: 6443 } } } : {})
  }
  return yamlDocs([join, kubeletConfiguration()])
}

/** A kubeconfig with one cluster, one user with a client certificate, one context. */
export function kubeconfig (c: ClusterView, user: string, caCertPem: string, client: { cert: string; key: string }): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
  const context = `${user}@${c.name}`
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: c.name, cluster: { server: `https://${endpointOf(c)}`, 'certificate-authority-data': b64(caCertPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: context, context: { cluster: c.name, user } }],
    'current-context': context,
    preferences: {}
  }, { lineWidth: 0 })
}

/**
 * kube-vip as a static pod holding the control-plane VIP (ARP, leader election among the
 * control planes). On the init node it must use super-admin.conf (admin.conf has no rights
 * before kubeadm's RBAC bindings exist, kube-vip issue 684); on the others admin.conf.
 */
export function kubeVipManifest (c: ClusterView, image: string, onInitNode: boolean): string {
  return yamlDocs([{
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-vip', namespace: 'kube-system' },
    spec: {
      containers: [{
        name: 'kube-vip',
        image,
        imagePullPolicy: 'IfNotPresent',
        args: ['manager'],
        env: [
          { name: 'address', value: c.endpoint.host },
          { name: 'port', value: String(c.endpoint.port) },
          { name: 'vip_arp', value: 'true' },
          { name: 'cp_enable', value: 'true' },
          { name: 'cp_namespace', value: 'kube-system' },
          { name: 'vip_leaderelection', value: 'true' },
          { name: 'vip_leasename', value: 'plndr-cp-lock' },
          { name: 'svc_enable', value: 'false' }
        ],
        securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        volumeMounts: [{ mountPath: '/etc/kubernetes/admin.conf', name: 'kubeconfig' }]
      }],
      hostAliases: [{ hostnames: ['kubernetes'], ip: '127.0.0.1' }],
      hostNetwork: true,
      volumes: [{ name: 'kubeconfig', hostPath: { path: onInitNode ? '/etc/kubernetes/super-admin.conf' : '/etc/kubernetes/admin.conf' } }]
    }
  }])
}
