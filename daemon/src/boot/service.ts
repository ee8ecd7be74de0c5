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


export class BootService {
  readonly images = new ImageRegistry()
  private server: BootServer | null = null
  private listening = ''

  constructor (private readonly opts: BootServiceOptions) {}

  async loadImages (dir: string): Promise<void> {
    await this.images.load(dir, this.opts.log)
  }

  /** Listens on boot.http when `enabled` (at least one LAN is configured). */
  async start (enabled: boolean): Promise<void> {
    if (!enabled) return
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
    await this.server?.close()
    this.server = null
  }
}
