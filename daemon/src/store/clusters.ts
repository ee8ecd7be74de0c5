// Kubernetes clusters: their settings, PKI (public parts in clear, private keys sealed),
// bootstrap tokens (secret part sealed) and state, and the machines that are their nodes.
import { randomInt } from 'node:crypto'
import { cidrOverlaps, tryParseIPv4, tryParseSubnet } from '@rackboot/wire'
import { statementCache, type Db } from './db.js'
import type { EventLog } from './events.js'
import type { SecretBox } from './secrets.js'
import type { PoolStore } from './pools.js'
import type { Lan } from '../config/lan.js'
import { RackbootError } from '../errors.js'
import type { ClusterPki, KeyAlgorithm, PkiPublic, PkiSecret } from '../clusters/pki.js'

export type ClusterState = 'pending' | 'initialising' | 'ready' | 'failed'

export interface ClusterInput {
  name: string
  /** Kubernetes version, e.g. v1.31.4 (a leading `v` is added when missing). */
  version: string
  /** The control-plane endpoint: a pool to take the VIP from, or a given address or DNS name. */
  endpoint: { pool: string; address?: string } | { host: string }
  endpointPort?: number
  podCidr?: string
  serviceCidr?: string
  dnsDomain?: string
  keyAlgorithm?: KeyAlgorithm
  /** The control plane that runs `kubeadm init` (id, MAC or hostname resolved by the caller); default: the first control plane. */
  initMachineId?: number | null
  /** The init node applies the cluster's MetalLB manifests once kubeadm init succeeded (MetalLB must be installed). */
  applyManifests?: boolean
}

export interface ClusterNode { id: number; hostname: string; role: string; ipv4: string | null; state: string; clusterStatus: string | null; clusterReason: string | null }

export interface Cluster {
  id: number
  name: string
  version: string
  endpoint: { host: string; port: number; pool: string | null }
  podCidr: string
  serviceCidr: string
  dnsDomain: string
  keyAlgorithm: KeyAlgorithm
  state: ClusterState
  stateReason: string | null
  /** The control plane that runs (or ran) `kubeadm init`; null while the cluster has none. */
  initMachine: string | null
  applyManifests: boolean
  /** `sha256:…` of the cluster CA's public key: every join config's `caCertHashes`. */
  caCertHash: string
  nodes: ClusterNode[]
  createdAt: string
  updatedAt: string
}

interface Row {
  id: number; name: string; version: string; endpoint_host: string; endpoint_port: number; pod_cidr: string; service_cidr: string
  dns_domain: string; key_algorithm: KeyAlgorithm; state: ClusterState; state_reason: string | null; init_machine_id: number | null
  apply_manifests: number
  pki: string; created_at: number; updated_at: number
}

export interface StoredPki { public: PkiPublic; caCertHash: string }

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/
const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/
const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789'
const iso = (ms: number) => new Date(ms).toISOString()

/** A kubeadm bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`, from the CSPRNG. */
export function newBootstrapToken (): { id: string; secret: string } {
  const pick = (n: number) => Array.from({ length: n }, () => TOKEN_CHARS[randomInt(TOKEN_CHARS.length)]).join('')
  return { id: pick(6), secret: pick(16) }
}

/** A Kubernetes version kubeadm's v1beta4 configuration fits (v1.31 or later), with its leading `v`; a 400 naming `version` otherwise. */
function kubernetesVersion (text: string): string {
  const v = VERSION.exec(text)
  if (v === null) throw new RackbootError('RB_VALIDATION', `version ${JSON.stringify(text)} is not a Kubernetes version like v1.31.4`, 'version')
  if (Number(v[1]) !== 1 || Number(v[2]) < 31) throw new RackbootError('RB_VALIDATION', `version ${text}: rackboot writes kubeadm's v1beta4 configuration, which needs Kubernetes v1.31 or later`, 'version')
  return text.startsWith('v') ? text : `v${text}`
}

export const BOOTSTRAP_TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/

