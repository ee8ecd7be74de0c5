// Wires the daemon's services from a loaded config and returns handles to reload and close it.
// No process globals here (signals, exit, argv): main.ts owns those, so tests run the daemon in-process.
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load.js'
import type { Lan } from './config/lan.js'
import { Store } from './store/index.js'
import { Metrics } from './metrics.js'
import { buildApi, type Api } from './api/app.js'
import { BmcService } from './bmc/service.js'
import { TftpService } from './tftp/service.js'
import { DhcpService } from './dhcp/service.js'
import { RouterAnswerService } from './ipv6/router-answer.js'
import { BootService } from './boot/service.js'
import { Health, explainSystemError } from './health.js'
import { lockDataDir, type DataDirLock } from './store/lock.js'
import { StoreError } from './store/db.js'
import { SecretsError } from './store/secrets.js'
import { checkHost } from './config/host-checks.js'

/** How to run the CLI of this installation, whatever is on PATH (for hints in the log). */
const CLI_COMMAND = `node ${fileURLToPath(new URL('../bin/rackboot.js', import.meta.url))}`

/** The daemon cannot start, for a reason said in one sentence (main.ts prints it without a stack). */
export class StartError extends Error {
  readonly code = 'RB_START_FAILED'
  constructor (message: string) { super(message); this.name = 'StartError' }
}

function dataDirHint (err: unknown): string {
  const code = (err as { code?: string }).code
  return code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY'
    ? ` (rackboot runs as uid ${process.getuid?.() ?? '?'}: make the directory writable by it, or set dataDir to one that is; the systemd unit uses StateDirectory=rackboot)`
    : ''
}

export interface Daemon {
  readonly store: Store
  readonly api: Api
  /** `http://host:port` of the inventory API. */
  readonly apiUrl: string
  /** Applies a new, already validated config; returns what was applied and what needs a restart. */
  reload (next: LoadedConfig): Promise<ReloadResult>
  /** Stops accepting, drains, closes the store last. Idempotent. */
  close (): Promise<void>
}

export interface ReloadResult { applied: string[]; needsRestart: string[] }

export interface StartOptions { loaded: LoadedConfig; log: Logger; metrics?: Metrics; drainMs?: number }


