// The inventory API as a Fastify app: built by buildApi(), listened on by the daemon,
// exercised with app.inject() in tests.
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Logger } from 'pino'
import type { Store, TokenIdentity } from '../store/index.js'
import type { Lan } from '../config/lan.js'
import type { Metrics } from '../metrics.js'
import { RackbootError, type ErrorCode } from '../errors.js'
import { describeSchemaErrors, type SchemaError } from './validation.js'
import { machineRoutes } from './routes/machines.js'
import { lanRoutes } from './routes/lans.js'
import { leaseRoutes } from './routes/leases.js'
import { eventRoutes } from './routes/events.js'
import { systemRoutes } from './routes/system.js'
import { VERSION } from '../version.js'
import { imageRoutes } from './routes/images.js'
import { poolRoutes } from './routes/pools.js'
import { clusterRoutes, type ClusterSettings } from './routes/clusters.js'
import type { BmcService } from '../bmc/service.js'
import type { Image } from '../boot/images.js'
import type { Health } from '../health.js'

export interface ApiDeps {
  store: Store
  lans: () => ReadonlyMap<string, Lan>
  log: Logger
  metrics: Metrics
  bodyLimit?: number
  images?: () => ReadonlyMap<string, Image>
  imagesDir?: () => string
  /** Which services serve, for /healthz (the daemon's; none in API-only tests). */
  health?: Health
  /** Event stream: a client that takes nothing for `stallMs` is closed; replays go `pageSize` events at a time. */
  sse?: { stallMs?: number; pageSize?: number }
  /** Drives machines' BMCs (the daemon's, with its config's settings; a default one in tests). */
  bmcService?: BmcService
  /** Cluster settings (token and certificate lifetimes, kube-vip image); defaults in tests. */
  clusters?: () => ClusterSettings
}

export type Api = FastifyInstance<any, any, any, Logger, TypeBoxTypeProvider>

declare module 'fastify' {
  interface FastifyRequest { identity: TokenIdentity | null }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/** Deeper than any request schema goes (machines: labels and bmc are two levels). */
export const MAX_BODY_DEPTH = 32

/** Nesting depth of a parsed JSON value, counted without recursion and only up to `limit` + 1. */
export function nestingDepth (value: unknown, limit: number): number {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v === null || typeof v !== 'object') continue
    if (d > max) { max = d; if (max > limit) return max }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1])
  }
  return max
}

function authError (code: ErrorCode, message: string): RackbootError {
  return new RackbootError(code, message)
}

