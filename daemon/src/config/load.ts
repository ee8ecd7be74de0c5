// file → YAML → defaults → schema → semantic checks → frozen config.
// Every problem is collected and reported as `file:line: dotted.key: message`.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LineCounter, parseDocument, type Node } from 'yaml'
import { Value } from 'typebox/value'
import { ConfigSchema, type Config } from './schema.js'
import { dottedPath, schemaProblems, type Path } from '../schema-errors.js'
import { ConfigError, type ConfigProblem } from './errors.js'
import { formatIPv4, tryParseIPv4, tryParseSubnet, tryParseIPv4Range, rangesOverlap, type Ipv4Range } from '@rackboot/wire'
import { compileLan, gatewayList, renewalTimes, type Lan } from './lan.js'
import { parseDuration, parseEndpoint, settingsOf, type Settings } from './settings.js'

/** A validated, frozen configuration and the LANs compiled from it. */
export interface LoadedConfig {
  readonly file: string
  /** As written, with defaults filled in and paths made absolute (what reloads compare). */
  readonly config: Config
  readonly lans: ReadonlyMap<string, Lan>
  /** Durations in milliseconds, listen addresses as host and port: parsed once, here. */
  readonly settings: Settings
}

/** The embedded default: API on loopback, no LAN, so no DHCP. */
export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../../../config/rackboot.yaml', import.meta.url))

/** `['lans', 1, 'pool']` → `lans[1].pool` */
export function dottedKey (path: Path): string {
  return path.length === 0 ? '' : dottedPath('', path)
}

class Problems {
  readonly list: ConfigProblem[] = []
  constructor (private readonly file: string, private readonly lineOf: (path: Path) => number | null) {}
  add (path: Path, message: string): void {
    this.list.push({ file: this.file, line: this.lineOf(path), key: dottedKey(path), message })
  }
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return `${typeof v} ${JSON.stringify(v)}`
}

/** Parses and validates config text; throws ConfigError listing every problem. */
export function parseConfig (text: string, file: string): LoadedConfig {
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false })
  const lineOfOffset = (offset: number) => counter.linePos(offset).line
  const lineOf = (path: Path): number | null => {
    // the deepest node that exists along the path
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined
      if (node?.range !== undefined && node.range !== null) return lineOfOffset(node.range[0])
      if (n === 0 && doc.contents?.range !== undefined) return lineOfOffset(doc.contents.range[0])
    }
    return null
  }
  const problems = new Problems(file, lineOf)
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      problems.list.push({ file, line: lineOfOffset(e.pos[0]), key: '', message: `YAML: ${e.message.split('\n')[0] ?? e.message}` })
    }
    throw new ConfigError(problems.list)
  }
  let raw: unknown = doc.contents === null ? {} : doc.toJS()
  if (raw === null || raw === undefined) raw = {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.add([], `the file must be a mapping of keys (dataDir, api, boot, lans), not ${describe(raw)}`)
    throw new ConfigError(problems.list)
  }

  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw)) as unknown
  for (const p of schemaProblems(Value.Errors(ConfigSchema, withDefaults), withDefaults, ConfigSchema)) problems.add(p.path, p.message)
  if (problems.list.length > 0) throw new ConfigError(problems.list)

  const config = withDefaults as Config
  semanticChecks(config, problems, raw as { lans?: unknown })
  if (problems.list.length > 0) throw new ConfigError(problems.list)

  config.dataDir = resolve(config.dataDir)
  config.boot.imagesDir = resolve(config.boot.imagesDir)
  config.boot.ipxeDir = resolve(config.boot.ipxeDir)
  if (config.boot.tftpRoot !== undefined) config.boot.tftpRoot = resolve(config.boot.tftpRoot)
  deepFreeze(config)
  const lans = new Map(config.lans.map(l => [l.name, compileLan(l)]))
  return Object.freeze({ file, config, lans, settings: deepFreeze(settingsOf(config)) })
}

