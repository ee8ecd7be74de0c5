// A small client for the inventory API, used by the CLI's machines/leases/events commands.
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

  /** Follows the SSE stream, calling `onEvent` per event, until the connection ends or `signal` aborts. */
  async stream (path: string, onEvent: (data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const res = await fetch(new URL(path, this.base), { headers: this.headers({ accept: 'text/event-stream' }), ...(signal === undefined ? {} : { signal }) })
    if (!res.ok || res.body === null) {
      const json = await res.json().catch(() => undefined) as any
      throw new ApiClientError(res.status, json?.code ?? `HTTP_${res.status}`, json?.message ?? `${res.status} ${res.statusText}`)
    }
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true })
      let sep
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep)
        buf = buf.slice(sep + 2)
        const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6)).join('\n')
        if (data !== '') onEvent(JSON.parse(data))
      }
    }
  }
}
