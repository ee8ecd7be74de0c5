// The IPv6 router-solicitation answer: on a LAN without an IPv6 router, iPXE waits about 16 s
// for a router advertisement before it boots. Per LAN with an interface (`ipv6RouterAnswer:
// auto`), rackboot answers router solicitations with an advertisement that configures nothing
// (ndp.ts: lifetime 0, no prefixes, M and O off), and goes silent for good as soon as it hears
// another router advertise on the LAN. It never advertises unsolicited.
//
// Timing: an answer leaves LISTEN_MS after the solicitation, so a router that answers it (RFC
// 4861 §6.2.6: within MAX_RA_DELAY_TIME, 0.5 s) is heard first and rackboot stays silent. A
// solicitation from an address is answered by unicast to it, at most once a second per address
// and GLOBAL_RATE a second per LAN; one from the unspecified address by multicast to all nodes,
// at most once every MIN_DELAY_BETWEEN_RAS (3 s, RFC 4861 §10).
import { networkInterfaces } from 'node:os'
import type { Logger } from 'pino'
import { Counter } from 'prom-client'
import { interfaceIndex, openIcmp6Socket, type RawIcmpSocket } from '@rackboot/netbind'
import type { Store } from '../store/index.js'
import type { Metrics } from '../metrics.js'
import type { LoadedConfig } from '../config/load.js'
import type { Health } from '../health.js'
import { emptyAdvertisement, parseNdp } from './ndp.js'

const LISTEN_MS = 550
const PER_SOURCE_MS = 1_000
const MULTICAST_MS = 3_000
const GLOBAL_RATE = 20
const WATCH_MS = 2_000

interface LanRa {
  lan: string
  iface: string
  socket: RawIcmpSocket | null
  ifindex: number | null
  /** Another router heard on the LAN (its address): rackboot stays silent. */
  otherRouter: string | null
  lastMulticast: number
  answered: Map<string, number>
  pending: Map<string, NodeJS.Timeout>
  tokens: number
  tokensAt: number
  openError: string | null
}

export interface RouterAnswerOptions {
  store: Store
  log: Logger
  metrics: Metrics
  health?: Health
  now?: () => number
}

/** The interface's MAC and IPv6 link-local addresses, as Node sees them (null: not known). */
function interfaceInfo (iface: string): { mac: string | null; own: Set<string> } {
  const list = networkInterfaces()[iface] ?? []
  const mac = list.find(a => a.mac !== '00:00:00:00:00:00')?.mac ?? null
  return { mac, own: new Set(list.filter(a => a.family === 'IPv6').map(a => a.address.toLowerCase())) }
}

export class RouterAnswerService {
  private readonly lans = new Map<string, LanRa>()
  private readonly now: () => number
  private readonly log: Logger
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private readonly solicitations: Counter<'lan' | 'outcome'>
  private readonly sent: Counter<'lan'>
  private readonly heard: Counter<'lan'>

  constructor (private readonly opts: RouterAnswerOptions) {
    this.now = opts.now ?? Date.now
    this.log = opts.log
    const registers = [opts.metrics.registry]
    this.solicitations = new Counter({ name: 'rackboot_ipv6_solicitations_total', help: 'IPv6 router solicitations received, by LAN and outcome: answered, silent (another router is on the LAN), rate-limited, coalesced (an answer to that address was pending), invalid.', labelNames: ['lan', 'outcome'], registers })
    this.sent = new Counter({ name: 'rackboot_ipv6_router_answers_total', help: 'Empty router advertisements (lifetime 0, no prefixes) sent in answer to solicitations, by LAN.', labelNames: ['lan'], registers })
    this.heard = new Counter({ name: 'rackboot_ipv6_other_router_adverts_total', help: 'Router advertisements heard from other routers, by LAN (the first one silences rackboot on that LAN).', labelNames: ['lan'], registers })
  }

  async start (loaded: LoadedConfig): Promise<void> {
    this.apply(loaded)
    this.timer = setInterval(() => this.watch(), WATCH_MS)
    this.timer.unref()
  }

  /** Applies a (re)loaded config. A LAN that kept its interface keeps what it heard. */
  apply (loaded: LoadedConfig): void {
    const wanted = new Map<string, string>()
    if (loaded.config.dhcp.enabled) {
      for (const lan of loaded.lans.values()) {
        const iface = lan.config.interface
        if (iface !== undefined && lan.config.ipv6RouterAnswer === 'auto') wanted.set(lan.name, iface)
      }
    }
    for (const [name, s] of this.lans) {
      if (wanted.get(name) !== s.iface) {
        this.stop(s)
        this.lans.delete(name)
        this.opts.health?.forget(`ipv6-answer/${name}`)
      }
    }
    for (const [name, iface] of wanted) {
      if (!this.lans.has(name)) {
        this.lans.set(name, { lan: name, iface, socket: null, ifindex: null, otherRouter: null, lastMulticast: -Infinity, answered: new Map(), pending: new Map(), tokens: GLOBAL_RATE, tokensAt: this.now(), openError: null })
      }
    }
    this.watch()
  }