/** Reads a config file; a missing or unreadable file is a ConfigError too. */
export function loadConfig (file: string = DEFAULT_CONFIG_FILE): LoadedConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ file, line: null, key: '', message: `cannot read the file: ${(err as Error).message}` }])
  }
  return parseConfig(text, file)
}

function deepFreeze<T> (o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o)) deepFreeze(v)
  }
  return o
}

/** Keys a proxyDHCP LAN refuses: rackboot hands out no addresses there, the other server configures the network. */
const PROXY_REFUSED: ReadonlyArray<[string, string]> = [
  ...['pool', 'leaseTime', 'renewalTime', 'rebindingTime', 'leaseIdentity', 'reserved'].map(k => [k, 'rackboot hands out no addresses and keeps no leases on a proxy LAN (mode: proxy); the other DHCP server does'] as [string, string]),
  ...['gateway', 'dns', 'domain', 'domainSearch', 'ntp', 'mtu', 'routes', 'options'].map(k => [k, 'on a proxy LAN (mode: proxy) the other DHCP server configures the network; rackboot\'s answers carry only boot information'] as [string, string]),
  ['management', 'a management LAN gives BMCs addresses, which a proxy LAN (mode: proxy) does not'],
  ['relay', 'proxyDHCP (mode: proxy) answers PXE broadcasts on a local interface; set `interface`']
]

function proxyChecks (rawLan: Record<string, unknown> | undefined, unknownMachines: string, at: (k: Path, m: string) => void): void {
  for (const [key, why] of PROXY_REFUSED) if (rawLan !== undefined && rawLan !== null && typeof rawLan === 'object' && key in rawLan) at([key], `is not allowed: ${why}; remove it`)
  if (unknownMachines !== 'ignore') at(['unknownMachines'], `${unknownMachines} is not allowed on a proxy LAN (mode: proxy): it needs rackboot to hand out addresses; unknown MACs are ignored there`)
}

function checkListen (value: string, path: Path, problems: Problems): void {
  const e = parseEndpoint(value)
  if (e === null) { problems.add(path, `port ${value.slice(value.lastIndexOf(':') + 1)} is out of range (0-65535)`); return }
  if (/^[0-9.]+$/.test(e.host) && tryParseIPv4(e.host) === null) problems.add(path, `${e.host} is not an IPv4 address`)
}

