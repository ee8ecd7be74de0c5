// The DHCP service: one interface-bound socket per directly attached LAN, one unbound
// socket for relayed LANs, and a batch loop: packets that arrive together are decided
// together, their lease writes committed in one transaction, and only then are the
// ACKs sent (group commit: no ACK leaves before its lease is durable). OFFERs leave as soon
// as they are decided (an offer's hold lives in memory), or when their conflict check ends.
import type dgram from 'node:dgram'
import type { Logger } from 'pino'
import { Counter } from 'prom-client'
import { createBoundSocket, boundInterface, interfaceIndex } from '@rackboot/netbind'
import { decode, encodeFitted, maxReplySize, replyDestination, messageTypeName, messageType, clientHardwareAddress, optionName, type DhcpPacket } from '@rackboot/dhcp'
import { isDecodeError, isEncodeError, formatIPv4 } from '@rackboot/wire'
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import type { Store } from '../store/index.js'
import type { Metrics } from '../metrics.js'
import type { LoadedConfig } from '../config/load.js'
import type { Lan } from '../config/lan.js'
import { AddressBook } from './address-book.js'
import { decide, REQUIRED_REPLY_OPTIONS, type Decision } from './decide.js'
import { decideProxy, PXE_PORT } from './proxy.js'
import { ConflictCheck } from './conflict.js'
import { bookLookup } from './lookup.js'
import { lanContext, relayedLan, type LanContext } from './lan-context.js'
import { DhcpLedger } from './ledger.js'
import { applyDecision } from './apply.js'
import type { EventInput } from '../store/events.js'
import { RackbootError } from '../errors.js'
import { LogBudget } from '../log.js'
import { explainSystemError, type Health } from '../health.js'

export const DHCP_SERVER_PORT = 67

interface LanState {
  ctx: LanContext
  book: AddressBook
  socket: dgram.Socket | null
  /** proxyDHCP LANs: the boot server socket on port 4011. */
  pxeSocket: dgram.Socket | null
  ifindex: number | null
  openError: string | null
}

interface Item {
  buf: Buffer; lan: string | null; socket: dgram.Socket; src: { address: string; port: number }; pxe: boolean
  /** How many conflict-checked addresses this request was already found to be in use for. */
  conflicts?: number
  /** performance.now() when it was queued. */
  at?: number
}
/** A DISCOVER re-decided after this many addresses answered the conflict check gets no offer. */
const MAX_CONFLICTS = 3

/** Addresses proxyDHCP clients were seen with (the other server's): which machine has which, for the TFTP timeline. */
const MAX_SEEN = 16_384
interface Outgoing {
  socket: dgram.Socket; buf: Buffer; address: string; port: number; lan: string; type: string
  /** An offer that waits for the conflict check of its address. */
  probe?: { ip: string; mac: string; key: string; machineId: number | null; item: Item }
}

export interface DhcpServiceOptions {
  store: Store
  log: Logger
  metrics: Metrics
  now?: () => number
  /** UDP port to serve on (67). Tests and benchmarks in namespaces use the real one too. */
  port?: number
  /** Where each LAN's socket says whether it serves (health checks, rackboot_service_up). */
  health?: Health
}

/** Packets waiting for the next batch; beyond this a burst is dropped (and counted) rather than held in memory. */
const MAX_QUEUE = 4_096
const WATCH_MS = 2_000
const SWEEP_MS = 10_000
const SUMMARY_MS = 60_000
const EVENT_REPEAT_MS = 60_000
/** Events that a misbehaving or miscabled client could otherwise repeat many times a second: once a minute per key. */
const RATE_LIMITED_EVENTS = new Map<string, (e: EventInput) => string>([
  ['dhcp.wrong-lan', e => `${e.lan ?? ''}|${e.mac ?? ''}`],
  ['dhcp.pool-exhausted', e => `${e.lan ?? ''}|${e.mac ?? ''}`],
  ['dhcp.nak', e => `${e.lan ?? ''}|${e.mac ?? ''}`],
  ['dhcp.failed', e => `${e.lan ?? ''}|${e.mac ?? ''}`],
  // per LAN: a flood brings a new MAC with every packet
  ['dhcp.discover-limit', e => e.lan ?? '']
])
const WARN_EVENTS = new Set(['dhcp.wrong-lan', 'dhcp.pool-exhausted', 'dhcp.failed', 'dhcp.discover-limit', 'dhcp.conflict'])
/** Log lines per event type and LAN per summary period; the rest are counted in the summary. */
const LOG_LINES_PER_TYPE = 60