  close (): void {
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    for (const s of this.lans.values()) this.stop(s)
    this.lans.clear()
  }

  private stop (s: LanRa): void {
    for (const t of s.pending.values()) clearTimeout(t)
    s.pending.clear()
    s.socket?.close()
    s.socket = null
    s.ifindex = null
  }

  /** Opens missing sockets, reopens those whose interface was recreated. */
  private watch (): void {
    if (this.closed) return
    for (const s of this.lans.values()) {
      const index = interfaceIndex(s.iface)
      if (s.socket !== null && index === s.ifindex) continue
      if (s.socket !== null) this.stop(s)
      if (index === null) continue // the DHCP service reports a missing interface
      try {
        s.socket = openIcmp6Socket(s.iface, (bytes, source, hop) => this.onPacket(s, bytes, source, hop))
        s.ifindex = s.socket.ifindex
        s.openError = null
        this.opts.health?.up(`ipv6-answer/${s.lan}`)
        this.log.info({ lan: s.lan, iface: s.iface }, 'answering IPv6 router solicitations (until another router is heard)')
      } catch (err) {
        const msg = (err as Error).message
        if (s.openError !== msg) this.log.warn({ lan: s.lan, iface: s.iface, err: { code: (err as { code?: string }).code, message: msg } }, `LAN ${s.lan}: cannot answer IPv6 router solicitations (iPXE then waits ~16 s for IPv6 on each boot): ${msg}`)
        s.openError = msg
        this.opts.health?.down(`ipv6-answer/${s.lan}`, `cannot open an ICMPv6 socket on ${s.iface}: ${msg} (set ipv6RouterAnswer: off on LAN ${s.lan} to turn this off)`)
      }
    }
  }

  private onPacket (s: LanRa, bytes: Buffer, source: string, hopLimit: number): void {
    const p = parseNdp(bytes, source, hopLimit)
    if (p === null) { this.solicitations.inc({ lan: s.lan, outcome: 'invalid' }); return }
    if (p.kind === 'advert') {
      if (interfaceInfo(s.iface).own.has(source.toLowerCase())) return
      this.heard.inc({ lan: s.lan })
      if (s.otherRouter !== null) return
      s.otherRouter = source
      for (const t of s.pending.values()) clearTimeout(t)
      s.pending.clear()
      const detail = { router: source, routerLifetime: p.routerLifetime, prefixes: p.prefixes, managed: p.managed, other: p.other }
      try { this.opts.store.write(() => this.opts.store.events.append({ actor: 'ipv6', type: 'ipv6.router-heard', lan: s.lan, detail })) } catch (err) { this.log.error({ err }, 'cannot record ipv6.router-heard') }
      this.log.warn({ lan: s.lan, iface: s.iface, ...detail }, `another IPv6 router advertises on LAN ${s.lan}: rackboot no longer answers router solicitations there`)
      return
    }
    if (s.otherRouter !== null) { this.solicitations.inc({ lan: s.lan, outcome: 'silent' }); return }
    const now = this.now()
    const to = source === '::' ? 'ff02::1' : source
    if (s.pending.has(to)) { this.solicitations.inc({ lan: s.lan, outcome: 'coalesced' }); return }
    const last = s.answered.get(to)
    if (to !== 'ff02::1' && last !== undefined && now - last < PER_SOURCE_MS) { this.solicitations.inc({ lan: s.lan, outcome: 'rate-limited' }); return }
    s.tokens = Math.min(GLOBAL_RATE, s.tokens + (now - s.tokensAt) * GLOBAL_RATE / 1000)
    s.tokensAt = now
    if (s.tokens < 1) { this.solicitations.inc({ lan: s.lan, outcome: 'rate-limited' }); return }
    s.tokens -= 1
    const delay = to === 'ff02::1' ? Math.max(LISTEN_MS, s.lastMulticast + MULTICAST_MS - now) : LISTEN_MS
    this.solicitations.inc({ lan: s.lan, outcome: 'answered' })
    s.pending.set(to, setTimeout(() => this.answer(s, to), delay))
  }

  private answer (s: LanRa, to: string): void {
    s.pending.delete(to)
    if (s.otherRouter !== null || s.socket === null) return
    const now = this.now()
    const n = s.socket.send(emptyAdvertisement(interfaceInfo(s.iface).mac), to)
    if (n < 0) {
      this.log.debug({ lan: s.lan, to, errno: -n }, 'router advertisement not sent')
      return
    }
    s.answered.set(to, now)
    if (to === 'ff02::1') s.lastMulticast = now
    if (s.answered.size > 4096) for (const [k, at] of s.answered) if (now - at > PER_SOURCE_MS) s.answered.delete(k)
    this.sent.inc({ lan: s.lan })
    this.log.debug({ lan: s.lan, to }, 'empty router advertisement sent')
  }
}
