// The daemon's TFTP service: @rackboot/tftp's TftpServer over the iPXE binaries
// (`boot.ipxeDir`) and an optional extra root (`boot.tftpRoot`), with logging,
// metrics, reload and a drained shutdown. The protocol lives in packages/tftp;
// this file only wires config, files, logs and counters to it.
//
// - Runs only while at least one LAN is configured (the default config opens nothing).
// - One info line per transfer (complete or failed); OVMF's tsize probe (ERROR 8
//   after our OACK) at debug; drops at debug, with a periodic info line of counts.
// - Reload: a changed address, root or limit starts a new listener; the old one
//   stops accepting at once and its transfers in flight run to their end.
// - close(): stop accepting everywhere, let transfers finish up to `drainMs`.
import { TftpServer, TftpFileError, fileNotFound, layeredSource, rootDirSource, type DropInfo, type FileSource, type TransferInfo } from '@rackboot/tftp'
import { Counter } from 'prom-client'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import type { LoadedConfig } from '../config/load.js'
import type { Metrics } from '../metrics.js'
import { explainSystemError, type Health } from '../health.js'

type Boot = Config['boot']

export interface TftpServiceOptions {
  /** The config; the service listens only while it has at least one LAN. */
  loaded: LoadedConfig
  log: Logger
  metrics: Metrics
  /** How long close() lets transfers in flight finish before aborting them. */
  drainMs: number
  /** Told of every finished transfer except OVMF's option probe (the daemon records boot events). */
  onTransfer?: (t: { ip: string; file: string; outcome: string; bytes: number; durationMs: number; retransmits: number }) => void
  /** Interval of the info line that sums up drops (default 60 s). */
  dropReportMs?: number
  /** Where the service says whether it serves (health checks, rackboot_service_up). */
  health?: Health
  /** How soon a listener that could not bind tries again (default 5 s). */
  retryMs?: number
}

/** What a running listener was built from; a change means a new listener. */
interface Settings {
  host: string
  port: number
  /** Searched in order; ipxeDir last, with `linkedFiles` (Debian links ipxe.efi to /boot). */
  roots: Array<{ dir: string, linkedFiles: boolean }>
  maxTransfers: number
  maxTransfersPerClient: number
  maxBlksize: number
  maxWindowsize: number
  deadlineMs: number
  fileCacheBytes: number
  busyPollUs: number
}

function settingsOf (loaded: LoadedConfig): Settings {
  const boot = loaded.config.boot
  const l = boot.tftpLimits
  return {
    host: loaded.settings.boot.tftp.host,
    port: loaded.settings.boot.tftp.port,
    roots: servedRoots(boot),
    maxTransfers: l.maxTransfers,
    maxTransfersPerClient: l.maxTransfersPerClient,
    maxBlksize: l.maxBlksize,
    maxWindowsize: l.maxWindowsize,
    deadlineMs: loaded.settings.boot.tftpDeadlineMs,
    fileCacheBytes: l.fileCacheBytes,
    busyPollUs: l.busyPollUs
  }
}

const same = (a: Settings, b: Settings): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * The directories served over TFTP (and, for iPXE binaries, over HTTP), in search order:
 * `boot.tftpRoot` strictly inside itself, then `boot.ipxeDir`, where a file may be a symlink to
 * a regular file elsewhere (Debian's /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi; a directory only
 * root writes).
 */
export function servedRoots (boot: Boot): Array<{ dir: string, linkedFiles: boolean }> {
  const ipxe = { dir: boot.ipxeDir, linkedFiles: true }
  return boot.tftpRoot === undefined ? [ipxe] : [{ dir: boot.tftpRoot, linkedFiles: false }, ipxe]
}

/** How long a served directory reuses a path's checks when its file cache is on. */
const RESOLVE_TTL_MS = 1000

/** A root that does not exist (yet) holds no files: "not found", so the next root is tried. */
function optionalRoot ({ dir, linkedFiles }: { dir: string, linkedFiles: boolean }, cacheBytes: number): FileSource {
  // With the cache on, a path's checks are reused for a second: a storm asks for the same few names.
  const inner = rootDirSource(dir, { cacheBytes, linkedFiles, resolveTtlMs: cacheBytes > 0 ? RESOLVE_TTL_MS : 0 })
  return {
    async open (path, context) {
      try {
        return await inner.open(path, context)
      } catch (err) {
        const cause = err instanceof TftpFileError ? (err.cause as { code?: unknown } | undefined) : undefined
        if (err instanceof TftpFileError && err.code === 'RB_TFTP_FILE_ERROR' && cause?.code === 'ENOENT') throw fileNotFound(path)
        throw err
      }
    }
  }
}

interface TftpMetrics {
  transfers: Counter<'outcome'>
  bytes: Counter
  retransmits: Counter
  errors: Counter<'code'>
  drops: Counter<'reason'>
  services: Set<TftpService>
}