function semanticChecks (config: Config, problems: Problems, raw: { lans?: unknown } = {}): void {
  checkListen(config.api.listen, ['api', 'listen'], problems)
  checkListen(config.boot.http, ['boot', 'http'], problems)
  checkListen(config.boot.tftp, ['boot', 'tftp'], problems)

  checkTemplate(config.boot.ipxeScriptUrl, ['address', 'httpPort', 'mac', 'arch'], ['boot', 'ipxeScriptUrl'], problems)
  checkTemplate(config.boot.httpBootUrl, ['address', 'httpPort', 'file'], ['boot', 'httpBootUrl'], problems)
  for (const key of ['offerHold', 'declineQuarantine'] as const) {
    const secs = parseDuration(config.dhcp[key])
    if (secs !== null && secs > 86400) problems.add(['dhcp', key], `${config.dhcp[key]} is too long (at most 1d)`)
  }

  const names = new Map<string, number>()
  const ifaces = new Map<string, number>()
  const subnets: Array<{ i: number; first: number; last: number; text: string }> = []
  config.lans.forEach((lan, i) => {
    const at = (k: Path, m: string) => problems.add(['lans', i, ...k], m)
    const prevName = names.get(lan.name)
    if (prevName !== undefined) at(['name'], `duplicate LAN name "${lan.name}" (also lans[${prevName}].name)`)
    else names.set(lan.name, i)

    if (lan.interface !== undefined && lan.relay === true) at(['relay'], 'a LAN has either `interface` or `relay: true`, not both')
    if (lan.interface === undefined && lan.relay !== true) at(['interface'], 'is required (or set `relay: true` for a LAN reached through a DHCP relay)')
    if (lan.interface !== undefined) {
      const prev = ifaces.get(lan.interface)
      if (prev !== undefined) at(['interface'], `interface ${lan.interface} is already used by lans[${prev}] (${config.lans[prev]?.name ?? ''})`)
      else ifaces.set(lan.interface, i)
    }
    if (lan.relay === true && lan.gateway === undefined && lan.mode !== 'proxy') at(['gateway'], 'is required on a relayed LAN (the relay\'s address in the subnet, used as the router)')
    if (lan.mode === 'proxy') proxyChecks(Array.isArray(raw.lans) ? raw.lans[i] as Record<string, unknown> : {}, lan.unknownMachines, at)

    const leaseSeconds = parseDuration(lan.leaseTime)
    if (leaseSeconds !== null && (leaseSeconds < 60 || leaseSeconds > 365 * 86400)) at(['leaseTime'], `${lan.leaseTime} is out of range (60s to 365d)`)
    if (leaseSeconds !== null) {
      // RFC 2131 §4.4.5: T1 < T2 < lease, or clients renew and rebind out of order.
      const { t1, t2 } = renewalTimes(lan, leaseSeconds)
      if (t1 !== null && t1 < 1) at(['renewalTime'], `${lan.renewalTime ?? ''} must be at least 1s`)
      if (t1 !== null && t2 !== null && t1 >= t2) {
        at([lan.renewalTime !== undefined ? 'renewalTime' : 'rebindingTime'], `renewal time T1 (${t1}s) must be shorter than the rebinding time T2 (${t2}s${lan.rebindingTime === undefined ? ', 7/8 of leaseTime' : ''})`)
      }
      if (t2 !== null && t2 >= leaseSeconds) {
        at([lan.rebindingTime !== undefined ? 'rebindingTime' : 'renewalTime'], `rebinding time T2 (${t2}s) must be shorter than leaseTime (${leaseSeconds}s)`)
      }
    }

    const net = tryParseSubnet(lan.subnet)
    if (net === null) return
    if (net.hostBits) at(['subnet'], `${lan.subnet} has host bits set; did you mean ${formatIPv4(net.network)}/${net.prefix}?`)
    if (net.prefix > 30) at(['subnet'], `/${net.prefix} leaves no room for hosts; use /30 or larger`)
    for (const s of subnets) {
      if (net.first <= s.last && s.first <= net.last) at(['subnet'], `${lan.subnet} overlaps lans[${s.i}].subnet ${s.text} (${config.lans[s.i]?.name ?? ''})`)
    }
    subnets.push({ i, first: net.first, last: net.last, text: lan.subnet })

    const inside = (ip: number) => ip > net.first && ip < net.last
    const where = `${formatIPv4(net.network)}/${net.prefix}`
    const address = tryParseIPv4(lan.address)
    if (address !== null && lan.relay !== true && !inside(address)) at(['address'], `${lan.address} is not a host address in the subnet ${where}`)
    if (address !== null && lan.relay === true && address >= net.first && address <= net.last) at(['address'], `${lan.address} is inside the relayed subnet ${where}; on a relayed LAN it is this host's address that the relay forwards to`)
    const gatewayTexts = gatewayList(lan)
    const gateways = gatewayTexts.map(g => tryParseIPv4(g))
    gateways.forEach((g, k) => {
      const path: Path = typeof lan.gateway === 'string' ? ['gateway'] : ['gateway', k]
      if (g !== null && !inside(g)) at(path, `${gatewayTexts[k] ?? ''} is not a host address in the subnet ${where}`)
      if (gateways.indexOf(g) !== k) at(path, `${gatewayTexts[k] ?? ''} is listed twice`)
    })

    lan.routes?.forEach((r, k) => {
      const gw = tryParseIPv4(r.gateway)
      if (gw !== null && !inside(gw)) at(['routes', k, 'gateway'], `${r.gateway} is not a host address in the subnet ${where}`)
      const dest = tryParseSubnet(r.destination)
      if (dest?.hostBits === true) at(['routes', k, 'destination'], `${r.destination} has host bits set; did you mean ${formatIPv4(dest.network)}/${dest.prefix}?`)
    })
    lan.options?.forEach((o, k) => {
      const kinds = OPTION_VALUE_KINDS.filter(kind => o[kind] !== undefined)
      if (kinds.length !== 1) at(['options', k], `give exactly one of ${OPTION_VALUE_KINDS.join(', ')} (found ${kinds.length === 0 ? 'none' : kinds.join(', ')})`)
      if (MANAGED_OPTIONS.has(o.code)) at(['options', k, 'code'], `option ${o.code} is set by rackboot itself (use the LAN's own keys: gateway, dns, domain, domainSearch, ntp, mtu, routes, leaseTime)`)
      if (o.hex !== undefined && o.hex.replace(/:/g, '').length % 2 !== 0) at(['options', k, 'hex'], `${o.hex} has an odd number of hex digits`)
    })

    const reserved: Array<{ r: Ipv4Range; k: number }> = []
    lan.reserved?.forEach((text, k) => {
      const r = tryParseIPv4Range(text)
      if (r === null) { at(['reserved', k], `${JSON.stringify(text)} is not an address or a range first-last`); return }
      if (r.start > r.end) { at(['reserved', k], `${text} ends before it starts`); return }
      if (r.start < net.first || r.end > net.last) at(['reserved', k], `${text} is not inside the subnet ${where}`)
      reserved.push({ r, k })
    })

    if (lan.pool !== undefined) {
      const pool = tryParseIPv4Range(lan.pool)
      if (pool === null || !lan.pool.includes('-')) { at(['pool'], `${JSON.stringify(lan.pool)} is not a range first-last (e.g. 10.77.0.100-10.77.0.150)`); return }
      if (pool.start > pool.end) { at(['pool'], `${lan.pool} ends before it starts`); return }
      if (!inside(pool.start) || !inside(pool.end)) { at(['pool'], `${lan.pool} is not inside the host addresses of the subnet ${where}`); return }
      if (address !== null && address >= pool.start && address <= pool.end) at(['pool'], `${lan.pool} contains this host's address ${lan.address}`)
      gateways.forEach((g, k) => { if (g !== null && g >= pool.start && g <= pool.end) at(['pool'], `${lan.pool} contains the gateway ${gatewayTexts[k] ?? ''}`) })
      for (const { r, k } of reserved) {
        if (rangesOverlap(pool, r)) at(['pool'], `${lan.pool} overlaps the reserved range lans[${i}].reserved[${k}] (${lan.reserved?.[k] ?? ''})`)
      }
    }
  })
}

export const OPTION_VALUE_KINDS = ['text', 'hex', 'ipv4', 'u8', 'u16', 'u32'] as const

/** Options the DHCP service computes itself; custom options may not override them. */
export const MANAGED_OPTIONS: ReadonlySet<number> = new Set([
  0, 1, 3, 6, 15, 26, 42, 50, 51, 52, 53, 54, 55, 57, 58, 59, 60, 61, 66, 67, 77, 82, 93, 94, 97, 119, 121, 175, 255
])

function checkTemplate (template: string, allowed: string[], path: Path, problems: Problems): void {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!allowed.includes(m[1] as string)) problems.add(path, `unknown placeholder {${m[1] ?? ''}}; allowed: ${allowed.map(a => `{${a}}`).join(', ')}`)
  }
}

/** For `check-config`: counts that show what was understood. */
export function summarize (loaded: LoadedConfig): string {
  const lans = [...loaded.lans.values()]
  const parts = lans.map(l => `${l.name} (${l.config.interface ?? 'relay'}, ${l.config.subnet})`)
  return `${loaded.file}: ok, ${lans.length} LAN${lans.length === 1 ? '' : 's'}${parts.length > 0 ? ': ' + parts.join(', ') : ''}`
}