/** The MAC the kernel's ARP table holds for `ip` (in this network namespace), or null. */
function neighbourMac (ip: string): string | null {
  try {
    for (const line of readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[0] === ip && f[3] !== undefined && f[3] !== '00:00:00:00:00:00') return f[3].toLowerCase()
    }
  } catch { /* not Linux, or no procfs */ }
  return null
}

/** Whether carrying out `d` creates a discovered machine (the write that can be refused: its hostname taken). */
function recordsMachine (d: Decision): boolean {
  return d.kind === 'reply' && d.lease !== null && d.lease.discover
}

/** A boot storm arrives as a burst: a larger receive buffer (capped by net.core.rmem_max) absorbs it. */
function tuneSocket (socket: dgram.Socket): void {
  try { socket.setRecvBufferSize(4 << 20) } catch { /* best effort */ }
  try { socket.setSendBufferSize(1 << 20) } catch { /* best effort */ }
}

export class DhcpService {
  private readonly lans = new Map<string, LanState>()
  private relaySocket: dgram.Socket | null = null
  private queue: Item[] = []
  private flushing = false
  private readonly leases: DhcpLedger
  private readonly log: Logger
  private readonly now: () => number
  private readonly port: number
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly seen = new Map<string, { lan: string; mac: string; machineId: number | null }>()
  private readonly eventSeen = new Map<string, number>()
  private readonly dropsSince = new Map<string, number>()
  private readonly logBudget = new LogBudget(LOG_LINES_PER_TYPE)
  private timers: NodeJS.Timeout[] = []
  private closed = false
  private offerHoldMs = 30_000
  private quarantineMs = 600_000
  private ratePerMac = 20
  private readonly received: Counter<'lan' | 'type'>
  private readonly sent: Counter<'lan' | 'type'>
  private readonly dropped: Counter<'lan' | 'reason'>
  private readonly optionsLeftOut: Counter<'lan' | 'option'>
  private readonly conflictChecks: Counter<'lan' | 'result'>
  private readonly phaseSeconds: Counter<'phase'>
  private readonly timedPackets: Counter
  private conflictCheck: ConflictCheck | null = null

  constructor (private readonly opts: DhcpServiceOptions) {
    this.log = opts.log
    this.now = opts.now ?? Date.now
    this.port = opts.port ?? DHCP_SERVER_PORT
    this.leases = new DhcpLedger(opts.store)
    this.leases.onDiscovered = (lan, mac, hostname) => { if (this.logBudget.take(`machine.discovered/${lan}`)) this.log.info({ lan, mac, hostname }, 'machine.discovered') }
    const registers = [opts.metrics.registry]
    this.received = new Counter({ name: 'rackboot_dhcp_received_total', help: 'DHCP packets received, by LAN and message type.', labelNames: ['lan', 'type'], registers })
    this.sent = new Counter({ name: 'rackboot_dhcp_sent_total', help: 'DHCP replies sent, by LAN and message type.', labelNames: ['lan', 'type'], registers })
    this.dropped = new Counter({ name: 'rackboot_dhcp_dropped_total', help: 'DHCP packets dropped (no reply), by LAN and reason.', labelNames: ['lan', 'reason'], registers })
    this.conflictChecks = new Counter({ name: 'rackboot_dhcp_conflict_checks_total', help: 'Address conflict checks before pool offers, by LAN and result: free (no answer), in-use (another host answered: the address is quarantined), unprobed (no probe could be sent).', labelNames: ['lan', 'result'], registers })
    // Where a packet's time in the daemon goes, summed over packets (divide by
    // rackboot_dhcp_timed_packets_total for the average): waiting in the queue for the next batch,
    // its batch's decisions, the batch's commit, and handing the batch's replies to the kernel.
    this.phaseSeconds = new Counter({ name: 'rackboot_dhcp_phase_seconds_total', help: 'Time DHCP packets spent in each phase, summed over packets: queue (waiting for their batch), decide (their batch\'s decisions), commit (their batch\'s transaction), send (their batch\'s replies handed to the kernel). Divide by rackboot_dhcp_timed_packets_total for the average per packet.', labelNames: ['phase'], registers })
    this.timedPackets = new Counter({ name: 'rackboot_dhcp_timed_packets_total', help: 'DHCP packets counted in rackboot_dhcp_phase_seconds_total.', registers })
    this.optionsLeftOut = new Counter({ name: 'rackboot_dhcp_options_left_out_total', help: 'Options left out of replies because they did not fit the client\'s maximum message size (option 57), by LAN and option.', labelNames: ['lan', 'option'], registers })
    opts.metrics.gauge('rackboot_dhcp_pool_held', 'Pool addresses held (leases and pending offers) per LAN.', ['lan'], g => {
      const now = this.now()
      for (const s of this.lans.values()) if (s.ctx.lan.pool !== null) g.set({ lan: s.ctx.lan.name }, s.book.poolUsed(now))
    })
  }

