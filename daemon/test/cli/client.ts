// The CLI's event-stream reader against a real HTTP server that writes SSE the ways the
// specification allows: CRLF, CR or LF line ends, `data:` with or without its space, data on
// several lines, comments, retry fields, and every chunk boundary. It reconnects with
// Last-Event-ID when the server closes the stream.
import t from 'tap'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiClient, ApiClientError } from '../../src/cli/client.js'

async function serve (t: { teardown (fn: () => unknown): void }, handler: (lastEventId: string | undefined, res: ServerResponse, n: number) => void) {
  let n = 0
  const server = createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer tok') { res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"RB_AUTH_INVALID","message":"nope"}'); return }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    handler(req.headers['last-event-id'] as string | undefined, res, n++)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const STREAM = ': hello\r\n\r\n' +
  'id: 1\r\nevent: a\r\ndata: {"n":1}\r\n\r\n' +   // CRLF
  'id: 2\rdata:{"n":2}\r\r' +                        // CR, no space after the colon
  'id: 3\nretry: 1000\ndata: {"n":\ndata: 3}\n\n' + // LF, data on two lines (joined with \n)
  'id: 4\ndata: {"n":4}\n\n'

t.test('every line ending and field form, split at every byte', async t => {
  const chunkings = [1, 2, 3, 7, STREAM.length]
  for (const size of chunkings) {
    const base = await serve(t, (_id, res) => {
      const parts: string[] = []
      for (let i = 0; i < STREAM.length; i += size) parts.push(STREAM.slice(i, i + size))
      const next = () => { const p = parts.shift(); if (p === undefined) return; res.write(p); setImmediate(next) }
      next()
    })
    const got: unknown[] = []
    const ac = new AbortController()
    await new ApiClient(base, 'tok').follow('/s', d => { got.push(d); if (got.length === 4) ac.abort() }, { signal: ac.signal })
    t.same(got, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }], `chunks of ${size} bytes`)
  }
})

t.test('reconnects with Last-Event-ID when the stream ends; HTTP errors are thrown', async t => {
  const seen: Array<string | undefined> = []
  const base = await serve(t, (lastId, res, n) => {
    seen.push(lastId)
    if (n === 0) res.end('id: 7\ndata: {"n":7}\n\n') // the daemon closes the stream
    else res.write(`id: 8\ndata: {"n":8}\n\n`)
  })
  const got: unknown[] = []
  const why: string[] = []
  const ac = new AbortController()
  await new ApiClient(base, 'tok').follow('/s', d => { got.push(d); if (got.length === 2) ac.abort() }, { signal: ac.signal, onInterrupted: w => why.push(w) })
  t.same(got, [{ n: 7 }, { n: 8 }])
  t.same(seen, [undefined, '7'], 'the reconnect resumes after the last id')
  t.same(why, ['the daemon closed it'])
  await t.rejects(new ApiClient(base, 'wrong').follow('/s', () => {}), new ApiClientError(401, 'RB_AUTH_INVALID', 'nope'))
})
