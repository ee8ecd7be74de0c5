// /api/v1/lans: the configured LANs with their pool usage.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema, LanSchema } from '../schemas.js'
import { RackbootError } from '../../errors.js'
import { gatewayList, type Lan } from '../../config/lan.js'
import type { Store } from '../../store/index.js'

export function describeLan (lan: Lan, store: Store, now: number) {
  const c = lan.config
  let pool = null
  if (lan.pool !== null) {
    const size = lan.pool.end - lan.pool.start + 1
    const leased = store.leases.activeInRange(lan.name, lan.pool, now)
    pool = { range: c.pool as string, size, leased, free: Math.max(0, size - leased) }
  }
  return {
    name: lan.name,
    interface: c.interface ?? null,
    relay: c.relay === true,
    subnet: c.subnet,
    address: c.address,
    gateway: gatewayList(c)[0] ?? null,
    gateways: gatewayList(c),
    dns: [...(c.dns ?? [])],
    leaseTime: lan.leaseSeconds,
    unknownMachines: c.unknownMachines,
    pool,
    machines: store.machines.countOnLan(lan.name),
    reservations: store.machines.reservedCount(lan.name),
    activeLeases: store.leases.activeCount(lan.name, now)
  }
}

export async function lanRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  app.get('/lans', {
    schema: { tags: ['lans'], summary: 'The configured LANs with pool usage', response: { 200: Type.Object({ items: Type.Array(LanSchema) }), 401: ErrorSchema } }
  }, async () => {
    const now = deps.store.now()
    return { items: [...deps.lans().values()].map(l => describeLan(l, deps.store, now)) }
  })

  app.get('/lans/:name', {
    schema: { tags: ['lans'], summary: 'One LAN with pool usage', params: Type.Object({ name: Type.String() }), response: { 200: LanSchema, 401: ErrorSchema, 404: ErrorSchema } }
  }, async (req) => {
    const lan = deps.lans().get(req.params.name)
    if (lan === undefined) throw new RackbootError('RB_NOT_FOUND', `LAN ${req.params.name} is not configured`, 'params.name')
    return describeLan(lan, deps.store, deps.store.now())
  })
}