  /** Opens sockets for `loaded`'s LANs; LANs whose interface is missing are retried. */
  async start (loaded: LoadedConfig): Promise<void> {
    await this.apply(loaded)
    this.timers = [
      setInterval(() => { void this.watchInterfaces() }, WATCH_MS),
      setInterval(() => this.sweep(), SWEEP_MS),
      setInterval(() => this.summary(), SUMMARY_MS)
    ]
    for (const t of this.timers) t.unref()
  }

  /** Applies a (re)loaded config: LANs added, removed or changed; leases are kept. */
  async apply (loaded: LoadedConfig): Promise<void> {
    const cfg = loaded.config
    this.offerHoldMs = loaded.settings.dhcp.offerHoldMs
    this.quarantineMs = loaded.settings.dhcp.declineQuarantineMs
    this.ratePerMac = cfg.dhcp.ratePerMac
    if (cfg.dhcp.conflictCheck.enabled && this.conflictCheck === null) {
      this.conflictCheck = new ConflictCheck({ timeoutMs: cfg.dhcp.conflictCheck.timeoutMs, log: this.log, onUnavailable: why => { if (why === null) this.opts.health?.forget('dhcp/conflict-check'); else this.opts.health?.down('dhcp/conflict-check', `the DHCP conflict check cannot send ICMP echo requests: ${why}`) } })
    } else if (!cfg.dhcp.conflictCheck.enabled && this.conflictCheck !== null) {
      this.conflictCheck.close()
      this.conflictCheck = null
      this.opts.health?.forget('dhcp/conflict-check')
    }
    if (this.conflictCheck !== null) this.conflictCheck.timeoutMs = cfg.dhcp.conflictCheck.timeoutMs
    const wanted = cfg.dhcp.enabled ? loaded.lans : new Map<string, Lan>()
    for (const lan of loaded.lans.keys()) if (!wanted.has(lan)) this.opts.health?.forget(`dhcp/${lan}`)
    for (const [name, s] of this.lans) {
      if (!wanted.has(name)) {
        this.closeSocket(s)
        this.lans.delete(name)
        this.opts.health?.forget(`dhcp/${name}`)
        this.log.info({ lan: name }, 'LAN removed: DHCP stopped on it (its leases stay recorded)')
      }
    }
    for (const [name, lan] of wanted) {
      const ctx = lanContext(lan, loaded)
      const s = this.lans.get(name)
      if (s === undefined) {
        const book = new AddressBook(lan)
        for (const rec of this.leases.load(name)) book.put(rec)
        this.lans.set(name, { ctx, book, socket: null, pxeSocket: null, ifindex: null, openError: null })
      } else {
        const ifaceChanged = s.ctx.lan.config.interface !== lan.config.interface || s.ctx.lan.config.mode !== lan.config.mode
        s.ctx = ctx
        s.book.retarget(lan)
        if (ifaceChanged) this.closeSocket(s)
      }
    }
    await this.watchInterfaces()
  }

