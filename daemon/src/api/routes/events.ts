// /api/v1/events: the event log, paged, and live as Server-Sent Events.
import Type from 'typebox'
import type { Api, ApiDeps } from '../app.js'
import { ErrorSchema, EventSchema, Page } from '../schemas.js'
import { matchesFilter, type RbEvent } from '../../store/events.js'
import { normalizeMac } from '../../net/ipv4.js'
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
const REPLAY_MAX = 1000

function macFilter (mac: string | undefined): string | undefined {
  if (mac === undefined) return undefined
  const m = normalizeMac(mac)
  if (m === null) throw new RackbootError('RB_VALIDATION', `querystring.mac ${JSON.stringify(mac)} is not a MAC address`, 'querystring.mac')
  return m
}

export async function eventRoutes (app: Api, { deps }: { deps: ApiDeps }): Promise<void> {
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
    const send = (e: RbEvent) => res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
    let lastSent = after ?? 0
    // Subscribe before replaying so nothing committed in between is missed; ids dedupe.
    const buffered: RbEvent[] = []
    let replaying = true
    const onEvent = (e: RbEvent) => {
      if (!matchesFilter(e, filter)) return
      if (replaying) { buffered.push(e); return }
      if (e.id > lastSent) { lastSent = e.id; send(e) }
    }
    deps.store.events.feed.on('event', onEvent)
    if (after !== undefined) {
      for (const e of deps.store.events.list({ ...filter, after, order: 'asc', limit: REPLAY_MAX })) { lastSent = e.id; send(e) }
    } else {
      res.write(': connected\n\n')
    }
    replaying = false
    for (const e of buffered) if (e.id > lastSent) { lastSent = e.id; send(e) }
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
    heartbeat.unref()
    const end = () => {
      clearInterval(heartbeat)
      deps.store.events.feed.off('event', onEvent)
      streams.delete(end)
      if (!res.writableEnded) res.end()
    }
    streams.add(end)
    req.raw.on('close', end)
  })
}