export async function start (opts: StartOptions): Promise<Daemon> {
  const log = opts.log
  let current = opts.loaded
  const lans = (): ReadonlyMap<string, Lan> => current.lans
  const metrics = opts.metrics ?? new Metrics()
  const health = new Health(metrics)
  const dataDir = current.config.dataDir
  // One daemon per data directory; then the database. Both fail in one sentence naming the path.
  let lock: DataDirLock
  let store: Store
  try {
    lock = lockDataDir(dataDir)
  } catch (err) {
    throw err instanceof StoreError ? new StartError(err.message) : new StartError(explainSystemError(err, `dataDir ${dataDir}`, 'path') + dataDirHint(err))
  }
  try {
    store = new Store({ dataDir, lans, sync: current.config.sqliteSync, ...(current.config.secrets.keyFile === undefined ? {} : { secretsKeyFile: current.config.secrets.keyFile }) })
  } catch (err) {
    lock.release()
    throw err instanceof StoreError || err instanceof SecretsError ? new StartError(err.message) : new StartError(explainSystemError(err, `the database in dataDir ${dataDir}`, 'path') + dataDirHint(err))
  }
  // TFTP listens only while a LAN is configured.
  const drainMs = opts.drainMs ?? 10_000
  const tftp = new TftpService({
    loaded: current, log: log.child({ svc: 'tftp' }), metrics, drainMs, health,
    // A boot step for the machine's timeline: the client is found by its bound lease (on a
    // proxyDHCP LAN: by the address DHCP last saw it with).
    // Committed within 100 ms with the others: in a boot storm dozens of transfers end within
    // milliseconds, and one transaction for all of them keeps the event loop serving.
    onTransfer: (x) => {
      const failed = (err: unknown) => { log.error({ svc: 'tftp', err }, 'cannot record the TFTP transfer event') }
      try {
        const holder = store.leases.holderOf(x.ip) ?? dhcp.proxyHolder(x.ip)
        store.writeWithin(100, () => store.events.append({ actor: 'tftp', type: 'tftp.transfer', machineId: holder?.machineId ?? null, lan: holder?.lan ?? null, mac: holder?.mac ?? null, detail: { ...x } })).catch(failed)
      } catch (err) { failed(err) }
    }
  })
  const dhcp = new DhcpService({ store, log: log.child({ svc: 'dhcp' }), metrics, health })
  const ra = new RouterAnswerService({ store, log: log.child({ svc: 'ipv6' }), metrics, health })
  const boot = new BootService({ store, current: () => current, log: log.child({ svc: 'boot' }), metrics, health })
  store.machines.images = () => ({ names: [...boot.images.current.keys()], dir: boot.images.directory, arch: new Map([...boot.images.current].map(([n, i]) => [n, i.arch])) })
  let api: Api | undefined
  const bmc = new BmcService(store, log.child({ svc: 'bmc' }), () => current.settings.bmc)
  metrics.gauge('rackboot_bmc_machines', 'Machines with a BMC driver, by the power state their BMC last reported (unknown: never asked).', ['state'], g => {
    for (const r of store.machines.powerCounts()) g.set({ state: r.state }, r.n)
  })
  try {
    warnOrphans(store, current, log)
    warnHost(current, log)
    await boot.loadImages(current.config.boot.imagesDir)
    api = await buildApi({ store, lans, log: log.child({ svc: 'api' }), metrics, health, bodyLimit: current.config.api.bodyLimit, images: () => boot.images.current, imagesDir: () => boot.images.directory, clusters: () => ({ ...current.settings.clusters, kubeVipImage: current.config.clusters.kubeVipImage }), bmcService: bmc })
    const { host, port, text } = current.settings.api.listen
    try {
      await api.listen({ host, port })
    } catch (err) {
      // Without its API the daemon cannot be managed: this one is fatal.
      throw new StartError(explainSystemError(err, `api.listen ${text}`))
    }
    health.up('api')
    await tftp.start()
    await boot.start(current.lans.size > 0)
    await dhcp.start(current)
    await ra.start(current)
    bmc.startPoll(current.settings.bmc.pollIntervalMs)
  } catch (err) {
    await dhcp.close().catch(() => {})
    ra.close()
    await boot.close().catch(() => {})
    await tftp.close().catch(() => {})
    await api?.close().catch(() => {})
    store.close()
    lock.release()
    throw err
  }
  const addr = api.server.address() as AddressInfo
  const apiUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  log.info({ svc: 'api', url: apiUrl, lans: [...current.lans.keys()] }, 'rackboot started')
  if (current.lans.size === 0) log.info('no LAN configured: DHCP and boot services stay off')
  if (store.tokens.activeCount() === 0) log.warn(`no API token exists yet: create one with \`${CLI_COMMAND} token create --name admin --config ${current.file}\``)

  let closing: Promise<void> | null = null
  const theApi = api
  return {
    store,
    api: theApi,
    apiUrl,
    async reload (next) {
      const applied: string[] = []
      const needsRestart: string[] = []
      const a = current.config
      const b = next.config
      if (a.dataDir !== b.dataDir) needsRestart.push('dataDir')
      if (a.sqliteSync !== b.sqliteSync) needsRestart.push('sqliteSync')
      if (a.api.listen !== b.api.listen) needsRestart.push('api.listen')
      if (a.api.bodyLimit !== b.api.bodyLimit) needsRestart.push('api.bodyLimit')
      if (JSON.stringify(a.lans) !== JSON.stringify(b.lans)) applied.push('lans')
      if (a.log.level !== b.log.level) { log.level = b.log.level; applied.push('log.level') }
      if (JSON.stringify(a.boot) !== JSON.stringify(b.boot)) applied.push('boot')
      if (JSON.stringify(a.dhcp) !== JSON.stringify(b.dhcp)) applied.push('dhcp')
      if (JSON.stringify(a.bmc) !== JSON.stringify(b.bmc)) applied.push('bmc')
      // The services read the new config from here on; keys that need a restart keep their running values.
      current = Object.freeze({ ...next, config: Object.freeze({ ...b, dataDir: a.dataDir, sqliteSync: a.sqliteSync, api: a.api }), settings: Object.freeze({ ...next.settings, api: current.settings.api }) })
      await dhcp.apply(next)
      ra.apply(next)
      if (JSON.stringify(a.boot) !== JSON.stringify(b.boot) || JSON.stringify(a.lans) !== JSON.stringify(b.lans)) {
        await boot.loadImages(b.boot.imagesDir)
        if (a.boot.http !== b.boot.http || (a.lans.length > 0) !== (b.lans.length > 0)) {
          try { await boot.restart() } catch (err) { log.error({ svc: 'boot', err }, 'boot HTTP server cannot move; it keeps its old address'); needsRestart.push('boot.http') }
        }
      }
      // TFTP: a changed address, root or limit gets a new listener; transfers in flight finish on the old one.
      try {
        applied.push(...await tftp.reload(next))
      } catch (err) {
        log.error({ svc: 'tftp', err }, 'TFTP cannot apply the new settings; the previous listener keeps serving')
        needsRestart.push('boot.tftp')
      }
      if (a.bmc.pollInterval !== b.bmc.pollInterval) bmc.startPoll(current.settings.bmc.pollIntervalMs)
      warnOrphans(store, current, log)
      warnHost(current, log)
      log.info({ applied, needsRestart, file: next.file }, needsRestart.length > 0 ? 'config reloaded; some keys need a restart' : 'config reloaded')
      return { applied, needsRestart }
    },
    close () {
      closing ??= (async () => {
        log.info('shutting down')
        const timer = setTimeout(() => { log.warn({ drainMs: opts.drainMs ?? 10_000 }, 'drain deadline passed; closing connections') ; theApi.server.closeAllConnections() }, opts.drainMs ?? 10_000)
        try {
          bmc.stopPoll()
          await dhcp.close()
          ra.close()
          // stop accepting and drain (up to drainMs)
          await Promise.all([theApi.close(), tftp.close(), boot.close()])
        } finally {
          clearTimeout(timer)
          store.close()
          lock.release()
          log.info('stopped')
        }
      })()
      return closing
    }
  }
}

/** What this host lacks for machines to boot (check-config fails on it; the daemon still starts). */
function warnHost (loaded: LoadedConfig, log: Logger): void {
  const { problems, warnings } = checkHost(loaded)
  for (const p of problems) log.error({ key: p.key }, `${p.key}: ${p.message}`)
  for (const w of warnings) log.warn({ key: w.key }, `${w.key}: ${w.message}`)
}

/** Machines whose LAN is not (or no longer) configured get no DHCP: say so at start and reload. */
function warnOrphans (store: Store, loaded: LoadedConfig, log: Logger): void {
  const orphans = store.machines.countBy().filter(r => !loaded.lans.has(r.lan))
  for (const lan of new Set(orphans.map(o => o.lan))) {
    const n = orphans.filter(o => o.lan === lan).reduce((s, o) => s + o.n, 0)
    log.warn({ lan, machines: n }, 'machines are registered on a LAN that is not configured')
  }
}
