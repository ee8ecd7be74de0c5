// The SSE event stream under backpressure: bounded per client, paged replays, stalled clients closed.
import t from 'tap'
import { get, type IncomingMessage } from 'node:http'
import pino from 'pino'
import { Store } from '../../src/store/index.js'
import { Metrics } from '../../src/metrics.js'
import { buildApi } from '../../src/api/app.js'
import { config } from '../helpers/build.js'

const PAD = 'x'.repeat(10_000)

async function setup (t: { teardown (fn: () => unknown): void }, sse: { stallMs?: number; pageSize?: number }) {
  const loaded = config(t)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const metrics = new Metrics({ defaults: false })
  const app = await buildApi({ store, lans: () => loaded.lans, log: pino({ level: 'silent' }), metrics, sse })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await app.close(); store.close() })
  const token = store.tokens.create('admin', false).token
  const port = (app.server.address() as { port: number }).port
  /** Appends `n` events of ~10 KB each, committed in batches of 100. */
  const append = (n: number) => {
    for (let i = 0; i < n; i += 100) store.write(() => { for (let k = i; k < Math.min(n, i + 100); k++) store.events.append({ actor: 'test', type: 'test.big', detail: { k, pad: PAD } }) })
  }
  const open = (lastEventId?: number) => new Promise<IncomingMessage>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/api/v1/events/stream?type=test.big', headers: { authorization: `Bearer ${token}`, ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }) } }, resolve).on('error', reject)
  })
  return { store, metrics, append, open }
}

/** Collects complete events' ids from an SSE response, however the bytes are split. */
function collect (res: IncomingMessage) {
  const ids: number[] = []
  let buf = ''
  let bytes = 0
  res.setEncoding('utf8')
  res.on('data', (s: string) => {
    bytes += s.length
    buf += s
    let i
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2)
      const id = /^id: (\d+)$/m.exec(block)
      if (id !== null) ids.push(Number(id[1]))
    }
  })
  const ended = new Promise<string>(resolve => { res.on('end', () => resolve('end')); res.on('close', () => resolve('closed')); res.on('error', () => resolve('error')) })
  return { ids, bytes: () => bytes, ended }
}

const contiguous = (ids: number[], from: number, to: number) => ids.length === to - from + 1 && ids.every((id, i) => id === from + i)

t.test('a client that stops reading is closed after stallMs, with a bounded amount sent; it resumes from Last-Event-ID', async t => {
  const { metrics, append, open } = await setup(t, { stallMs: 500, pageSize: 50 })
  const res = await open()
  const got = collect(res)
  res.pause() // stops reading: the socket and then the server's write buffer fill
  append(3000) // ~30 MB
  await new Promise(resolve => setTimeout(resolve, 1500))
  res.resume() // read what reached us before the server gave up
  const how = await Promise.race([got.ended, new Promise(resolve => setTimeout(() => resolve('still open'), 5000))])
  t.not(how, 'still open', `the server closed the stream (${String(how)})`)
  const total = 3000 * (PAD.length + 100)
  t.ok(got.bytes() < total / 3, `the server held back the rest: ${(got.bytes() / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB reached the client`)
  t.ok(got.ids.length > 0, `${got.ids.length} events arrived before the stall`)
  t.ok(contiguous(got.ids, 1, got.ids.at(-1) ?? 0), 'in order, no gaps')
  t.match(await metrics.registry.getSingleMetricAsString('rackboot_api_event_streams_closed_total'), /reason="stalled"} 1/)

  const again = await open(got.ids.at(-1))
  const rest = collect(again)
  await new Promise<void>(resolve => { const timer = setInterval(() => { if (rest.ids.at(-1) === 3000) { clearInterval(timer); resolve() } }, 20) })
  again.destroy()
  t.ok(contiguous(rest.ids, (got.ids.at(-1) ?? 0) + 1, 3000), 'the reconnect replays exactly what was missed')
})

t.test('a slow reader gets every event once, in order, replay and live alike', async t => {
  const { store, append, open } = await setup(t, { stallMs: 5000, pageSize: 50 })
  append(1500) // more than one page and more than the old 1,000-event replay cap
  const res = await open(0)
  const got = collect(res)
  // read in bursts with pauses, while more events are committed
  const pacer = setInterval(() => { if (res.isPaused()) res.resume(); else res.pause() }, 30)
  for (let i = 0; i < 10; i++) { append(100); await new Promise(resolve => setTimeout(resolve, 40)) }
  await new Promise<void>(resolve => { const timer = setInterval(() => { if (got.ids.at(-1) === 2500) { clearInterval(timer); resolve() } }, 20) })
  clearInterval(pacer)
  res.destroy()
  t.ok(contiguous(got.ids, 1, 2500), `all 2,500 events exactly once, in order (got ${got.ids.length})`)
  t.equal(store.events.list({ type: 'test.big', limit: 5000 }).length, 2500)
})
