// /healthz and /metrics: unauthenticated, for load balancers and Prometheus.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { VERSION } from '../../version.js'

export async function systemRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const started = Date.now()
  const { metrics, store } = deps
  metrics.gauge('rackboot_machines', 'Machines in the inventory by LAN and state.', ['lan', 'state'], g => {
    for (const r of store.machines.countBy()) g.set({ lan: r.lan, state: r.state }, r.n)
  })
  metrics.gauge('rackboot_lan_pool_size', 'Addresses in each LAN\'s dynamic pool.', ['lan'], g => {
    for (const lan of deps.lans().values()) if (lan.pool !== null) g.set({ lan: lan.name }, lan.pool.end - lan.pool.start + 1)
  })
  metrics.gauge('rackboot_lan_pool_used', 'Active leases inside each LAN\'s dynamic pool.', ['lan'], g => {
    const now = store.now()
    for (const lan of deps.lans().values()) if (lan.pool !== null) g.set({ lan: lan.name }, store.leases.activeInRange(lan.name, lan.pool, now))
  })
  metrics.gauge('rackboot_leases_active', 'Active (offered or bound, unexpired) leases by LAN.', ['lan'], g => {
    const now = store.now()
    for (const lan of deps.lans().values()) g.set({ lan: lan.name }, store.leases.activeCount(lan.name, now))
  })

  const Services = Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), since: Type.Number(), problem: Type.Optional(Type.String()) }), {
    description: 'Each configured service (tftp, boot-http, dhcp/<lan>, dhcp/relay): serving or not, since when (ms since the epoch), and why not.'
  })
  app.get('/healthz', {
    schema: {
      tags: ['system'], summary: 'Liveness, database and services check (no auth): 503 when the database fails or a configured service is not serving', security: [],
      response: {
        200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), uptimeSeconds: Type.Number(), services: Services }),
        503: Type.Object({ status: Type.Enum(['error', 'degraded']), version: Type.String(), error: Type.Optional(Type.String()), uptimeSeconds: Type.Optional(Type.Number()), services: Type.Optional(Services) })
      }
    }
  }, async (_req, reply) => {
    try {
      store.ping()
    } catch (err) {
      return reply.code(503).send({ status: 'error' as const, version: VERSION, error: `database: ${(err as Error).message}` })
    }
    const services = deps.health?.snapshot() ?? {}
    const body = { version: VERSION, uptimeSeconds: Math.round((Date.now() - started) / 1000), services }
    if (deps.health?.degraded === true) return reply.code(503).send({ status: 'degraded' as const, ...body })
    return { status: 'ok' as const, ...body }
  })

  app.get('/metrics', { schema: { tags: ['system'], summary: 'Prometheus metrics (text exposition format, no auth)', security: [] } }, async (_req, reply) => {
    const body = await metrics.registry.metrics()
    return reply.header('content-type', metrics.registry.contentType).send(body)
  })
}