// One set of collectors per registry: tests build several daemons (and services) per process.
const registered = new WeakMap<Metrics, TftpMetrics>()

function metricsFor (metrics: Metrics): TftpMetrics {
  let m = registered.get(metrics)
  if (m !== undefined) return m
  const registers = [metrics.registry]
  const services = new Set<TftpService>()
  m = {
    transfers: new Counter({ name: 'rackboot_tftp_transfers_total', help: 'TFTP read requests by outcome (complete, options-refused, rejected, client-error, timeout, protocol-error, aborted).', labelNames: ['outcome'] as const, registers }),
    bytes: new Counter({ name: 'rackboot_tftp_bytes_total', help: 'File bytes acknowledged by TFTP clients.', registers }),
    retransmits: new Counter({ name: 'rackboot_tftp_retransmits_total', help: 'TFTP packets sent again after a timeout.', registers }),
    errors: new Counter({ name: 'rackboot_tftp_errors_total', help: 'TFTP transfers that did not complete, by error code (RB_TFTP_*).', labelNames: ['code'] as const, registers }),
    drops: new Counter({ name: 'rackboot_tftp_drops_total', help: 'TFTP packets dropped or refused before a transfer, by reason (decode-error, unknown-tid, busy, …).', labelNames: ['reason'] as const, registers }),
    services
  }
  metrics.gauge('rackboot_tftp_active_transfers', 'TFTP transfers in progress.', [], (g) => {
    let n = 0
    for (const s of services) n += s.activeTransfers
    g.set(n)
  })
  registered.set(metrics, m)
  return m
}

export class TftpService {
  private readonly log: Logger
  private readonly m: TftpMetrics
  private readonly drainMs: number
  private loaded: LoadedConfig
  private server: TftpServer | null = null
  private settings: Settings | null = null
  /** Replaced listeners whose transfers are still running (after a reload). */
  private readonly retired = new Set<TftpServer>()
  private readonly dropCounts = new Map<string, number>()
  private readonly dropTimer: NodeJS.Timeout
  private closed = false

  private readonly onTransferHook: TftpServiceOptions['onTransfer']
  private readonly health: Health | undefined
  private readonly retryMs: number
  private retryTimer: NodeJS.Timeout | null = null

  constructor (opts: TftpServiceOptions) {
    this.log = opts.log
    this.loaded = opts.loaded
    this.drainMs = opts.drainMs
    this.onTransferHook = opts.onTransfer
    this.health = opts.health
    this.retryMs = opts.retryMs ?? 5000
    this.m = metricsFor(opts.metrics)
    this.m.services.add(this)
    this.dropTimer = setInterval(() => { this.reportDrops() }, opts.dropReportMs ?? 60_000)
    this.dropTimer.unref()
  }

  /** Transfers in progress on the current and retired listeners. */
  get activeTransfers (): number {
    let n = this.server?.activeTransfers ?? 0
    for (const s of this.retired) n += s.activeTransfers
    return n
  }

  /** The bound address of the listener, or null when not listening. */
  address (): { address: string; port: number } | null {
    return this.server === null ? null : this.server.address()
  }

  /**
   * Listens when enabled. A listener that cannot bind (no permission for port 69, the address
   * not on this host yet, the port taken) does not stop the daemon: the reason is logged once
   * in a sentence with its fix, the service reports itself down, and it tries again every
   * `retryMs` until it binds or is reconfigured.
   */
  private get enabled (): boolean { return this.loaded.lans.size > 0 }

  async start (): Promise<void> {
    if (!this.enabled) { this.health?.forget('tftp'); return }
    const settings = settingsOf(this.loaded)
    try {
      this.server = await this.listen(settings)
      this.settings = settings
    } catch (err) {
      this.cannotListen(err)
    }
  }

