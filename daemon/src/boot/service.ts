// The boot HTTP service: owns the image registry and the boot server's listener.
import type { Logger } from 'pino'
import type { Store } from '../store/index.js'
import type { Lan } from '../config/lan.js'
import type { Config } from '../config/schema.js'
import type { Metrics } from '../metrics.js'
import { ImageRegistry } from './registry.js'
import { buildBootServer, type BootServer } from './server.js'
import { splitHostPort } from '../net/ipv4.js'

export interface BootServiceOptions {
  store: Store
  lans: () => ReadonlyMap<string, Lan>
  config: () => Config
  log: Logger
  metrics: Metrics
}

/** Expired boot tokens are kept this long (a late phone-home then hears "expired", not "invalid"), then pruned. */
export const KEEP_EXPIRED_TOKENS_MS = 24 * 3600_000
const PRUNE_EVERY_MS = 3600_000

export class BootService {
  readonly images = new ImageRegistry()
  private server: BootServer | null = null
  private listening = ''
  private pruneTimer: NodeJS.Timeout | null = null

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

  /** Listens on boot.http when `enabled` (at least one LAN is configured). */
  async start (enabled: boolean): Promise<void> {
    if (!enabled) return
    if (this.pruneTimer === null) {
      this.pruneTokens()
      this.pruneTimer = setInterval(() => {
        try { this.pruneTokens() } catch (err) { this.opts.log.warn({ err }, 'pruning boot tokens failed') }
      }, PRUNE_EVERY_MS).unref()
    }
    const app = await buildBootServer({ ...this.opts, images: () => this.images.current })
    const address = this.opts.config().boot.http
    await app.listen(splitHostPort(address))
    this.server = app
    this.listening = address
    this.opts.log.info({ address }, 'boot HTTP server listening')
  }

  /** The address or enablement changed (reload): a new listener replaces the old one. */
  async restart (enabled: boolean, address: string): Promise<void> {
    if (enabled && this.server !== null && address === this.listening) return
    const old = this.server
    this.server = null
    await this.start(enabled)
    await old?.close()
  }

  /** The boot server's port (tests listen on port 0). */
  get port (): number | null {
    const a = this.server?.server.address()
    return a !== null && typeof a === 'object' && a !== undefined ? a.port : null
  }

  async close (): Promise<void> {
    if (this.pruneTimer !== null) clearInterval(this.pruneTimer)
    this.pruneTimer = null
    await this.server?.close()
    this.server = null
  }
}
