// A small client for the inventory API, used by the CLI's machines/leases/events commands.
import { createParser } from 'eventsource-parser'

export class ApiClientError extends Error {
  constructor (readonly status: number, readonly code: string, message: string, readonly details?: unknown[]) { super(message); this.name = 'ApiClientError' }
}

export class ApiClient {
  constructor (readonly base: string, private readonly token: string | undefined) {}

  private headers (extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }), ...extra }
  }

  async request<T> (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    let res: Response
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': contentType }),
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) })
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new ApiClientError(0, 'RB_CLIENT_UNREACHABLE', `cannot reach the rackboot API at ${this.base} (${cause}); is the daemon running? (--api URL or RACKBOOT_API)`)
    }
    if (res.status === 204) return undefined as T
    const text = await res.text()
    let json: any
    try { json = JSON.parse(text) } catch { json = undefined }
    if (!res.ok) {
      throw new ApiClientError(res.status, json?.code ?? `HTTP_${res.status}`, json?.message ?? `${res.status} ${res.statusText}`, json?.errors)
    }
    return json as T
  }

  /** A GET whose answer is text (YAML, PEM): the body as it came. */
  async text (path: string): Promise<string> {
    let res: Response
    try {
      res = await fetch(new URL(path, this.base), { headers: this.headers() })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new ApiClientError(0, 'RB_CLIENT_UNREACHABLE', `cannot reach the rackboot API at ${this.base} (${cause}); is the daemon running? (--api URL or RACKBOOT_API)`)
    }
    const text = await res.text()
    if (!res.ok) {
      let json: any
      try { json = JSON.parse(text) } catch { json = undefined }
      throw new ApiClientError(res.status, json?.code ?? `HTTP_${res.status}`, json?.message ?? `${res.status} ${res.statusText}`, json?.errors)
    }
    return text
  }

  /**
   * Follows an SSE stream (parsed as the specification says: CRLF, CR or LF line ends, `data:`
   * with or without its space, multi-line data, comments), calling `onEvent` with each event's
   * JSON data. When the connection ends or breaks it reconnects, with `Last-Event-ID` so that
   * nothing is missed, after 1 s and then up to 10 s between tries; it returns (resolves) once
   * `signal` aborts. An HTTP error (401, 404 …) is not retried: it is thrown.
   */
  async follow (path: string, onEvent: (data: unknown) => void, opts: { signal?: AbortSignal; onInterrupted?: (why: string) => void } = {}): Promise<void> {
    let lastId: string | undefined
    let delay = 1000
    const { signal } = opts
    const aborted = () => signal?.aborted === true
    while (!aborted()) {
      let why: string
      try {
        const res = await fetch(new URL(path, this.base), {
          headers: this.headers({ accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'last-event-id': lastId }) }),
          ...(signal === undefined ? {} : { signal })
        })
        if (!res.ok || res.body === null) {
          const json = await res.json().catch(() => undefined) as any
          throw new ApiClientError(res.status, json?.code ?? `HTTP_${res.status}`, json?.message ?? `${res.status} ${res.statusText}`)
        }
        delay = 1000
        const parser = createParser({
          onEvent: (m) => {
            if (m.id !== undefined) lastId = m.id
            if (m.data !== '') onEvent(JSON.parse(m.data))
          }
        })
        const decoder = new TextDecoder()
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }))
        why = 'the daemon closed it'
      } catch (err) {
        if (aborted()) return
        if (err instanceof ApiClientError) throw err
        why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      }
      opts.onInterrupted?.(why)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, delay)
        signal?.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
      })
      delay = Math.min(delay * 2, 10_000)
    }
  }
}