export class ClusterStore {
  /** Each statement prepared once (seeds of a rack installing at once run these per request). */
  private readonly sql
  constructor (
    db: Db,
    private readonly events: EventLog,
    private readonly secrets: SecretBox,
    private readonly pools: PoolStore,
    private readonly lans: () => ReadonlyMap<string, Lan>,
    private readonly now: () => number
  ) {
    this.sql = statementCache(db)
  }

  /**
   * Creates a cluster with its PKI (made by the caller beforehand: key generation is async and
   * must not sit inside a transaction), its VIP (allocated from the pool named), and its first
   * bootstrap token. Call inside a transaction.
   */
  create (input: ClusterInput, pki: ClusterPki, tokenTtlMs: number, actor: string): Cluster {
    if (!CLUSTER_NAME.test(input.name)) throw new RackbootError('RB_VALIDATION', `cluster name ${JSON.stringify(input.name)} must be lower-case letters, digits and -, at most 40, starting and ending with a letter or digit`, 'name')
    const version = kubernetesVersion(input.version)
    const podCidr = input.podCidr ?? '10.244.0.0/16'
    const serviceCidr = input.serviceCidr ?? '10.96.0.0/12'
    const pod = tryParseSubnet(podCidr)
    const svc = tryParseSubnet(serviceCidr)
    if (pod === null || pod.hostBits) throw new RackbootError('RB_IP_INVALID', `podCidr ${JSON.stringify(podCidr)} is not a network CIDR`, 'podCidr')
    if (svc === null || svc.hostBits) throw new RackbootError('RB_IP_INVALID', `serviceCidr ${JSON.stringify(serviceCidr)} is not a network CIDR`, 'serviceCidr')
    if (cidrOverlaps(pod, svc)) throw new RackbootError('RB_IP_INVALID', `podCidr ${podCidr} overlaps serviceCidr ${serviceCidr}`, 'serviceCidr')
    if (svc.prefix < 12) throw new RackbootError('RB_IP_INVALID', `serviceCidr ${serviceCidr} is larger than a /12 (kube-apiserver refuses it)`, 'serviceCidr')
    for (const l of this.lans().values()) {
      if (cidrOverlaps(pod, l.subnet)) throw new RackbootError('RB_IP_INVALID', `podCidr ${podCidr} overlaps LAN ${l.name} (${l.config.subnet})`, 'podCidr')
      if (cidrOverlaps(svc, l.subnet)) throw new RackbootError('RB_IP_INVALID', `serviceCidr ${serviceCidr} overlaps LAN ${l.name} (${l.config.subnet})`, 'serviceCidr')
    }
    const dnsDomain = input.dnsDomain ?? 'cluster.local'
    if (!DNS_NAME.test(dnsDomain)) throw new RackbootError('RB_VALIDATION', `dnsDomain ${JSON.stringify(dnsDomain)} is not a DNS name`, 'dnsDomain')
    const port = input.endpointPort ?? 6443
    let host: string
    if ('host' in input.endpoint) {
      host = input.endpoint.host.toLowerCase()
      if (tryParseIPv4(host) === null && !DNS_NAME.test(host)) throw new RackbootError('RB_VALIDATION', `endpoint.host ${JSON.stringify(input.endpoint.host)} is neither an IPv4 address nor a DNS name`, 'endpoint.host')
    } else {
      host = '' // the VIP, below, once the cluster row exists to own it
    }
    const now = this.now()
    let id: number
    try {
      id = Number(this.sql(`INSERT INTO clusters (name, version, endpoint_host, endpoint_port, pod_cidr, service_cidr, dns_domain, key_algorithm, init_machine_id, apply_manifests, pki, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(input.name, version, host, port, podCidr, serviceCidr, dnsDomain, pki.algorithm, input.initMachineId ?? null, input.applyManifests === true ? 1 : 0,
        JSON.stringify({ public: pki.public, caCertHash: pki.caCertHash } satisfies StoredPki), now, now).lastInsertRowid)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new RackbootError('RB_CONFLICT_CLUSTER', `a cluster named ${input.name} already exists`, 'name')
      throw err
    }
    if ('pool' in input.endpoint) {
      const vip = this.pools.allocate(input.endpoint.pool, { ...(input.endpoint.address === undefined ? {} : { address: input.endpoint.address }), clusterId: id, purpose: 'vip', comment: `control-plane endpoint of cluster ${input.name}` }, actor)
      host = vip.address
      this.sql('UPDATE clusters SET endpoint_host = ? WHERE id = ?').run(host, id)
    }
    for (const [name, pem] of Object.entries(pki.secret)) {
      this.sql('INSERT INTO cluster_secrets (cluster_id, name, sealed) VALUES (?, ?, ?)').run(id, name, this.secrets.seal(pem, `cluster:${id}:${name}`))
    }
    this.mintToken(id, tokenTtlMs)
    const c = this.getById(id) as Cluster
    this.events.append({ actor, type: 'cluster.created', detail: { cluster: c.name, version: c.version, endpoint: `${c.endpoint.host}:${c.endpoint.port}`, keyAlgorithm: c.keyAlgorithm, caCertHash: c.caCertHash } })
    return c
  }

  /** A new bootstrap token for the cluster, valid for `ttlMs`; returns it in clear (for the caller to hand on, never to log). */
  mintToken (clusterId: number, ttlMs: number): { token: string; expiresAt: number } {
    for (;;) {
      const t = newBootstrapToken()
      const exists = this.sql('SELECT 1 FROM bootstrap_tokens WHERE token_id = ?').get(t.id) !== undefined
      if (exists) continue
      const expiresAt = this.now() + ttlMs
      this.sql('INSERT INTO bootstrap_tokens (cluster_id, token_id, sealed, expires_at, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(clusterId, t.id, this.secrets.seal(t.secret, `cluster:${clusterId}:token:${t.id}`), expiresAt, this.now())
      return { token: `${t.id}.${t.secret}`, expiresAt }
    }
  }

  private openToken (clusterId: number, r: { token_id: string; sealed: string }): string {
    return `${r.token_id}.${this.secrets.openText(r.sealed, `cluster:${clusterId}:token:${r.token_id}`)}`
  }

  /**
   * The token an init node's InitConfiguration carries (kubeadm init creates it in the
   * cluster): the newest one when it stays valid for `marginMs`, else a new one. Marked as in
   * the cluster. Call inside a transaction.
   */
  tokenForInit (clusterId: number, ttlMs: number, marginMs: number): { token: string; expiresAt: number } {
    const r = this.sql('SELECT id, token_id, sealed, expires_at FROM bootstrap_tokens WHERE cluster_id = ? ORDER BY id DESC LIMIT 1').get(clusterId) as { id: number; token_id: string; sealed: string; expires_at: number } | undefined
    if (r !== undefined && r.expires_at >= this.now() + marginMs) {
      this.sql('UPDATE bootstrap_tokens SET in_cluster = 1 WHERE id = ?').run(r.id)
      return { token: this.openToken(clusterId, r), expiresAt: r.expires_at }
    }
    const t = this.mintToken(clusterId, ttlMs)
    this.sql('UPDATE bootstrap_tokens SET in_cluster = 1 WHERE token_id = ?').run(t.token.slice(0, 6))
    return t
  }

  /** A token the cluster knows (one an init config carried) that is still valid at `validUntil`, or null. */
  joinToken (clusterId: number, validUntil: number): string | null {
    const r = this.sql('SELECT token_id, sealed FROM bootstrap_tokens WHERE cluster_id = ? AND in_cluster = 1 AND expires_at >= ? ORDER BY expires_at DESC LIMIT 1').get(clusterId, validUntil) as { token_id: string; sealed: string } | undefined
    return r === undefined ? null : this.openToken(clusterId, r)
  }

  /** The cluster's tokens without their secrets: id, expiry, whether the cluster has it. */
  tokens (clusterId: number): Array<{ id: string; expiresAt: string; inCluster: boolean }> {
    return (this.sql('SELECT token_id, expires_at, in_cluster FROM bootstrap_tokens WHERE cluster_id = ? ORDER BY id').all(clusterId) as Array<{ token_id: string; expires_at: number; in_cluster: number }>)
      .map(r => ({ id: r.token_id, expiresAt: iso(r.expires_at), inCluster: r.in_cluster === 1 }))
  }

  /** A private PKI file of the cluster, opened. */
  secret (clusterId: number, name: keyof PkiSecret): string {
    const r = this.sql('SELECT sealed FROM cluster_secrets WHERE cluster_id = ? AND name = ?').pluck().get(clusterId, name) as string | undefined
    if (r === undefined) throw new Error(`cluster ${clusterId} has no ${name}`)
    return this.secrets.openText(r, `cluster:${clusterId}:${name}`)
  }

  pki (clusterId: number): StoredPki {
    const r = this.sql('SELECT pki FROM clusters WHERE id = ?').pluck().get(clusterId) as string | undefined
    if (r === undefined) throw new Error(`cluster ${clusterId} does not exist`)
    return JSON.parse(r) as StoredPki
  }

  /**
   * The cluster of a row; `nodes: false` leaves its node list empty (what a seed needs is the
   * cluster itself and its init machine, not its hundreds of nodes).
   */
  private fromRow (r: Row, withNodes = true): Cluster {
    const nodes = withNodes
      ? this.sql('SELECT id, hostname, role, ipv4, state, cluster_status, cluster_reason FROM machines WHERE cluster_id = ? ORDER BY id').all(r.id) as Array<{ id: number; hostname: string; role: string; ipv4: string | null; state: string; cluster_status: string | null; cluster_reason: string | null }>
      : []
    const init = this.initNode(r)
    const vipPool = this.sql("SELECT p.name FROM ip_allocations a JOIN ip_pools p ON p.id = a.pool_id WHERE a.cluster_id = ? AND a.purpose = 'vip' LIMIT 1").pluck().get(r.id) as string | undefined
    return {
      id: r.id,
      name: r.name,
      version: r.version,
      endpoint: { host: r.endpoint_host, port: r.endpoint_port, pool: vipPool ?? null },
      podCidr: r.pod_cidr,
      serviceCidr: r.service_cidr,
      dnsDomain: r.dns_domain,
      keyAlgorithm: r.key_algorithm,
      state: r.state,
      stateReason: r.state_reason,
      initMachine: init?.hostname ?? null,
      applyManifests: r.apply_manifests === 1,
      caCertHash: (JSON.parse(r.pki) as StoredPki).caCertHash,
      nodes: nodes.map(n => ({ id: n.id, hostname: n.hostname, role: n.role, ipv4: n.ipv4, state: n.state, clusterStatus: n.cluster_status, clusterReason: n.cluster_reason })),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at)
    }
  }

  /** The init node: the one chosen (while it is a control plane of the cluster), else the first control plane registered (lowest id). */
  private initNode (r: Row): { id: number; hostname: string } | null {
    if (r.init_machine_id !== null) {
      const chosen = this.sql("SELECT id, hostname FROM machines WHERE id = ? AND cluster_id = ? AND role = 'control-plane'").get(r.init_machine_id, r.id) as { id: number; hostname: string } | undefined
      if (chosen !== undefined) return chosen
    }
    return (this.sql("SELECT id, hostname FROM machines WHERE cluster_id = ? AND role = 'control-plane' ORDER BY id LIMIT 1").get(r.id) as { id: number; hostname: string } | undefined) ?? null
  }

  getById (id: number): Cluster | null {
    const r = this.sql('SELECT * FROM clusters WHERE id = ?').get(id) as Row | undefined
    return r === undefined ? null : this.fromRow(r)
  }

  get (name: string, o: { nodes?: boolean } = {}): Cluster | null {
    const r = this.sql('SELECT * FROM clusters WHERE name = ?').get(name) as Row | undefined
    return r === undefined ? null : this.fromRow(r, o.nodes !== false)
  }

  require (name: string, field = 'params.name'): Cluster {
    const c = this.get(name)
    if (c === null) throw new RackbootError('RB_NOT_FOUND', `cluster ${name} does not exist`, field)
    return c
  }

  list (): Cluster[] {
    return (this.sql('SELECT * FROM clusters ORDER BY name').all() as Row[]).map(r => this.fromRow(r))
  }

  /** Changes what may change: the init machine (only while `pending`) and the version. */
  update (name: string, patch: { initMachineId?: number | null; version?: string; applyManifests?: boolean }, actor: string): Cluster {
    const c = this.require(name)
    if (patch.applyManifests !== undefined) this.sql('UPDATE clusters SET apply_manifests = ?, updated_at = ? WHERE id = ?').run(patch.applyManifests ? 1 : 0, this.now(), c.id)
    if (patch.initMachineId !== undefined) {
      if (c.state !== 'pending') throw new RackbootError('RB_STATE_TRANSITION', `cluster ${name} is ${c.state}: its init machine can only change while it is pending`, 'initMachine')
      if (patch.initMachineId !== null) {
        const node = c.nodes.find(n => n.id === patch.initMachineId)
        if (node === undefined || node.role !== 'control-plane') throw new RackbootError('RB_CLUSTER_ROLE', `the init machine must be a control-plane node of cluster ${name}`, 'initMachine')
      }
      this.sql('UPDATE clusters SET init_machine_id = ?, updated_at = ? WHERE id = ?').run(patch.initMachineId, this.now(), c.id)
    }
    if (patch.version !== undefined) {
      this.sql('UPDATE clusters SET version = ?, updated_at = ? WHERE id = ?').run(kubernetesVersion(patch.version), this.now(), c.id)
    }
    const updated = this.getById(c.id) as Cluster
    this.events.append({ actor, type: 'cluster.updated', detail: { cluster: name, changed: Object.keys(patch) } })
    return updated
  }

  /** Sets the cluster's state (and its reason, cleared when not given). */
  setState (clusterId: number, state: ClusterState, reason: string | null, actor: string): void {
    const c = this.getById(clusterId)
    if (c === null || (c.state === state && c.stateReason === reason)) return
    this.sql('UPDATE clusters SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?').run(state, reason, this.now(), clusterId)
    this.events.append({ actor, type: 'cluster.state', detail: { cluster: c.name, from: c.state, to: state, ...(reason === null ? {} : { reason }) } })
  }

  /** A node's kubeadm status in its cluster. */
  setNodeStatus (machineId: number, status: 'pending' | 'running' | 'joined' | 'failed', reason: string | null): void {
    this.sql('UPDATE machines SET cluster_status = ?, cluster_reason = ?, updated_at = ? WHERE id = ? AND cluster_id IS NOT NULL').run(status, reason, this.now(), machineId)
  }

  /**
   * Deletes a cluster: its PKI, tokens and pool allocations go with it. Refused while machines
   * are its nodes unless `force` (they then leave it).
   */
  delete (name: string, force: boolean, actor: string): { released: string[] } {
    const c = this.require(name)
    if (c.nodes.length > 0 && !force) throw new RackbootError('RB_CLUSTER_IN_USE', `cluster ${name} has ${c.nodes.length} node(s) (${c.nodes.map(n => n.hostname).join(', ')}); remove them from it first, or delete with force`, 'params.name')
    const released = this.pools.allocations({ clusterId: c.id }).map(a => `${a.pool}:${a.cidr ?? a.address}`)
    this.sql('UPDATE machines SET cluster_status = NULL, cluster_reason = NULL WHERE cluster_id = ?').run(c.id)
    this.sql('DELETE FROM clusters WHERE id = ?').run(c.id)
    this.events.append({ actor, type: 'cluster.deleted', detail: { cluster: name, nodes: c.nodes.map(n => n.hostname), released } })
    return { released }
  }
}

