// The boot HTTP service: owns the image registry and the boot server's listener.
import type { Logger } from 'pino'
import type { Store } from '../store/index.js'
import type { LoadedConfig } from '../config/load.js'
import type { Metrics } from '../metrics.js'
import { ImageRegistry } from './registry.js'
import { buildBootServer, type BootServer } from './server.js'
import { explainSystemError, type Health } from '../health.js'
import type { Endpoint } from '../config/settings.js'

export interface BootServiceOptions {
  store: Store
  /** The running config (it changes on reload). */
  current: () => LoadedConfig
  log: Logger
  metrics: Metrics
  health?: Health
  /** How soon a listener that could not bind tries again (default 5 s). */
  retryMs?: number
}

/** Expired boot tokens are kept this long (a late phone-home then hears "expired", not "invalid"), then pruned. */
export const KEEP_EXPIRED_TOKENS_MS = 24 * 3600_000
const PRUNE_EVERY_MS = 3600_000

export class BootService {
  readonly images = new ImageRegistry()
  private server: BootServer | null = null
  private listening = ''
  private pruneTimer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor (private readonly opts: BootServiceOptions) {}

  /** Deletes boot tokens that expired more than KEEP_EXPIRED_TOKENS_MS ago; returns how many. */
  pruneTokens (): number {
    const { store, log } = this.opts
    const n = store.write(() => store.bootTokens.pruneExpired(store.now() - KEEP_EXPIRED_TOKENS_MS))
    if (n > 0) log.info({ pruned: n }, 'expired boot tokens pruned')
    return n
  }

  async loadImages (dir: string): Promise<void> {
    await this.images.load(dir, this.opts.log)
  }

  /**
   * Listens on boot.http when `enabled` (at least one LAN is configured). A listener that
   * cannot bind does not stop the daemon: the reason is logged once with its fix, the service
   * reports itself down, and it tries again every `retryMs`.
   */
  async start (enabled: boolean): Promise<void> {
    if (!enabled) { this.opts.health?.forget('boot-http'); return }
    this.closed = false
    if (this.pruneTimer === null) {
      this.pruneTokens()
      this.pruneTimer = setInterval(() => {
        try { this.pruneTokens() } catch (err) { this.opts.log.warn({ err }, 'pruning boot tokens failed') }
      }, PRUNE_EVERY_MS).unref()
    }
    const address = this.opts.current().settings.boot.http
    try {
      this.server = await this.listen(address)
    } catch (err) {
      const retryMs = this.opts.retryMs ?? 5000
      const problem = explainSystemError(err, `boot.http ${address.text}`)
      if (this.opts.health?.down('boot-http', problem) !== false) this.opts.log.error({ reason: (err as { code?: string }).code }, `the boot HTTP server is not serving: ${problem}; retrying every ${retryMs / 1000} s`)
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = null
        if (!this.closed && this.server === null) void this.start(true)
      }, retryMs)
      this.retryTimer.unref()
    }
  }

  private async listen (address: Endpoint): Promise<BootServer> {
    const app = await buildBootServer({ ...this.opts, images: () => this.images.current })
    try {
      await app.listen({ host: address.host, port: address.port })
    } catch (err) {
      await app.close()
      throw err
    }
    this.listening = address.text
    this.opts.health?.up('boot-http')
    this.opts.log.info({ address: address.text }, 'boot HTTP server listening')
    return app
  }

  /**
   * After a reload: a new listener replaces the old one when the address changed, none runs
   * without a LAN. When the new address cannot be bound the old listener keeps serving and
   * the error is thrown.
   */
  async restart (): Promise<void> {
    const enabled = this.opts.current().lans.size > 0
    const address = this.opts.current().settings.boot.http
    if (enabled && this.server !== null && address.text === this.listening) return
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null }
    const old = this.server
    if (!enabled || old === null) {
      this.server = null
      await old?.close()
      await this.start(enabled)
      return
    }
    this.server = await this.listen(address)
    await old.close()
  }

  /** The boot server's port (tests listen on port 0). */
  get port (): number | null {
    const a = this.server?.server.address()
    return a !== null && typeof a === 'object' && a !== undefined ? a.port : null
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null }
    if (this.pruneTimer !== null) clearInterval(this.pruneTimer)
    this.pruneTimer = null
    await this.server?.close()
    this.server = null
  }
}
