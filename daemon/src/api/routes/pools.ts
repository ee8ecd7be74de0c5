// /api/v1/pools: IP pools for floating addresses (VIPs, load-balanced services) and their allocations.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema } from '../schemas.js'
import { RackbootError } from '../../errors.js'

const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema }
const RANGE = '^\\d{1,3}(\\.\\d{1,3}){3}(\\s*-\\s*\\d{1,3}(\\.\\d{1,3}){3})?$'
const Delivery = Type.Enum(['l2', 'bgp', 'routed'], { description: 'How the pool\'s addresses reach the nodes: `l2` (on the nodes\' LAN; MetalLB `L2Advertisement`), `bgp` (announced to the router), `routed` (the colo routes the block to a next hop). Default l2.' })

export const PoolInputSchema = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'Pool name (lower-case letters, digits, -).' }),
  cidr: Type.Optional(Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', description: 'The pool as one CIDR, e.g. a routed public /27: its network and broadcast addresses are never allocated. Exactly one of `cidr` or `ranges`.' })),
  ranges: Type.Optional(Type.Array(Type.String({ pattern: RANGE }), { minItems: 1, maxItems: 64, description: 'The pool as address ranges `first-last` (or single addresses), e.g. a LAN\'s reserved range for services.' })),
  reserved: Type.Optional(Type.Array(Type.String({ pattern: RANGE }), { maxItems: 256, description: 'Addresses or ranges inside the pool that are never allocated.' })),
  lan: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The LAN the addresses are on (they must be inside its subnet); null: none (a routed block).' })),
  delivery: Type.Optional(Delivery),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()]))
}, { additionalProperties: false, description: 'A pool of floating addresses. It may not overlap another pool, a LAN\'s DHCP pool or a machine\'s reserved address.' })

export const PoolSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  cidr: Type.Union([Type.String(), Type.Null()]),
  ranges: Type.Array(Type.String()),
  reserved: Type.Array(Type.String()),
  lan: Type.Union([Type.String(), Type.Null()]),
  delivery: Delivery,
  description: Type.Union([Type.String(), Type.Null()]),
  size: Type.Integer({ description: 'Addresses in the pool (including those never allocatable).' }),
  allocated: Type.Integer({ description: 'Addresses allocated.' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' })
})

export const AllocationSchema = Type.Object({
  id: Type.Integer(),
  pool: Type.String(),
  address: Type.String({ description: 'The address (the first of a block).' }),
  cidr: Type.Union([Type.String(), Type.Null()], { description: 'A block as CIDR; null for one address.' }),
  first: Type.String(),
  last: Type.String(),
  size: Type.Integer(),
  cluster: Type.Union([Type.String(), Type.Null()]),
  machine: Type.Union([Type.String(), Type.Null()]),
  purpose: Type.Union([Type.Enum(['vip', 'services']), Type.Null()]),
  comment: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' })
})

export const AllocationInputSchema = Type.Object({
  address: Type.Optional(Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$', description: 'This address (or the first of the block); default: the next free one.' })),
  prefix: Type.Optional(Type.Integer({ minimum: 16, maximum: 32, description: 'An aligned block of 2^(32-prefix) addresses, e.g. 29 for eight; default 32 (one address).' })),
  cluster: Type.Optional(Type.String({ description: 'The owning cluster (its allocations are freed when it is deleted).' })),
  machine: Type.Optional(Type.String({ description: 'The owning machine (id, MAC or hostname; freed when it is deleted).' })),
  purpose: Type.Optional(Type.Enum(['vip', 'services'], { description: '`services`: a cluster\'s load-balancer range (rendered into its MetalLB manifests); `vip`: a control-plane endpoint.' })),
  comment: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })

const NameParams = Type.Object({ name: Type.String() })

export async function poolRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const { store } = deps
  const actor = (req: { identity: { name: string } | null }) => `api:${req.identity?.name ?? '?'}`

  app.post('/pools', {
    schema: { tags: ['pools'], summary: 'Create an IP pool', body: PoolInputSchema, response: { 201: PoolSchema, ...errors } }
  }, async (req, reply) => {
    const p = store.write(() => store.pools.create(req.body, actor(req)))
    return reply.code(201).header('location', `/api/v1/pools/${p.name}`).send(p)
  })

  app.get('/pools', {
    schema: { tags: ['pools'], summary: 'List IP pools with their usage', response: { 200: Type.Object({ items: Type.Array(PoolSchema) }), ...errors } }
  }, async () => ({ items: store.pools.list() }))

  app.get('/pools/:name', {
    schema: { tags: ['pools'], summary: 'One IP pool', params: NameParams, response: { 200: PoolSchema, ...errors } }
  }, async (req) => store.pools.require(req.params.name))

  app.delete('/pools/:name', {
    schema: { tags: ['pools'], summary: 'Delete an IP pool (with allocations only with ?force=true: they are released)', params: NameParams, querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), response: { 204: Type.Null(), ...errors } }
  }, async (req, reply) => {
    store.write(() => store.pools.delete(req.params.name, req.query.force === true, actor(req)))
    return reply.code(204).send(null)
  })

  app.get('/pools/:name/allocations', {
    schema: { tags: ['pools'], summary: 'A pool\'s allocations, by address', params: NameParams, response: { 200: Type.Object({ items: Type.Array(AllocationSchema) }), ...errors } }
  }, async (req) => {
    store.pools.require(req.params.name)
    return { items: store.pools.allocations({ pool: req.params.name }) }
  })

  app.post('/pools/:name/allocations', {
    schema: { tags: ['pools'], summary: 'Allocate the next free address, a given one, or an aligned block', params: NameParams, body: AllocationInputSchema, response: { 201: AllocationSchema, ...errors } }
  }, async (req, reply) => {
    const b = req.body
    const a = store.write(() => {
      const clusterId = b.cluster === undefined ? null : store.clusters.get(b.cluster)?.id ?? null
      if (b.cluster !== undefined && clusterId === null) throw new RackbootError('RB_CLUSTER_UNKNOWN', `cluster ${b.cluster} does not exist`, 'cluster')
      const machine = b.machine === undefined ? null : store.machines.resolve(b.machine).machine
      if (b.machine !== undefined && machine === null) throw new RackbootError('RB_NOT_FOUND', `machine ${b.machine} does not exist`, 'machine')
      return store.pools.allocate(req.params.name, {
        ...(b.address === undefined ? {} : { address: b.address }),
        ...(b.prefix === undefined ? {} : { prefix: b.prefix }),
        clusterId, machineId: machine?.id ?? null, purpose: b.purpose ?? null, comment: b.comment ?? null
      }, actor(req))
    })
    return reply.code(201).header('location', `/api/v1/pools/${req.params.name}/allocations/${a.id}`).send(a)
  })

  app.delete('/pools/:name/allocations/:id', {
    schema: { tags: ['pools'], summary: 'Release an allocation (idempotent: releasing one already gone is 204 too)', params: Type.Object({ name: Type.String(), id: Type.String({ pattern: '^\\d{1,15}$' }) }), response: { 204: Type.Null(), ...errors } }
  }, async (req, reply) => {
    store.write(() => {
      store.pools.require(req.params.name)
      store.pools.release(req.params.name, Number(req.params.id), actor(req))
    })
    return reply.code(204).send(null)
  })
}
