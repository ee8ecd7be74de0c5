// Serving files to netboot clients: Content-Length always (iPXE hangs without it), single
// byte ranges, strong ETags / If-None-Match, large reads so a kernel leaves in few chunks.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs'
import type { FastifyReply, FastifyRequest } from 'fastify'

export interface ServedFile { path: string; size: number; etag: string; mtimeMs: number }

/**
 * Read size per step: large reads (into reused buffers, below) are what keep image downloads
 * near sendfile's speed, but each active download may hold one chunk in flight, so the chunk
 * shrinks as downloads multiply to keep them under READ_BUDGET together.
 */
const MAX_CHUNK = 8 << 20
const MIN_CHUNK = 1 << 20
const READ_BUDGET = 256 << 20
let active = 0
/**
 * Chunk buffers come back here once the socket has taken their bytes, and are used again:
 * a fresh 8 MiB buffer per chunk cost 2,048 page faults to fill and an munmap (with TLB
 * shootdowns) when collected. Kept under READ_BUDGET bytes in all.
 */
const spare = new Map<number, Buffer[]>()
let spareBytes = 0
function takeBuffer (n: number): Buffer {
  const b = spare.get(n)?.pop()
  if (b === undefined) return Buffer.allocUnsafeSlow(n)
  spareBytes -= n
  return b
}
function giveBuffer (b: Buffer): void {
  if (spareBytes + b.length > READ_BUDGET) return
  const list = spare.get(b.length)
  if (list === undefined) spare.set(b.length, [b])
  else list.push(b)
  spareBytes += b.length
}
const chunkSize = () => Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(READ_BUDGET / Math.max(1, active) / MIN_CHUNK) * MIN_CHUNK))

/** Parses `bytes=a-b` (one range); null for none or an unsupported form (served whole), 'invalid' for unsatisfiable. */
export function parseRange (header: string | undefined, size: number): { start: number; end: number } | null | 'invalid' {
  if (header === undefined) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return null // multiple ranges or another unit: the whole file is a valid answer (RFC 9110 §14.2)
  const [, a, b] = m as unknown as [string, string, string]
  if (a === '' && b === '') return 'invalid'
  let start: number
  let end: number
  if (a === '') { const n = Number(b); start = Math.max(0, size - n); end = size - 1 } else { start = Number(a); end = b === '' ? size - 1 : Math.min(Number(b), size - 1) }
  if (start > end || start >= size) return 'invalid'
  return { start, end }
}

/**
 * RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison); only without it is
 * If-Modified-Since evaluated (§13.1.3), at whole seconds as HTTP dates carry them, and
 * ignored when it is not a valid date or lies in the future.
 */
export function notModified (ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, file: { etag: string; mtimeMs: number }, now: number): boolean {
  if (ifNoneMatch !== undefined) return ifNoneMatch.split(',').map(s => s.trim()).some(t => t === file.etag || t === `W/${file.etag}` || t === '*')
  if (ifModifiedSince === undefined) return false
  const since = Date.parse(ifModifiedSince)
  if (Number.isNaN(since) || since > now) return false
  return Math.floor(file.mtimeMs / 1000) * 1000 <= since
}

/** Sends `file` (or the requested range of it); returns the bytes that will be sent. */
export function sendFile (req: FastifyRequest, reply: FastifyReply, file: ServedFile, maxChunk?: number): number {
  reply.header('accept-ranges', 'bytes')
  reply.header('etag', file.etag)
  reply.header('last-modified', new Date(file.mtimeMs).toUTCString())
  reply.header('cache-control', 'no-cache')
  reply.header('content-type', 'application/octet-stream')
  if (notModified(req.headers['if-none-match'], req.headers['if-modified-since'], file, Date.now())) {
    void reply.code(304).send()
    return 0
  }
  let range = parseRange(req.headers.range, file.size)
  const ifRange = req.headers['if-range']
  if (ifRange !== undefined && ifRange !== file.etag) range = null
  if (range === 'invalid') {
    void reply.code(416).header('content-range', `bytes */${file.size}`).send()
    return 0
  }
  const start = range?.start ?? 0
  const end = range?.end ?? file.size - 1
  const length = file.size === 0 ? 0 : end - start + 1
  reply.header('content-length', String(length))
  if (range !== null) reply.code(206).header('content-range', `bytes ${start}-${end}/${file.size}`)
  if (length === 0) { void reply.send(); return 0 }
  // HEAD: Fastify's automatic HEAD route drops the body and keeps our content-length.
  if (req.method === 'HEAD') { void reply.send(createReadStream(file.path, { start, end })); return 0 }
  pump(reply, file.path, start, end + 1, maxChunk)
  return length
}

/**
 * Sends [start, end) of a file on the raw response: synchronous reads of large chunks straight
 * from the page cache into buffers handed to the socket, pausing on backpressure. Against
 * fs.createReadStream (a thread-pool round trip per chunk) this is what brings a kernel or
 * initrd close to sendfile speed.
 */
function pump (reply: FastifyReply, path: string, start: number, endExclusive: number, maxChunk = MAX_CHUNK): void {
  const headers = reply.getHeaders()
  reply.hijack()
  const res = reply.raw
  res.writeHead(reply.statusCode, headers as Record<string, string>)
  let fd: number | null = openSync(path, 'r')
  active++
  const done = () => { if (fd !== null) { closeSync(fd); fd = null; active-- } }
  res.once('close', done)
  let pos = start
  const step = (): void => {
    try {
      while (pos < endExclusive && fd !== null) {
        const n = Math.min(chunkSize(), maxChunk, endExclusive - pos)
        const buf = takeBuffer(n)
        const got = readSync(fd, buf, 0, n, pos)
        if (got <= 0) { giveBuffer(buf); throw new Error(`${path} ended early at ${pos}`) }
        pos += got
        // The callback runs once the socket no longer needs the bytes (sent, or the write failed).
        if (!res.write(got === n ? buf : buf.subarray(0, got), () => { giveBuffer(buf) })) { res.once('drain', step); return }
      }
      done()
      res.end()
    } catch (err) {
      done()
      reply.log.error({ err, file: path }, 'file read failed mid-response')
      res.destroy(err as Error)
    }
  }
  step()
}