export async function buildApi (deps: ApiDeps): Promise<Api> {
  const app = Fastify({
    loggerInstance: deps.log,
    // Per-request lines go out at debug from onResponse: a scraper or a script must not flood the log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 16 * 1024 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true } }
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Api

  app.decorateRequest('identity', null)
  // JSON only (and CSV on the import route): a text/plain body is a client mistake, 415 says so.
  app.removeContentTypeParser('text/plain')

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    deps.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) })
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, actor: req.identity?.name }, 'request')
  })

  // A body nested deeper than any route's schema: refused before validation walks it.
  app.addHook('preValidation', async (req) => {
    if (req.body !== null && typeof req.body === 'object' && nestingDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      throw new RackbootError('RB_BAD_REQUEST', `the request body is nested deeper than ${MAX_BODY_DEPTH} levels`)
    }
  })

  const handleError = (err: FastifyError | RackbootError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof RackbootError) {
      if (err.status < 500) req.log.debug({ reason: err.code, field: err.field, method: req.method, url: req.url.split('?')[0] }, 'request refused')
      if (err.status === 401 || err.status === 403) deps.metrics.authFailures.inc({ code: err.code })
      if (err.status === 401) void reply.header('www-authenticate', 'Bearer realm="rackboot"')
      return reply.code(err.status).send({ code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }), ...(err.details === undefined ? {} : { errors: err.details }) })
    }
    const fe = err as FastifyError & { validation?: SchemaError[]; validationContext?: string }
    if (fe.validation !== undefined) {
      const context = fe.validationContext ?? 'body'
      const data = context === 'body' ? req.body : context === 'querystring' ? req.query : context === 'params' ? req.params : undefined
      const problems = describeSchemaErrors(fe.validation, context, data, (req.routeOptions.schema as Record<string, unknown> | undefined)?.[context])
      const first = problems[0]
      return reply.code(400).send({
        code: 'RB_VALIDATION',
        message: problems.map(p => `${p.field} ${p.message}`).join('; '),
        ...(first === undefined ? {} : { field: first.field }),
        errors: problems.map(p => ({ field: p.field, code: 'RB_VALIDATION', message: `${p.field} ${p.message}` }))
      })
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send({ code: 'RB_PAYLOAD_TOO_LARGE', message: `the request body is larger than api.bodyLimit (${app.initialConfig.bodyLimit ?? 0} bytes)` })
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send({ code: 'RB_UNSUPPORTED_MEDIA_TYPE', message: `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is not accepted here (use application/json${req.routeOptions.url?.endsWith('import') === true ? ' or text/csv' : ''})` })
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send({ code: 'RB_BAD_REQUEST', message: 'the request body is empty but content-type is application/json' })
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send({ code: 'RB_BAD_REQUEST', message: `the request body is not valid JSON: ${fe.message}` })
    }
    if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ code: 'RB_BAD_REQUEST', message: fe.message })
    }
    req.log.error({ err, req: { method: req.method, url: req.url, params: req.params } }, 'request failed')
    return reply.code(500).send({ code: 'RB_INTERNAL', message: `internal error; see the daemon log (request ${String(req.id)})` })
  }
  app.setErrorHandler((err: FastifyError | RackbootError, req: FastifyRequest, reply: FastifyReply) => {
    try {
      return handleError(err, req, reply)
    } catch (failure) {
      // Describing the error failed (a bug): still our shape, and in the log.
      req.log.error({ err: failure, cause: err, req: { method: req.method, url: req.url.split('?')[0] } }, 'request failed, and so did describing the error')
      return reply.code(500).send({ code: 'RB_INTERNAL', message: `internal error; see the daemon log (request ${String(req.id)})` })
    }
  })

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ code: 'RB_ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` }))

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'rackboot inventory API', version: VERSION, description: 'Machines, LANs, leases and events of a rackboot daemon. Every /api/v1 route needs `Authorization: Bearer <token>` (see `rackboot token create`).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }]
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

  await app.register(systemRoutes, { deps })

  await app.register(async (api) => {
    api.addHook('onRequest', async (req) => {
      const header = req.headers.authorization
      if (header === undefined || header === '') {
        throw authError('RB_AUTH_MISSING', 'missing Authorization header: send "Authorization: Bearer <token>" (create a token with `rackboot token create --name NAME`)')
      }
      const m = /^Bearer +(\S+)$/i.exec(header)
      if (m === null) throw authError('RB_AUTH_INVALID', 'the Authorization header must be "Bearer <token>"')
      const identity = deps.store.tokens.verify(m[1] as string)
      if (identity === null) throw authError('RB_AUTH_INVALID', 'the bearer token is not valid (unknown or revoked)')
      if (identity.readOnly && !READ_METHODS.has(req.method)) {
        throw authError('RB_AUTH_READ_ONLY', `token "${identity.name}" is read-only; ${req.method} ${req.routeOptions.url ?? req.url} needs a read-write token`)
      }
      req.identity = identity
    })
    api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
    await api.register(machineRoutes, { deps })
    await api.register(lanRoutes, { deps })
    await api.register(leaseRoutes, { deps })
    await api.register(eventRoutes, { deps })
    await api.register(imageRoutes, { deps })
    await api.register(poolRoutes, { deps })
    await api.register(clusterRoutes, { deps })
  }, { prefix: '/api/v1' })

  return app
}
