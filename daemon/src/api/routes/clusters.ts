// /api/v1/clusters: Kubernetes clusters rackboot bootstraps, their admin kubeconfig and their
// MetalLB manifests. Nodes join a cluster through the machine's `cluster` and `role` fields.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema } from '../schemas.js'
import { RackbootError } from '../../errors.js'
import { createClusterPki, issueLeaf, KEY_ALGORITHMS } from '../../clusters/pki.js'
import { kubeconfig } from '../../clusters/kubeadm.js'
import { viewOf } from '../../clusters/material.js'
import type { ClusterInput } from '../../store/clusters.js'
import { clusterManifests } from '../../clusters/manifests.js'

const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema }
const NAME = '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'
const ClusterState = Type.Enum(['pending', 'initialising', 'ready', 'failed'], { description: '`pending` (no node has run kubeadm), `initialising` (the init node was given `kubeadm init`), `ready` (kubeadm init succeeded), `failed` (the init node failed: see stateReason).' })

export const ClusterInputSchema = Type.Object({
  name: Type.String({ pattern: NAME, description: 'Cluster name (lower-case letters, digits, -; at most 40).' }),
  version: Type.String({ maxLength: 40, description: 'Kubernetes version, v1.31 or later (kubeadm config v1beta4), e.g. v1.31.4.' }),
  endpoint: Type.Union([
    Type.Object({ pool: Type.String({ description: 'The IP pool the control-plane VIP is allocated from (kube-vip holds it on the control planes).' }), address: Type.Optional(Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$', description: 'This address of the pool; default: the next free one.' })) }, { additionalProperties: false }),
    Type.Object({ host: Type.String({ maxLength: 253, description: 'A given endpoint (an address or DNS name of a load balancer rackboot does not run).' }) }, { additionalProperties: false })
  ], { description: 'The control-plane endpoint (`controlPlaneEndpoint`): a VIP from a pool, or a given host.' }),
  endpointPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 6443.' })),
  podCidr: Type.Optional(Type.String({ description: 'Pod network, default 10.244.0.0/16.' })),
  serviceCidr: Type.Optional(Type.String({ description: 'Service network, default 10.96.0.0/12.' })),
  dnsDomain: Type.Optional(Type.String({ description: 'Default cluster.local.' })),
  keyAlgorithm: Type.Optional(Type.Enum([...KEY_ALGORITHMS], { description: 'Key type of the whole PKI: `ecdsa-p256` (default) or `rsa-2048`.' })),
  initMachine: Type.Optional(Type.String({ description: 'The control plane that runs kubeadm init (id, MAC or hostname); default: the first control plane registered.' })),
  applyManifests: Type.Optional(Type.Boolean({ description: 'The init node applies the cluster\'s MetalLB manifests (GET …/manifests) with kubectl once kubeadm init succeeded. Off by default: MetalLB itself must be installed in the cluster first.' }))
}, { additionalProperties: false, description: 'A cluster to create: rackboot makes its whole PKI and first bootstrap token now.' })

const NodeSchema = Type.Object({
  id: Type.Integer(), hostname: Type.String(), role: Type.String(), ipv4: Type.Union([Type.String(), Type.Null()]), state: Type.String(),
  clusterStatus: Type.Union([Type.String(), Type.Null()]), clusterReason: Type.Union([Type.String(), Type.Null()])
})

export const ClusterSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  version: Type.String(),
  endpoint: Type.Object({ host: Type.String(), port: Type.Integer(), pool: Type.Union([Type.String(), Type.Null()]) }),
  podCidr: Type.String(),
  serviceCidr: Type.String(),
  dnsDomain: Type.String(),
  keyAlgorithm: Type.String(),
  state: ClusterState,
  stateReason: Type.Union([Type.String(), Type.Null()]),
  initMachine: Type.Union([Type.String(), Type.Null()]),
  applyManifests: Type.Boolean(),
  caCertHash: Type.String({ description: '`sha256:` pin of the cluster CA\'s public key (kubeadm\'s caCertHashes).' }),
  nodes: Type.Array(NodeSchema),
  tokens: Type.Array(Type.Object({ id: Type.String(), expiresAt: Type.String({ format: 'date-time' }), inCluster: Type.Boolean() }), { description: 'Bootstrap tokens by id (their secrets are never shown).' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})

const NameParams = Type.Object({ name: Type.String() })

export async function clusterRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const { store } = deps
  const actor = (req: { identity: { name: string } | null }) => `api:${req.identity?.name ?? '?'}`
  const settings = () => deps.clusters?.() ?? DEFAULT_CLUSTER_SETTINGS
  const withTokens = <T extends { id: number }>(c: T) => ({ ...c, tokens: store.clusters.tokens(c.id) })
  const machineId = (ref: string, field: string): number => {
    const m = store.machines.resolve(ref).machine
    if (m === null) throw new RackbootError('RB_NOT_FOUND', `machine ${ref} does not exist`, field)
    return m.id
  }
  /** Only read-write tokens get secret material, even on a GET. */
  const readWriteOnly = (req: { identity: { name: string; readOnly: boolean } | null }, what: string) => {
    if (req.identity?.readOnly !== false) throw new RackbootError('RB_AUTH_READ_ONLY', `token "${req.identity?.name ?? '?'}" is read-only; ${what} needs a read-write token`)
  }

  app.post('/clusters', {
    schema: { tags: ['clusters'], summary: 'Create a cluster: its PKI (cluster, front-proxy and etcd CAs, service-account keys), its first bootstrap token, and its VIP', body: ClusterInputSchema, response: { 201: ClusterSchema, ...errors } }
  }, async (req, reply) => {
    const b = req.body
    if (store.clusters.get(b.name) !== null) throw new RackbootError('RB_CONFLICT_CLUSTER', `a cluster named ${b.name} already exists`, 'name')
    const pki = await createClusterPki(b.keyAlgorithm ?? 'ecdsa-p256', store.now())
    const c = store.write(() => {
      const input: ClusterInput = {
        name: b.name, version: b.version, endpoint: b.endpoint,
        ...(b.endpointPort === undefined ? {} : { endpointPort: b.endpointPort }),
        ...(b.podCidr === undefined ? {} : { podCidr: b.podCidr }),
        ...(b.serviceCidr === undefined ? {} : { serviceCidr: b.serviceCidr }),
        ...(b.dnsDomain === undefined ? {} : { dnsDomain: b.dnsDomain }),
        keyAlgorithm: pki.algorithm,
        initMachineId: b.initMachine === undefined ? null : machineId(b.initMachine, 'initMachine'),
        applyManifests: b.applyManifests === true
      }
      return store.clusters.create(input, pki, settings().bootstrapTokenTtlMs, actor(req))
    })
    return reply.code(201).header('location', `/api/v1/clusters/${c.name}`).send(withTokens(c))
  })

  app.get('/clusters', {
    schema: { tags: ['clusters'], summary: 'List clusters with their nodes and state', response: { 200: Type.Object({ items: Type.Array(ClusterSchema) }), ...errors } }
  }, async () => ({ items: store.clusters.list().map(withTokens) }))

  app.get('/clusters/:name', {
    schema: { tags: ['clusters'], summary: 'One cluster', params: NameParams, response: { 200: ClusterSchema, ...errors } }
  }, async (req) => withTokens(store.clusters.require(req.params.name)))

  app.patch('/clusters/:name', {
    schema: {
      tags: ['clusters'],
      summary: 'Change the init machine (while pending), the version, or whether the init node applies the MetalLB manifests',
      params: NameParams,
      body: Type.Object({ initMachine: Type.Optional(Type.Union([Type.String(), Type.Null()])), version: Type.Optional(Type.String({ maxLength: 40 })), applyManifests: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: ClusterSchema, ...errors }
    }
  }, async (req) => withTokens(store.write(() => store.clusters.update(req.params.name, {
    ...(req.body.initMachine === undefined ? {} : { initMachineId: req.body.initMachine === null ? null : machineId(req.body.initMachine, 'initMachine') }),
    ...(req.body.version === undefined ? {} : { version: req.body.version }),
    ...(req.body.applyManifests === undefined ? {} : { applyManifests: req.body.applyManifests })
  }, actor(req)))))

  app.delete('/clusters/:name', {
    schema: { tags: ['clusters'], summary: 'Delete a cluster, its PKI and tokens; its pool allocations are freed (with nodes only with ?force=true: they leave it)', params: NameParams, querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), response: { 204: Type.Null(), ...errors } }
  }, async (req, reply) => {
    store.write(() => store.clusters.delete(req.params.name, req.query.force === true, actor(req)))
    return reply.code(204).send(null)
  })

  app.get('/clusters/:name/kubeconfig', {
    schema: { tags: ['clusters'], summary: 'An admin kubeconfig for the control-plane endpoint (a short-lived client certificate in system:masters, signed by the cluster CA); read-write tokens only', params: NameParams, produces: ['application/yaml'], response: { 200: Type.String(), ...errors } }
  }, async (req, reply) => {
    readWriteOnly(req, 'a kubeconfig')
    const c = store.clusters.require(req.params.name)
    const ca = { cert: store.clusters.pki(c.id).public['ca.crt'], key: store.clusters.secret(c.id, 'ca.key') }
    const user = `rackboot-admin-${req.identity?.name ?? 'api'}`
    const leaf = await issueLeaf(ca, { cn: user, o: ['system:masters'], usage: ['client'], ttlMs: settings().kubeconfigTtlMs }, store.now())
    store.write(() => store.events.append({ actor: actor(req), type: 'cluster.kubeconfig', detail: { cluster: c.name, user, validFor: `${Math.round(settings().kubeconfigTtlMs / 1000)}s` } }))
    return reply.type('application/yaml').header('cache-control', 'no-store').send(kubeconfig(viewOf(c), user, ca.cert, leaf))
  })

  app.get('/clusters/:name/ca.crt', {
    schema: { tags: ['clusters'], summary: 'The cluster CA certificate (public)', params: NameParams, produces: ['application/x-pem-file'], response: { 200: Type.String(), ...errors } }
  }, async (req, reply) => {
    const c = store.clusters.require(req.params.name)
    return reply.type('application/x-pem-file').send(store.clusters.pki(c.id).public['ca.crt'])
  })

  app.get('/clusters/:name/manifests', {
    schema: { tags: ['clusters'], summary: 'MetalLB manifests (IPAddressPool + L2Advertisement, metallb.io/v1beta1) for the cluster\'s `services` allocations; MetalLB itself must be installed', params: NameParams, produces: ['application/yaml'], response: { 200: Type.String(), ...errors } }
  }, async (req, reply) => {
    const c = store.clusters.require(req.params.name)
    return reply.type('application/yaml').send(clusterManifests(store, c))
  })
}

export const DEFAULT_CLUSTER_SETTINGS = { bootstrapTokenTtlMs: 24 * 3600_000, joinMarginMs: 3600_000, bootstrapCertTtlMs: 2 * 3600_000, kubeconfigTtlMs: 24 * 3600_000, kubeVipImage: 'ghcr.io/kube-vip/kube-vip:v0.8.9' }
export type ClusterSettings = typeof DEFAULT_CLUSTER_SETTINGS
