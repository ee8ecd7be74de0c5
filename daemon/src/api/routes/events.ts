// /api/v1/events: the event log, paged, and live as Server-Sent Events.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema, EventSchema, Page } from '../schemas.js'
import { matchesFilter, type RbEvent } from '../../store/events.js'
import { tryParseMac } from '@rackboot/wire'
import { RackbootError } from '../../errors.js'

const Filters = {
  machine: Type.Optional(Type.Integer({ minimum: 1, description: 'Only events of this machine id.' })),
  lan: Type.Optional(Type.String()),
  type: Type.Optional(Type.String({ description: 'Only events of this type, e.g. machine.created.' })),
  mac: Type.Optional(Type.String())
}

const ListQuery = Type.Object({
  ...Filters,
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'Cursor: events after (order=asc) or before (order=desc) this id.' })),
  order: Type.Enum(['asc', 'desc'], { default: 'desc', description: 'desc: newest first (default).' }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 })
}, { additionalProperties: false })

const StreamQuery = Type.Object({
  ...Filters,
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'Replay events after this id first (the Last-Event-ID header does the same).' }))
}, { additionalProperties: false })

const HEARTBEAT_MS = 15_000

function macFilter (mac: string | undefined): string | undefined {
  if (mac === undefined) return undefined
  const m = tryParseMac(mac)
  if (m === null) throw new RackbootError('RB_VALIDATION', `querystring.mac ${JSON.stringify(mac)} is not a MAC address`, 'querystring.mac')
  return m
}

export async function eventRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
  const sse = { stallMs: deps.sse?.stallMs ?? 30_000, pageSize: deps.sse?.pageSize ?? 200 }
  const streams = new Set<() => void>()
  app.addHook('preClose', async () => { for (const end of streams) end() })

  app.get('/events', {
    schema: { tags: ['events'], summary: 'Event log (filters, newest first, cursor pagination)', querystring: ListQuery, response: { 200: Page(EventSchema), 400: ErrorSchema, 401: ErrorSchema } }
  }, async (req) => {
    const q = req.query
    const mac = macFilter(q.mac)
    const items = deps.store.events.list({
      ...(q.machine === undefined ? {} : { machineId: q.machine }),
      ...(q.lan === undefined ? {} : { lan: q.lan }),
      ...(q.type === undefined ? {} : { type: q.type }),
      ...(mac === undefined ? {} : { mac }),
      ...(q.after === undefined ? {} : { after: q.after }),
      order: q.order,
      limit: q.limit + 1
    })
    const more = items.length > q.limit
    if (more) items.length = q.limit
    return { items, next: more ? String(items[items.length - 1]?.id) : null }
  })

  app.get('/events/stream', {
    schema: {
      tags: ['events'],
      summary: 'Live events as Server-Sent Events (text/event-stream); each event\'s id is its event id, so reconnecting with Last-Event-ID resumes',
      querystring: StreamQuery,
      response: { 200: Type.Unsafe({ description: 'text/event-stream: `id: <n>`, `event: <type>`, `data: <Event JSON>`', content: { 'text/event-stream': { schema: { type: 'string' } } } }), 400: ErrorSchema, 401: ErrorSchema }
    }
  }, (req, reply) => {
    const q = req.query
    const mac = macFilter(q.mac)
    const lastId = Number(req.headers['last-event-id'])
    const after = Number.isInteger(lastId) && lastId >= 0 ? lastId : q.after
    const filter = {
      ...(q.machine === undefined ? {} : { machineId: q.machine }),
      ...(q.lan === undefined ? {} : { lan: q.lan }),
      ...(q.type === undefined ? {} : { type: q.type }),
      ...(mac === undefined ? {} : { mac })
    }
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    // What one client may have pending is bounded by the socket's buffer plus one page: while
    // the client is behind (a write was refused), live events are not queued here but read
    // back from the store, a page at a time, each time the socket drains. A client that takes
    // nothing for `stallMs` is closed; it resumes from its Last-Event-ID.
    let lastSent = after ?? 0
    let behind = after !== undefined
    let stallTimer: NodeJS.Timeout | null = null
    const write = (chunk: string): void => {
      if (res.write(chunk)) return
      behind = true
      stallTimer ??= setTimeout(() => {
        deps.metrics.sseClosed.inc({ reason: 'stalled' })
        req.log.info({ lastEventId: lastSent, stallMs: sse.stallMs }, 'event stream client took nothing for too long: closed (it can resume with Last-Event-ID)')
        res.destroy()
      }, sse.stallMs)
    }
    const send = (e: RbEvent): void => { lastSent = e.id; write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`) }
    /** Sends stored events after lastSent until caught up or the socket is full. */
    const catchUp = (): void => {
      if (stallTimer !== null) { clearTimeout(stallTimer); stallTimer = null }
      behind = false
      while (!behind && !res.destroyed) {
        const page = deps.store.events.list({ ...filter, after: lastSent, order: 'asc', limit: sse.pageSize })
        for (const e of page) send(e)
        if (page.length < sse.pageSize) return
      }
    }
    const onEvent = (e: RbEvent): void => {
      if (behind || e.id <= lastSent || !matchesFilter(e, filter)) return // while behind, catchUp reads it from the store
      send(e)
    }
    deps.store.events.feed.on('event', onEvent)
    res.on('drain', catchUp)
    if (after !== undefined) catchUp()
    else write(': connected\n\n')
    const heartbeat = setInterval(() => { if (!behind) write(': ping\n\n') }, HEARTBEAT_MS)
    heartbeat.unref()
    const end = () => {
      clearInterval(heartbeat)
      if (stallTimer !== null) clearTimeout(stallTimer)
      deps.store.events.feed.off('event', onEvent)
      res.off('drain', catchUp)
      streams.delete(end)
      if (!res.writableEnded && !res.destroyed) res.end()
    }
    streams.add(end)
    req.raw.on('close', end)
    res.on('close', end)
  })
}