  private cannotListen (err: unknown): void {
    const problem = explainSystemError(err, `boot.tftp ${this.loaded.settings.boot.tftp.text}`)
    if (this.health?.down('tftp', problem) !== false) this.log.error({ reason: (err as { code?: string }).code }, `TFTP is not serving: ${problem}; retrying every ${this.retryMs / 1000} s`)
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null
      if (!this.closed && this.server === null && this.enabled) void this.start()
    }, this.retryMs)
    this.retryTimer.unref()
  }

  /**
   * Applies a reloaded config (boot settings, LAN presence). Returns the keys applied; a
   * failure to bind the new address keeps the old listener and is thrown.
   */
  async reload (loaded: LoadedConfig): Promise<string[]> {
    const next = settingsOf(loaded)
    const prev = this.settings
    this.loaded = loaded
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null }
    if (!this.enabled) {
      this.health?.forget('tftp')
      if (this.server === null) return []
      this.retire(this.server)
      this.server = null
      this.settings = null
      this.log.info('no LAN configured: TFTP stopped accepting requests')
      return ['tftp']
    }
    if (this.server !== null && prev !== null && same(prev, next)) return []
    const old = this.server
    if (old === null) {
      await this.start()
      return this.server === null ? [] : ['tftp']
    }
    if (prev !== null && prev.host === next.host && prev.port === next.port) {
      // Same port: the old listener must let go first. Its transfers keep their own sockets.
      await old.stopListening()
      try {
        this.server = await this.listen(next)
        this.settings = next
      } catch (err) {
        this.log.error({ err }, 'TFTP: cannot listen with the new settings; keeping the old ones')
        this.retire(old)
        try {
          this.server = await this.listen(prev)
        } catch (again) {
          this.server = null
          this.settings = null
          this.log.error({ err: again }, 'TFTP: cannot listen with the old settings either; TFTP is off until the next reload')
        }
        throw err
      }
    } else {
      this.server = await this.listen(next) // throws: the old listener keeps serving
      this.settings = next
    }
    this.retire(old)
    return ['tftp']
  }

  /** Stop accepting on every listener, let transfers finish up to drainMs, then abort the rest. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.dropTimer)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    const all = [...this.retired, ...(this.server === null ? [] : [this.server])]
    this.server = null
    await Promise.all(all.map(async (s) => { await s.close() }))
    this.retired.clear()
    this.reportDrops()
    this.m.services.delete(this)
  }

  private async listen (s: Settings): Promise<TftpServer> {
    const server = new TftpServer({
      address: s.host,
      port: s.port,
      source: layeredSource(s.roots.map((root) => optionalRoot(root, s.fileCacheBytes))),
      busyPollUs: s.busyPollUs,
      maxTransfers: s.maxTransfers,
      maxTransfersPerClient: s.maxTransfersPerClient,
      closeTimeoutMs: this.drainMs,
      transfer: { maxBlksize: s.maxBlksize, maxWindowsize: s.maxWindowsize, deadlineMs: s.deadlineMs }
    })
    server.on('transfer', (info) => { this.onTransfer(info) })
    server.on('drop', (d) => { this.onDrop(d) })
    await server.start()
    this.health?.up('tftp')
    const a = server.address()
    this.log.info({ ip: a.address, port: a.port, roots: s.roots.map((r) => r.dir), maxBlksize: s.maxBlksize, maxWindowsize: s.maxWindowsize, maxTransfers: s.maxTransfers }, 'TFTP listening')
    return server
  }

  /** Stop accepting now; close once its last transfer ended (or at close(), within the drain deadline). */
  private retire (server: TftpServer): void {
    this.retired.add(server)
    void server.stopListening()
    const poll = setInterval(() => {
      if (server.activeTransfers > 0 || !this.retired.has(server)) return
      clearInterval(poll)
      this.retired.delete(server)
      void server.close()
    }, 250)
    poll.unref()
  }

  private onTransfer (info: TransferInfo): void {
    this.m.transfers.inc({ outcome: info.outcome })
    this.m.bytes.inc(info.bytes)
    this.m.retransmits.inc(info.retransmits)
    if (info.error !== undefined) this.m.errors.inc({ code: info.error.code })
    const fields: Record<string, unknown> = {
      ip: info.client.address,
      port: info.client.port,
      file: info.file,
      outcome: info.outcome,
      bytes: info.bytes,
      size: info.size,
      durationMs: Math.round(info.durationMs),
      retransmits: info.retransmits,
      blksize: info.blksize,
      windowsize: info.windowsize
    }
    if (info.queuedSends > 0) fields.queuedSends = info.queuedSends
    if (info.error !== undefined) {
      fields.reason = info.error.code
      fields.detail = info.error.message
      if (info.error.tftpCode !== undefined) fields.tftpCode = info.error.tftpCode
    }
    if (info.outcome === 'options-refused') {
      // OVMF's UEFI PXE asks for tsize only, refuses our OACK with ERROR 8, then fetches again.
      this.log.debug(fields, 'TFTP option probe refused by the client')
    } else {
      this.log.info(fields, info.outcome === 'complete' ? 'TFTP transfer complete' : 'TFTP transfer failed')
      this.onTransferHook?.({ ip: info.client.address, file: info.file, outcome: info.outcome, bytes: info.bytes, durationMs: Math.round(info.durationMs), retransmits: info.retransmits })
    }
  }

  private onDrop (d: DropInfo): void {
    this.m.drops.inc({ reason: d.reason })
    this.dropCounts.set(d.reason, (this.dropCounts.get(d.reason) ?? 0) + 1)
    const fields: Record<string, unknown> = { reason: d.reason, ip: d.address, port: d.port }
    if (d.error !== undefined) fields.err = { code: d.error.code, message: d.error.message }
    this.log.debug(fields, 'TFTP drop')
  }

  private reportDrops (): void {
    if (this.dropCounts.size === 0) return
    this.log.info({ drops: Object.fromEntries(this.dropCounts) }, 'TFTP drops since the last report')
    this.dropCounts.clear()
  }
}