  private get needRelay (): boolean {
    return [...this.lans.values()].some(s => s.ctx.lan.config.relay === true)
  }

  async close (): Promise<void> {
    this.closed = true
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const s of this.lans.values()) this.closeSocket(s)
    this.conflictCheck?.close()
    this.conflictCheck = null
    this.relaySocket?.close()
    this.relaySocket = null
  }

  /** Opens missing sockets and reopens those whose interface was deleted and recreated. */
  private async watchInterfaces (): Promise<void> {
    const health = this.opts.health
    if (this.needRelay && this.relaySocket === null && !this.closed) {
      try {
        await this.openRelaySocket()
        health?.up('dhcp/relay')
      } catch (err) {
        const problem = explainSystemError(err, `the DHCP socket for relayed LANs (0.0.0.0:${this.port})`)
        if (health?.down('dhcp/relay', problem) !== false) this.log.error({ reason: (err as { code?: string }).code }, `relayed LANs get no DHCP: ${problem}; retrying`)
      }
    }
    if (!this.needRelay && this.relaySocket !== null) { this.relaySocket.close(); this.relaySocket = null }
    if (!this.needRelay) health?.forget('dhcp/relay')
    for (const [name, s] of this.lans) {
      const iface = s.ctx.lan.config.interface
      if (iface === undefined || this.closed) continue
      const index = interfaceIndex(iface)
      if (s.socket !== null && index === s.ifindex && (s.pxeSocket !== null || s.ctx.lan.config.mode !== 'proxy')) continue
      if (s.socket !== null) {
        this.log.warn({ lan: name, iface, was: s.ifindex, now: index }, index === null ? 'interface went away: DHCP socket closed' : 'interface was recreated: reopening the DHCP socket')
        this.closeSocket(s)
      }
      if (index === null) {
        const msg = `interface ${iface} does not exist (yet)`
        if (s.openError !== msg) this.log.warn({ lan: name, iface }, `${msg}: DHCP on LAN ${name} waits for it`)
        s.openError = msg
        health?.down(`dhcp/${name}`, `${msg} (lans[].interface of LAN ${name}): DHCP waits for it`)
        continue
      }
      try {
        const proxy = s.ctx.lan.config.mode === 'proxy'
        const socket = await createBoundSocket({ interface: iface, port: this.port })
        let pxeSocket: dgram.Socket | null = null
        try {
          if (proxy) pxeSocket = await createBoundSocket({ interface: iface, port: PXE_PORT })
        } catch (err) {
          socket.close()
          throw err
        }
        if (this.closed || this.lans.get(name) !== s) { socket.close(); pxeSocket?.close(); continue }
        tuneSocket(socket)
        s.socket = socket
        s.pxeSocket = pxeSocket
        s.ifindex = boundInterface(socket)?.index ?? index
        s.openError = null
        health?.up(`dhcp/${name}`)
        for (const [sock, pxe] of [[socket, false], [pxeSocket, true]] as const) {
          if (sock === null) continue
          sock.on('message', (buf, rinfo) => this.enqueue({ buf, lan: name, socket: sock, src: { address: rinfo.address, port: rinfo.port }, pxe }))
          sock.on('error', err => this.log.error({ lan: name, iface, err }, 'DHCP socket error'))
        }
        if (proxy) this.log.info({ lan: name, iface, port: this.port, pxePort: PXE_PORT }, 'DHCP serving (proxyDHCP: boot information only, the addresses are another server\'s)')
        else this.log.info({ lan: name, iface, port: this.port }, 'DHCP serving')
      } catch (err) {
        const msg = (err as Error).message
        if (s.openError !== msg) this.log.error({ lan: name, iface, err: { code: (err as { code?: string }).code, message: msg } }, `LAN ${name} gets no DHCP: ${msg}; retrying every ${WATCH_MS / 1000} s`)
        s.openError = msg
        health?.down(`dhcp/${name}`, `cannot open the DHCP socket on ${iface}: ${msg}`)
      }
    }
  }

  private async openRelaySocket (): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind({ port: this.port, address: '0.0.0.0' }, () => { socket.off('error', reject); resolve() })
      })
    } catch (err) {
      socket.close()
      throw err
    }
    tuneSocket(socket)
    socket.on('message', (buf, rinfo) => this.enqueue({ buf, lan: null, socket, src: { address: rinfo.address, port: rinfo.port }, pxe: false }))
    socket.on('error', err => this.log.error({ err }, 'DHCP relay socket error'))
    this.relaySocket = socket
    this.log.info({ port: this.port }, 'DHCP serving relayed LANs (requests with giaddr)')
  }

  private closeSocket (s: LanState): void {
    s.socket?.close()
    s.socket = null
    s.pxeSocket?.close()
    s.pxeSocket = null
    s.ifindex = null
  }

  private enqueue (item: Item): void {
    if (this.queue.length >= MAX_QUEUE) { this.countDrop(item.lan ?? 'relay', 'overload'); return }
    item.at = performance.now()
    this.queue.push(item)
    if (!this.flushing) {
      this.flushing = true
      setImmediate(() => this.flush())
    }
  }

  /** Decides a batch in one transaction, then sends its replies. */
  private flush (): void {
    const batch = this.queue
    this.queue = []
    this.flushing = false
    if (this.closed) return
    const now = this.now()
    const out: Outgoing[] = []
    const store = this.opts.store
    const t0 = performance.now()
    let decided = t0
    try {
      store.write(() => {
        for (const item of batch) {
          // A decision that records a discovered machine is carried out in its own savepoint: one
          // that cannot be (its generated hostname is taken, say) fails alone, and the others are
          // answered. Every other write (a lease row, an event) fails only with the database,
          // and then the whole batch does; a savepoint each would cost every REQUEST.
          let p: ReturnType<DhcpService['prepare']>
          try {
            p = this.prepare(item, now)
          } catch (err) {
            this.failed(item, err, now)
            continue
          }
          if (p === null) continue
          const { decision, req, s } = p
          let o: Outgoing | null
          if (recordsMachine(decision)) {
            try {
              o = store.isolated(() => this.carryOut(decision, req, s, item, now))
            } catch (err) {
              this.failed(item, err, now)
              continue
            }
          } else {
            o = this.carryOut(decision, req, s, item, now)
          }
          if (o === null) continue
          // An OFFER promises nothing durable (its hold lives in memory): it leaves now, before
          // the batch's other decisions and its commit. ACKs wait for the commit of their lease.
          if (o.type === 'offer' && o.probe === undefined) this.send(o)
          else out.push(o)
        }
        decided = performance.now()
      })
    } catch (err) {
      this.log.error({ err, packets: batch.length }, 'DHCP batch failed to commit: no replies sent; reloading lease state')
      for (const [name, s] of this.lans) {
        s.book = new AddressBook(s.ctx.lan)
        for (const rec of this.leases.load(name)) s.book.put(rec)
      }
      return
    }
    const committed = performance.now()
    for (const o of out) {
      const probe = o.probe
      if (probe !== undefined) {
        if (this.conflictCheck?.check(probe.ip, inUse => this.probed(o, probe, inUse)) === true) continue
        this.conflictChecks.inc({ lan: o.lan, result: 'unprobed' })
      }
      this.send(o)
    }
    const n = batch.length
    let queued = 0
    for (const item of batch) queued += t0 - (item.at ?? t0)
    this.phaseSeconds.inc({ phase: 'queue' }, queued / 1000)
    this.phaseSeconds.inc({ phase: 'decide' }, (decided - t0) * n / 1000)
    this.phaseSeconds.inc({ phase: 'commit' }, (committed - decided) * n / 1000)
    this.phaseSeconds.inc({ phase: 'send' }, (performance.now() - committed) * n / 1000)
    this.timedPackets.inc(n)
  }

  private send (o: Outgoing): void {
    o.socket.send(o.buf, o.port, o.address, err => {
      if (err !== null && err !== undefined) { this.countDrop(o.lan, 'send-failed'); this.log.debug({ lan: o.lan, ip: o.address, err: err.message }, 'send failed') } else this.sent.inc({ lan: o.lan, type: o.type })
    })
  }

  /**
   * The conflict check of an offer's address ended. Free: the offer goes out. In use: the
   * address is quarantined like a declined one (another host has it without a lease), recorded
   * as `dhcp.conflict`, and the DISCOVER is decided again, which picks the next free address.
   */
  private probed (o: Outgoing, probe: NonNullable<Outgoing['probe']>, inUse: boolean): void {
    this.conflictChecks.inc({ lan: o.lan, result: inUse ? 'in-use' : 'free' })
    if (this.closed) return
    if (!inUse) { this.send(o); return }
    const s = this.lans.get(o.lan)
    if (s === undefined) return
    const now = this.now()
    // Who answered: the kernel's neighbour table has its MAC now (it just resolved it).
    const answeredBy = neighbourMac(probe.ip)
    try {
      this.opts.store.write(() => {
        const rec = this.leases.record(o.lan, { op: 'decline', ip: probe.ip, mac: answeredBy ?? probe.mac, key: `conflict:${probe.ip}`, machineId: null, expiresAt: now + this.quarantineMs, clientId: null, hostname: null, discover: false }, now)
        if (rec !== null) s.book.put(rec)
        s.book.unoffer(probe.key)
        this.events([{ actor: 'dhcp', type: 'dhcp.conflict', machineId: probe.machineId, lan: o.lan, mac: probe.mac, detail: { ip: probe.ip, offeredTo: probe.mac, answeredBy, quarantineSeconds: Math.round(this.quarantineMs / 1000) } }], now)
      })
    } catch (err) {
      this.log.error({ lan: o.lan, ip: probe.ip, err }, 'cannot quarantine an address found in use; no offer sent')
      return
    }
    const conflicts = (probe.item.conflicts ?? 0) + 1
    if (conflicts >= MAX_CONFLICTS) { this.countDrop(o.lan, 'conflict'); return }
    this.enqueue({ ...probe.item, conflicts })
  }

  /** A packet whose decision could not be carried out: counted, logged and recorded; no reply. */
  private failed (item: Item, err: unknown, now: number): void {
    let req: DhcpPacket | null = null
    try { req = decode(item.buf) } catch { /* handle() decoded it before failing */ }
    const s = req === null ? null : this.lanFor(req, item)
    const lan = s?.ctx.lan.name ?? item.lan ?? 'relay'
    const mac = req !== null && req.hlen === 6 ? clientHardwareAddress(req) : null
    const code = err instanceof RackbootError ? err.code : 'RB_INTERNAL'
    this.countDrop(lan, 'failed')
    if (!(err instanceof RackbootError)) this.log.error({ lan, mac, err }, 'DHCP request failed')
    const message = err instanceof Error ? err.message : String(err)
    try {
      this.events([{ actor: 'dhcp', type: 'dhcp.failed', lan, mac, detail: { reason: code, message, msgType: req === null ? null : (messageType(req) === undefined ? 'bootp' : messageTypeName(messageType(req) as number).toLowerCase()) } }], now)
    } catch (e) {
      this.log.error({ lan, mac, err: e }, 'cannot record a failed DHCP request')
    }
  }

  /** The LAN of a request: a relayed one by its link address (`relayedLan`), a direct one by the socket it arrived on. */
  private lanFor (req: DhcpPacket, item: Item): LanState | null {
    const relayed = relayedLan(req, this.lans.values())
    if (relayed !== undefined) return relayed
    return item.lan === null ? null : this.lans.get(item.lan) ?? null
  }

  private allow (mac: string, now: number): boolean {
    const b = this.buckets.get(mac) ?? { tokens: this.ratePerMac * 2, at: now }
    b.tokens = Math.min(this.ratePerMac * 2, b.tokens + (now - b.at) * this.ratePerMac / 1000)
    b.at = now
    this.buckets.set(mac, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Decodes, finds the LAN, rate-limits and decides: reads only (the lookups read the store). */
  private prepare (item: Item, now: number): { req: DhcpPacket; s: LanState; decision: Decision } | null {
    let req: DhcpPacket
    try {
      req = decode(item.buf)
    } catch (err) {
      if (!isDecodeError(err)) throw err
      this.countDrop(item.lan ?? 'relay', 'malformed-packet')
      this.log.debug({ lan: item.lan, from: `${item.src.address}:${item.src.port}`, reason: err.code, field: err.field, offset: err.offset }, 'drop')
      return null
    }
    const s = this.lanFor(req, item)
    if (s === null) {
      // The relay socket also hears the directly attached LANs' broadcasts: those are not its.
      if (item.lan === null && req.giaddr === '0.0.0.0') return null
      this.countDrop(item.lan ?? 'relay', req.giaddr === '0.0.0.0' ? 'no-lan' : 'unknown-relay')
      this.log.debug({ from: `${item.src.address}:${item.src.port}`, giaddr: req.giaddr, reason: 'unknown-relay' }, 'drop')
      return null
    }
    const lan = s.ctx.lan.name
    const mt = messageType(req)
    this.received.inc({ lan, type: mt === undefined ? 'bootp' : messageTypeName(mt).toLowerCase() })
    const mac = req.hlen === 6 ? clientHardwareAddress(req) : ''
    if (!this.allow(mac, now)) {
      this.countDrop(lan, 'rate-limited')
      return null
    }
    const maxDiscovered = s.ctx.lan.config.maxDiscovered
    const lookup = bookLookup(s.book, now, mac => this.leases.machineByMac(mac), ip => this.leases.isReserved(lan, ip), () => this.leases.discoveredCount(lan) >= maxDiscovered,
      mac => this.leases.bmcByMac(mac, ip => ip >= s.book.lan.subnet.first && ip <= s.book.lan.subnet.last))
    const ctx = { lan: s.ctx, now, lookup, offerHoldMs: this.offerHoldMs, quarantineMs: this.quarantineMs }
    const decision = s.ctx.lan.config.mode === 'proxy' ? decideProxy(req, ctx, item.pxe ? PXE_PORT : 67, item.src) : decide(req, ctx)
    return { req, s, decision }
  }

  private carryOut (d: Decision, req: DhcpPacket, s: LanState, item: Item, now: number): Outgoing | null {
    const lan = s.ctx.lan.name
    const mac = clientHardwareAddress(req)
    applyDecision(d, lan, s.book, this.leases, now)
    this.events(d.events, now)
    if (d.kind !== 'update' && d.seen !== undefined) this.saw(d.seen, lan, mac, d.events[0]?.machineId ?? null)
    switch (d.kind) {
      case 'drop':
        this.countDrop(lan, d.reason)
        this.log.debug({ lan, mac, xid: req.xid, reason: d.reason, detail: d.detail }, 'drop')
        return null
      case 'update':
        return null
      case 'reply': {
        let buf: Buffer
        try {
          // OVMF's REQUEST announces a 65280-byte maximum (option 57): never more than fits
          // one Ethernet frame on the LAN. A small maximum still gets an answer: what the
          // client asked for last is left out (or goes into `file`/`sname`), not the reply.
          const fitted = encodeFitted(d.packet, { maxSize: Math.min(maxReplySize(req), (s.ctx.lan.config.mtu ?? 1500) - 28), required: REQUIRED_REPLY_OPTIONS })
          buf = fitted.buf
          if (fitted.dropped.length > 0) {
            for (const code of fitted.dropped) this.optionsLeftOut.inc({ lan, option: String(code) })
            if (this.logBudget.take(`options-left-out/${lan}`)) this.log.info({ lan, mac, xid: req.xid, maxSize: maxReplySize(req), leftOut: fitted.dropped.map(c => optionName(c)), overload: fitted.overload }, 'options left out of a reply: the client accepts no more (option 57)')
          }
        } catch (err) {
          if (!isEncodeError(err)) throw err
          this.countDrop(lan, 'reply-too-large')
          this.log.warn({ lan, mac, xid: req.xid, err: { code: err.code, message: err.message } }, 'reply does not fit the client\'s maximum message size')
          return null
        }
        const to = d.to === undefined ? replyDestination(req, d.packet) : { ...d.to, rule: 'pxe-source' }
        this.log.debug({ lan, mac, xid: req.xid, msgType: d.type, ip: d.packet.yiaddr, to: to.address, rule: to.rule }, 'reply')
        // A probed offer waits ~timeoutMs with its request (to decide it again on a conflict):
        // keep an exact copy of the request's bytes, not dgram's receive buffer behind them.
        const probe = d.probe === true && d.lease !== null ? { ip: d.lease.ip, mac, key: d.lease.key, machineId: d.lease.machineId, item: { ...item, buf: Buffer.from(item.buf) } } : undefined
        return { socket: item.socket, buf, address: to.address, port: to.port, lan, type: d.type, ...(probe === undefined ? {} : { probe }) }
      }
    }
  }

  /** A proxyDHCP client was seen with `ip`: remembered (bounded) so that its TFTP transfers land on its timeline. */
  private saw (ip: string, lan: string, mac: string, machineId: number | null): void {
    this.seen.delete(ip)
    this.seen.set(ip, { lan, mac, machineId })
    if (this.seen.size > MAX_SEEN) { const oldest = this.seen.keys().next().value; if (oldest !== undefined) this.seen.delete(oldest) }
  }

  /** Who was last seen with `ip` on a proxyDHCP LAN (their address is the other server's), or null. */
  proxyHolder (ip: string): { lan: string; mac: string; machineId: number | null } | null {
    return this.seen.get(ip) ?? null
  }

  /** Appends events (inside the batch transaction), holding back repeats of noisy ones. */
  private events (list: EventInput[], now: number): void {
    for (const e of list) {
      const keyOf = RATE_LIMITED_EVENTS.get(e.type)
      if (keyOf !== undefined) {
        const key = `${e.type}|${keyOf(e)}`
        const last = this.eventSeen.get(key)
        if (last !== undefined && now - last < EVENT_REPEAT_MS) continue
        this.eventSeen.set(key, now)
      }
      this.opts.store.events.append(e)
      const fields = { lan: e.lan, mac: e.mac, ...e.detail }
      if (e.type === 'dhcp.offer' || e.type === 'dhcp.ack' || e.type === 'dhcp.nak') { this.log.debug(fields, e.type); continue }
      if (!this.logBudget.take(`${e.type}/${e.lan ?? ''}`)) continue
      if (WARN_EVENTS.has(e.type)) this.log.warn(fields, e.type)
      else this.log.info(fields, e.type)
    }
  }

  private countDrop (lan: string, reason: string): void {
    this.dropped.inc({ lan, reason })
    const key = `${lan}/${reason}`
    this.dropsSince.set(key, (this.dropsSince.get(key) ?? 0) + 1)
  }

  /** Lease expiry: bound leases whose time is up become `expired` (and free). */
  private sweep (): void {
    const now = this.now()
    try {
      this.opts.store.write(() => {
        for (const [name, s] of this.lans) {
          for (const rec of s.book.expired(now)) {
            if (this.leases.expire(name, rec, now)) {
              this.opts.store.events.append({ actor: 'dhcp', type: 'lease.expired', machineId: rec.machineId, lan: name, mac: rec.mac, detail: { ip: formatIPv4(rec.ip) } })
              this.log.info({ lan: name, mac: rec.mac, ip: formatIPv4(rec.ip) }, 'lease.expired')
            }
            rec.state = 'expired'
          }
          s.book.pruneOffers(now)
        }
      })
    } catch (err) {
      this.log.error({ err }, 'lease expiry sweep failed')
    }
    for (const [mac, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(mac)
    for (const [k, at] of this.eventSeen) if (now - at > EVENT_REPEAT_MS) this.eventSeen.delete(k)
  }

  /** Periodic count of drops at info, so a flood shows in the log without a line per packet. */
  private summary (): void {
    const held = this.logBudget.drain()
    if (Object.keys(held).length > 0) this.log.info({ held }, `DHCP log lines held back in the last ${SUMMARY_MS / 1000} s (beyond ${LOG_LINES_PER_TYPE} per event type and LAN; the events are all recorded)`)
    if (this.dropsSince.size === 0) return
    this.log.info({ drops: Object.fromEntries(this.dropsSince) }, `DHCP drops in the last ${SUMMARY_MS / 1000} s`)
    this.dropsSince.clear()
  }
}
