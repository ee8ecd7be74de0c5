// What each `rackboot` command does (program.ts defines them and their options). Actions
// write through `io` and return an exit code (undefined: 0); they throw UsageError for a
// usage mistake and RackbootError / ApiClientError / ConfigError for operator errors.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { ApiClient, ApiClientError } from './client.js'
import { table } from './table.js'
import type { Machine, RbEvent, Lease, ApiToken } from '../store/index.js'

export interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

/** A usage mistake the parser cannot see: exit code 2. */
export class UsageError extends Error {}

export interface ClientOptions { api?: string; tokenFile?: string; json?: boolean }
export interface ListOptions extends ClientOptions { lan?: string; state?: string; label?: string[] }
export interface LeaseOptions extends ClientOptions { lan?: string; mac?: string; state?: string }
export interface EventOptions extends ClientOptions { machine?: string; lan?: string; type?: string; limit?: string; follow?: boolean }
export interface ImportOptions extends ClientOptions { format?: 'csv' | 'json' }
export interface MachineOptions extends ClientOptions {
  hostname?: string; mac?: string[]; lan?: string; ip?: string; image?: string; role?: string; label?: string[]
  bmcAddress?: string; bmcMac?: string; bmcDriver?: string; bmcPort?: string; bmcUser?: string; bmcPasswordFile?: string; bmcCipherSuite?: string
  bmcCaFile?: string; bmcFingerprint?: string; bmcInsecure?: boolean; bmcVerify?: boolean; bmcSystemId?: string; state?: string; netboot?: boolean; installDisk?: string; network?: string; cluster?: string
}

// Config, SQLite and their dependencies load only for the commands that use them:
// the API client commands start faster without them.
async function openStore (configFile: string | undefined) {
  const [{ loadConfig }, { Store }] = await Promise.all([import('../config/load.js'), import('../store/index.js')])
  const loaded = loadConfig(configFile)
  return new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
}

/** The API token: from --token-file, else RACKBOOT_TOKEN (never from the command line itself). */
function tokenOf (o: ClientOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (o.tokenFile !== undefined) {
    let text: string
    try { text = readFileSync(o.tokenFile, 'utf8') } catch (err) { throw new UsageError(`--token-file ${o.tokenFile}: ${(err as Error).message}`) }
    const token = text.trim()
    if (token === '') throw new UsageError(`--token-file ${o.tokenFile} is empty`)
    return token
  }
  const token = env.RACKBOOT_TOKEN
  return token === '' ? undefined : token
}

function client (o: ClientOptions, env: NodeJS.ProcessEnv): ApiClient {
  return new ApiClient(o.api ?? env.RACKBOOT_API ?? 'http://127.0.0.1:9080', tokenOf(o, env))
}

/** `--ip ''` or `--image ''` clears the field. */
const orNull = (v: string | undefined) => v === undefined ? undefined : (v === '' ? null : v)

function machineBody (v: MachineOptions, forCreate: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  if (v.hostname !== undefined) body.hostname = v.hostname
  if (v.mac !== undefined) body.macs = v.mac
  if (v.lan !== undefined) body.lan = v.lan
  if (v.ip !== undefined) body.ipv4 = orNull(v.ip)
  if (v.image !== undefined) body.image = orNull(v.image)
  if (v.role !== undefined) body.role = orNull(v.role)
  if (v.state !== undefined) body.state = v.state
  if (v.label !== undefined) {
    const labels: Record<string, string> = {}
    for (const l of v.label) {
      const eq = l.indexOf('=')
      if (eq <= 0) throw new UsageError(`--label ${l}: expected key=value`)
      labels[l.slice(0, eq)] = l.slice(eq + 1)
    }
    body.labels = labels
  }
  const bmc: Record<string, unknown> = {}
  if (v.bmcAddress !== undefined) bmc.address = orNull(v.bmcAddress)
  if (v.bmcMac !== undefined) bmc.mac = orNull(v.bmcMac)
  if (v.bmcDriver !== undefined) bmc.driver = orNull(v.bmcDriver)
  if (v.bmcPort !== undefined) bmc.port = v.bmcPort === '' ? null : intOption('--bmc-port', v.bmcPort)
  if (v.bmcUser !== undefined) bmc.username = orNull(v.bmcUser)
  if (v.bmcCipherSuite !== undefined) bmc.cipherSuite = v.bmcCipherSuite === '' ? null : intOption('--bmc-cipher-suite', v.bmcCipherSuite)
  if (v.bmcPasswordFile !== undefined) bmc.password = secretFrom('--bmc-password-file', v.bmcPasswordFile)
  if (v.bmcCaFile !== undefined) bmc.caFile = orNull(v.bmcCaFile)
  if (v.bmcFingerprint !== undefined) bmc.fingerprint = orNull(v.bmcFingerprint)
  if (v.bmcSystemId !== undefined) bmc.systemId = orNull(v.bmcSystemId)
  if (v.bmcInsecure === true && v.bmcVerify === true) throw new UsageError('--bmc-insecure or --bmc-verify, not both')
  if (v.bmcInsecure === true) bmc.tlsVerify = false
  if (v.bmcVerify === true) bmc.tlsVerify = true
  if (Object.keys(bmc).length > 0) body.bmc = bmc
  if (v.netboot !== undefined) body.netboot = v.netboot
  if (v.installDisk !== undefined) body.installDisk = orNull(v.installDisk)
  if (v.network !== undefined) body.network = orNull(v.network)
  if (v.cluster !== undefined) body.cluster = orNull(v.cluster)
  if (forCreate) {
    const missing = (['hostname', 'macs', 'lan'] as const).filter(k => body[k] === undefined).map(k => `--${k === 'macs' ? 'mac' : k}`)
    if (missing.length > 0) throw new UsageError(`machines add needs ${missing.join(', ')}`)
  }
  return body
}

/** A secret from a file (or stdin for -), its trailing newline removed: never from the command line. */
function secretFrom (option: string, file: string): string {
  let text: string
  try { text = readFileSync(file === '-' ? 0 : file, 'utf8') } catch (err) { throw new UsageError(`${option} ${file}: ${(err as Error).message}`) }
  const secret = text.replace(/\r?\n$/, '')
  if (secret === '') throw new UsageError(`${option} ${file} is empty`)
  return secret
}

function machineRows (ms: Machine[]): string {
  return table(['id', 'hostname', 'lan', 'ipv4', 'macs', 'state', 'netboot', 'image', 'role'],
    ms.map(m => [m.id, m.hostname, m.lan, m.ipv4, m.macs.join(','), m.state, m.netboot ? 'yes' : 'no', m.image, m.role]))
}

function machineDetail (m: Machine): string {
  const labels = Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', ')
  return [
    ['id', m.id], ['hostname', m.hostname], ['lan', m.lan], ['ipv4', m.ipv4], ['macs', m.macs.join(', ')],
    ['state', m.stateReason === null ? m.state : `${m.state}: ${m.stateReason}`], ['netboot', m.netboot ? 'yes' : 'no'], ['image', m.image],
    ['install disk', m.installDisk], ['network', m.network], ['role', m.role],
    ['cluster', m.cluster === null ? null : `${m.cluster} (${m.clusterStatus ?? '-'}${m.clusterReason === null ? '' : `: ${m.clusterReason}`})`], ['labels', labels],
    ['bmc', [m.bmc.driver, m.bmc.address === null ? null : `${m.bmc.address}${m.bmc.port === null ? '' : `:${m.bmc.port}`}`, m.bmc.mac, m.bmc.username === null ? null : `user ${m.bmc.username}`, m.bmc.passwordSet ? 'password set' : null, m.bmc.cipherSuite === null ? null : `cipher suite ${m.bmc.cipherSuite}`,
      m.bmc.tlsVerify === false ? 'TLS unverified' : m.bmc.fingerprint !== null ? `pinned ${m.bmc.fingerprint.slice(0, 16)}…` : m.bmc.caFile !== null ? `CA ${m.bmc.caFile}` : null, m.bmc.systemId === null ? null : `system ${m.bmc.systemId}`].filter(x => x !== null).join(' ')],
    ['power', m.bmc.powerState === null ? null : `${m.bmc.powerState} (at ${m.bmc.powerCheckedAt ?? '?'})`], ['arch', m.arch], ['uuid', m.uuid],
    ['first seen', m.firstSeen], ['last seen', m.lastSeen], ['created', m.createdAt], ['updated', m.updatedAt]
  ].map(([k, v]) => `${String(k).padEnd(12)} ${v === null || v === '' ? '-' : String(v)}`).join('\n')
}

function stepDetail (e: RbEvent): string {
  const d = e.detail
  const pick = ['step', 'kind', 'client', 'arch', 'ip', 'bootFile', 'file', 'image', 'disk', 'bytes', 'total', 'range', 'offset', 'network', 'reason', 'message', 'from', 'to', 'outcome'].filter(k => d[k] !== undefined && d[k] !== null)
  return pick.map(k => `${k}=${String(d[k])}`).join(' ')
}

function eventLine (e: RbEvent): string {
  const detail = Object.entries(e.detail).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
  return `${e.ts}  #${e.id}  ${e.type.padEnd(18)} ${e.actor.padEnd(14)} ${e.machineId === null ? '' : `machine=${e.machineId} `}${e.lan === null ? '' : `lan=${e.lan} `}${e.mac === null ? '' : `mac=${e.mac} `}${detail}`.trimEnd()
}

/** The machine an id, MAC or hostname names (the API resolves all three). */
async function machineRef (api: ApiClient, ref: string): Promise<Machine> {
  return await api.request<Machine>('GET', `/api/v1/machines/${encodeURIComponent(ref)}`)
}

async function listAll<T> (api: ApiClient, path: string, cursorLimit = 1000): Promise<T[]> {
  const out: T[] = []
  let after: string | null = null
  do {
    const sep = path.includes('?') ? '&' : '?'
    const page: { items: T[]; next: string | null } = await api.request('GET', `${path}${sep}limit=${cursorLimit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`)
    out.push(...page.items)
    after = page.next
  } while (after !== null)
  return out
}

export async function checkConfig (io: Io, o: { config?: string; fileOnly?: boolean }): Promise<void> {
  const [{ loadConfig, summarize }, { checkHost }, { ConfigError, formatProblem }] = await Promise.all([import('../config/load.js'), import('../config/host-checks.js'), import('../config/errors.js')])
  const loaded = loadConfig(o.config)
  if (o.fileOnly === true) { io.out(summarize(loaded)); return }
  // and what this host must have for machines to boot from it
  const host = checkHost(loaded)
  for (const w of host.warnings) io.err(`warning: ${formatProblem(w)}`)
  if (host.problems.length > 0) throw new ConfigError(host.problems)
  io.out(summarize(loaded))
}

export async function tokenCreate (io: Io, o: { name: string; readOnly?: boolean; config?: string }): Promise<void> {
  const store = await openStore(o.config)
  try {
    const { token } = store.write(() => {
      const created = store.tokens.create(o.name, o.readOnly === true)
      store.events.append({ actor: 'cli', type: 'token.created', detail: { name: created.info.name, readOnly: created.info.readOnly } })
      return created
    })
    io.out(token)
  } finally { store.close() }
}

export async function tokenList (io: Io, o: { json?: boolean; config?: string }): Promise<void> {
  const store = await openStore(o.config)
  try {
    const tokens: ApiToken[] = store.tokens.list()
    if (o.json === true) { io.out(JSON.stringify(tokens, null, 2)); return }
    io.out(table(['name', 'access', 'created', 'last used', 'revoked'], tokens.map(t => [t.name, t.readOnly ? 'read-only' : 'read-write', t.createdAt, t.lastUsedAt, t.revokedAt])))
  } finally { store.close() }
}

export async function tokenRevoke (io: Io, name: string, o: { config?: string }): Promise<number> {
  const store = await openStore(o.config)
  try {
    const ok = store.write(() => {
      const done = store.tokens.revoke(name)
      if (done) store.events.append({ actor: 'cli', type: 'token.revoked', detail: { name } })
      return done
    })
    if (!ok) { io.err(`rackboot: no active token named ${name}`); return 1 }
    io.out(`revoked ${name}`)
    return 0
  } finally { store.close() }
}

const print = (io: Io, o: ClientOptions, m: Machine) => io.out(o.json === true ? JSON.stringify(m, null, 2) : machineDetail(m))

export async function machinesList (io: Io, o: ListOptions): Promise<void> {
  const q = new URLSearchParams()
  if (o.lan !== undefined) q.set('lan', o.lan)
  if (o.state !== undefined) q.set('state', o.state)
  for (const l of o.label ?? []) q.append('label', l)
  const items = await listAll<Machine>(client(o, io.env), `/api/v1/machines?${q.toString()}`)
  io.out(o.json === true ? JSON.stringify(items, null, 2) : machineRows(items))
}

export async function machinesShow (io: Io, ref: string, o: ClientOptions): Promise<void> {
  print(io, o, await machineRef(client(o, io.env), ref))
}

export async function machinesAdd (io: Io, o: MachineOptions): Promise<void> {
  const body = machineBody(o, true)
  print(io, o, await client(o, io.env).request<Machine>('POST', '/api/v1/machines', body))
}

export async function machinesSet (io: Io, ref: string, o: MachineOptions): Promise<void> {
  const body = machineBody(o, false)
  if (Object.keys(body).length === 0) throw new UsageError('machines set: nothing to change (give at least one option)')
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  print(io, o, await api.request<Machine>('PATCH', `/api/v1/machines/${m.id}`, body))
}

export async function machinesRm (io: Io, ref: string, o: ClientOptions): Promise<void> {
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  await api.request('DELETE', `/api/v1/machines/${m.id}`)
  if (o.json !== true) io.out(`removed machine ${m.id}`)
}

export async function machinesImport (io: Io, file: string, o: ImportOptions): Promise<void> {
  const format = o.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'json')
  let text: string
  try { text = readFileSync(file === '-' ? 0 : file, 'utf8') } catch (err) { throw new UsageError(`${file}: ${(err as Error).message}`) }
  let body: unknown = text
  if (format === 'json') {
    try { body = JSON.parse(text) } catch (err) { throw new UsageError(`${file} is not valid JSON (${(err as Error).message}); use --format csv for CSV`) }
  }
  const res = await client(o, io.env).request<{ created: number; machines: Machine[] }>('POST', '/api/v1/machines:import', body, format === 'csv' ? 'text/csv' : 'application/json')
  io.out(o.json === true ? JSON.stringify(res, null, 2) : `imported ${res.created} machines`)
}

export async function machinesTimeline (io: Io, ref: string, o: ClientOptions & { limit: string }): Promise<void> {
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  const res = await api.request<{ attempts: Array<{ startedAt: string; endedAt: string; outcome: string; steps: RbEvent[] }> }>('GET', `/api/v1/machines/${m.id}/timeline?limit=${encodeURIComponent(o.limit)}`)
  if (o.json === true) { io.out(JSON.stringify(res, null, 2)); return }
  if (res.attempts.length === 0) { io.out(`machine ${m.id} (${m.hostname}) has no boot attempts yet`); return }
  for (const a of res.attempts) {
    io.out(`boot attempt ${a.startedAt} → ${a.endedAt}: ${a.outcome}`)
    for (const e of a.steps) io.out(`  ${e.ts.slice(11, 23)}  ${e.type.padEnd(16)} ${stepDetail(e)}`)
  }
}

export async function machinesLifecycle (io: Io, action: 'reprovision' | 'deprovision', ref: string, o: ClientOptions & { power?: boolean }): Promise<void> {
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  print(io, o, await api.request<Machine>('POST', `/api/v1/machines/${m.id}/${action}`, o.power === true ? { power: true } : {}))
}

interface ImageFileView { name: string; size: number; sha256: string }
interface ImageView {
  name: string; ok: boolean; problems: string[]; kind: 'netboot' | 'disk'; arch: string; kubernetes: string | null; description: string
  kernel: ImageFileView | null; initrds: ImageFileView[]; disk: (ImageFileView & { rawSize: number; rawSha256: string }) | null
}

const showImage = (i: ImageView) => [
  `${i.name}: ${i.ok ? 'ok' : 'NOT SERVABLE'} (${i.kind}, ${i.arch}${i.kind === 'disk' ? `, Kubernetes ${i.kubernetes ?? 'none'}` : ''})${i.description === '' ? '' : ` — ${i.description}`}`,
  ...[i.kernel, ...i.initrds].filter(f => f !== null).map(f => `  ${i.kind === 'disk' ? 'installer ' : ''}${f.name}  ${f.size} bytes  sha256 ${f.sha256}`),
  ...(i.disk === null ? [] : [`  disk ${i.disk.name}  ${i.disk.size} bytes  sha256 ${i.disk.sha256}  (raw ${i.disk.rawSize} bytes, sha256 ${i.disk.rawSha256})`]),
  ...i.problems.map(p => `  problem: ${p}`)
].join('\n')

export async function imagesCheck (io: Io, o: { config?: string; json?: boolean }): Promise<number> {
  const [{ loadConfig }, { loadImages }, { describeImage }] = await Promise.all([import('../config/load.js'), import('../boot/images.js'), import('../api/routes/images.js')])
  const cfg = loadConfig(o.config)
  const images = [...(await loadImages(cfg.config.boot.imagesDir)).values()].map(describeImage)
  if (o.json === true) io.out(JSON.stringify(images, null, 2))
  else io.out(images.length === 0 ? `no images in ${cfg.config.boot.imagesDir}` : images.map(showImage).join('\n'))
  return images.every(i => i.ok) ? 0 : 1
}

export async function imagesList (io: Io, o: ClientOptions): Promise<void> {
  const res = await client(o, io.env).request<{ items: ImageView[] }>('GET', '/api/v1/images')
  if (o.json === true) { io.out(JSON.stringify(res.items, null, 2)); return }
  io.out(table(['name', 'status', 'kind', 'arch', 'kubernetes', 'kernel', 'initrds', 'problems'], res.items.map(i => [i.name, i.ok ? 'ok' : 'broken', i.kind, i.arch, i.kind === 'disk' ? i.kubernetes ?? 'none' : '', i.kernel?.name, i.initrds.map(f => f.name).join(','), i.problems.length])))
}

export async function imagesShow (io: Io, name: string, o: ClientOptions): Promise<void> {
  const i = await client(o, io.env).request<ImageView>('GET', `/api/v1/images/${encodeURIComponent(name)}`)
  io.out(o.json === true ? JSON.stringify(i, null, 2) : showImage(i))
}

export async function lans (io: Io, o: ClientOptions): Promise<void> {
  const res = await client(o, io.env).request<{ items: Array<Record<string, any>> }>('GET', '/api/v1/lans')
  if (o.json === true) { io.out(JSON.stringify(res.items, null, 2)); return }
  io.out(table(['name', 'interface', 'subnet', 'address', 'pool', 'pool used', 'machines', 'leases'],
    res.items.map(l => [l.name, l.interface ?? 'relay', l.subnet, l.address, l.pool?.range, l.pool === null ? null : `${l.pool.leased}/${l.pool.size}`, l.machines, l.activeLeases])))
}

export async function leases (io: Io, o: LeaseOptions): Promise<void> {
  const q = new URLSearchParams()
  if (o.lan !== undefined) q.set('lan', o.lan)
  if (o.mac !== undefined) q.set('mac', o.mac)
  if (o.state !== undefined) q.set('state', o.state)
  const items = await listAll<Lease>(client(o, io.env), `/api/v1/leases?${q.toString()}`)
  if (o.json === true) { io.out(JSON.stringify(items, null, 2)); return }
  io.out(table(['lan', 'ipv4', 'mac', 'state', 'machine', 'hostname', 'expires'], items.map(l => [l.lan, l.ipv4, l.mac, l.state, l.machineId, l.hostname, l.expiresAt])))
}

export async function events (io: Io, o: EventOptions): Promise<void> {
  const api = client(o, io.env)
  const q = new URLSearchParams()
  if (o.machine !== undefined) q.set('machine', o.machine)
  if (o.lan !== undefined) q.set('lan', o.lan)
  if (o.type !== undefined) q.set('type', o.type)
  const show = (e: RbEvent) => io.out(o.json === true ? JSON.stringify(e) : eventLine(e))
  const page = await api.request<{ items: RbEvent[] }>('GET', `/api/v1/events?${q.toString()}&limit=${o.limit ?? (o.follow === true ? '10' : '50')}`)
  const backlog = page.items.reverse()
  for (const e of backlog) show(e)
  if (o.follow !== true) return
  q.set('after', String(backlog.at(-1)?.id ?? 0))
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    await api.follow(`/api/v1/events/stream?${q.toString()}`, e => show(e as RbEvent), {
      signal: abort.signal,
      onInterrupted: why => io.err(`rackboot: event stream interrupted (${why}); reconnecting`)
    })
  } catch (err) {
    if (!abort.signal.aborted) throw err
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

export { ApiClientError }

// ---- IP pools and clusters

export interface PoolCreateOptions extends ClientOptions { cidr?: string; range?: string[]; reserved?: string[]; lan?: string; delivery?: string; description?: string }
export interface AllocateOptions extends ClientOptions { address?: string; prefix?: string; cluster?: string; machine?: string; purpose?: string; comment?: string }
export interface ClusterCreateOptions extends ClientOptions {
  kubernetes: string; vipPool?: string; vip?: string; endpoint?: string; port?: string; podCidr?: string; serviceCidr?: string; dnsDomain?: string; keyAlgorithm?: string; initMachine?: string
  applyManifests?: boolean
}

interface PoolJson { name: string; cidr: string | null; ranges: string[]; reserved: string[]; lan: string | null; delivery: string; description: string | null; size: number; allocated: number }
interface AllocationJson { id: number; pool: string; address: string; cidr: string | null; cluster: string | null; machine: string | null; purpose: string | null; comment: string | null; createdAt: string }
interface ClusterJson {
  name: string; version: string; endpoint: { host: string; port: number; pool: string | null }; state: string; stateReason: string | null; initMachine: string | null
  podCidr: string; serviceCidr: string; keyAlgorithm: string; caCertHash: string; applyManifests: boolean
  nodes: Array<{ hostname: string; role: string; ipv4: string | null; state: string; clusterStatus: string | null; clusterReason: string | null }>
  tokens: Array<{ id: string; expiresAt: string; inCluster: boolean }>
}

const intOption = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} ${v}: expected a whole number`)
  return Number(v)
}
/** The options that were given, under their API field names. */
function given<O extends object> (o: O, fields: Partial<Record<keyof O & string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [opt, field] of Object.entries(fields) as Array<[keyof O & string, string]>) if (o[opt] !== undefined) out[field] = o[opt]
  return out
}
const poolRows = (ps: PoolJson[]) => table(['name', 'addresses', 'lan', 'delivery', 'size', 'allocated'], ps.map(p => [p.name, p.cidr ?? p.ranges.join(','), p.lan, p.delivery, p.size, p.allocated]))
const allocationRows = (as: AllocationJson[]) => table(['id', 'pool', 'address', 'owner', 'purpose', 'comment'], as.map(a => [a.id, a.pool, a.cidr ?? a.address, a.cluster !== null ? `cluster ${a.cluster}` : a.machine !== null ? `machine ${a.machine}` : null, a.purpose, a.comment]))
const printJson = (io: Io, v: unknown) => io.out(JSON.stringify(v, null, 2))

export async function poolsList (io: Io, o: ClientOptions): Promise<void> {
  const { items } = await client(o, io.env).request<{ items: PoolJson[] }>('GET', '/api/v1/pools')
  io.out(o.json === true ? JSON.stringify(items, null, 2) : poolRows(items))
}

export async function poolsShow (io: Io, name: string, o: ClientOptions): Promise<void> {
  const api = client(o, io.env)
  const p = await api.request<PoolJson>('GET', `/api/v1/pools/${encodeURIComponent(name)}`)
  const { items } = await api.request<{ items: AllocationJson[] }>('GET', `/api/v1/pools/${encodeURIComponent(name)}/allocations`)
  if (o.json === true) { printJson(io, { ...p, allocations: items }); return }
  io.out([poolRows([p]), ...(p.reserved.length === 0 ? [] : [`reserved: ${p.reserved.join(', ')}`]), '', items.length === 0 ? 'no allocations' : allocationRows(items)].join('\n'))
}

export async function poolsCreate (io: Io, name: string, o: PoolCreateOptions): Promise<void> {
  if ((o.cidr === undefined) === (o.range === undefined)) throw new UsageError('pools create needs exactly one of --cidr or --range')
  const body = { name, ...given(o, { cidr: 'cidr', range: 'ranges', reserved: 'reserved', lan: 'lan', delivery: 'delivery', description: 'description' }) }
  const p = await client(o, io.env).request<PoolJson>('POST', '/api/v1/pools', body)
  io.out(o.json === true ? JSON.stringify(p, null, 2) : poolRows([p]))
}

export async function poolsRm (io: Io, name: string, o: ClientOptions & { force?: boolean }): Promise<void> {
  await client(o, io.env).request('DELETE', `/api/v1/pools/${encodeURIComponent(name)}${o.force === true ? '?force=true' : ''}`)
  io.out(`deleted pool ${name}`)
}

export async function poolsAllocate (io: Io, name: string, o: AllocateOptions): Promise<void> {
  const body: Record<string, unknown> = {}
  if (o.address !== undefined) body.address = o.address
  const prefix = intOption('--prefix', o.prefix)
  if (prefix !== undefined) body.prefix = prefix
  Object.assign(body, given(o, { cluster: 'cluster', machine: 'machine', purpose: 'purpose', comment: 'comment' }))
  const a = await client(o, io.env).request<AllocationJson>('POST', `/api/v1/pools/${encodeURIComponent(name)}/allocations`, body)
  io.out(o.json === true ? JSON.stringify(a, null, 2) : allocationRows([a]))
}

export async function poolsRelease (io: Io, name: string, id: string, o: ClientOptions): Promise<void> {
  const n = intOption('allocation id', id)
  await client(o, io.env).request('DELETE', `/api/v1/pools/${encodeURIComponent(name)}/allocations/${n ?? ''}`)
  io.out(`released allocation ${id} of pool ${name}`)
}

function clusterDetail (c: ClusterJson): string {
  const head = [
    ['name', c.name], ['version', c.version], ['endpoint', `${c.endpoint.host}:${c.endpoint.port}${c.endpoint.pool === null ? '' : ` (VIP from pool ${c.endpoint.pool})`}`],
    ['state', c.stateReason === null ? c.state : `${c.state}: ${c.stateReason}`], ['init machine', c.initMachine], ['pods', c.podCidr], ['services', c.serviceCidr],
    ['keys', c.keyAlgorithm], ['CA hash', c.caCertHash], ['manifests', c.applyManifests ? 'applied by the init node' : 'not applied by rackboot'], ['tokens', c.tokens.map(t => `${t.id} (until ${t.expiresAt}${t.inCluster ? ', in the cluster' : ''})`).join(', ')]
  ].map(([k, v]) => `${String(k).padEnd(12)} ${v === null || v === '' ? '-' : String(v)}`).join('\n')
  const nodes = c.nodes.length === 0 ? 'no nodes (set a machine\'s --cluster and --role control-plane or worker)' : table(['hostname', 'role', 'ipv4', 'state', 'kubeadm', 'reason'], c.nodes.map(n => [n.hostname, n.role, n.ipv4, n.state, n.clusterStatus, n.clusterReason]))
  return `${head}\n\n${nodes}`
}

export async function clustersList (io: Io, o: ClientOptions): Promise<void> {
  const { items } = await client(o, io.env).request<{ items: ClusterJson[] }>('GET', '/api/v1/clusters')
  io.out(o.json === true ? JSON.stringify(items, null, 2) : table(['name', 'version', 'endpoint', 'state', 'nodes', 'init'], items.map(c => [c.name, c.version, `${c.endpoint.host}:${c.endpoint.port}`, c.state, c.nodes.length, c.initMachine])))
}

export async function clustersShow (io: Io, name: string, o: ClientOptions): Promise<void> {
  const c = await client(o, io.env).request<ClusterJson>('GET', `/api/v1/clusters/${encodeURIComponent(name)}`)
  io.out(o.json === true ? JSON.stringify(c, null, 2) : clusterDetail(c))
}

export async function clustersCreate (io: Io, name: string, o: ClusterCreateOptions): Promise<void> {
  if ((o.vipPool === undefined) === (o.endpoint === undefined)) throw new UsageError('clusters create needs exactly one of --vip-pool (a VIP from an IP pool) or --endpoint (a given host)')
  if (o.vip !== undefined && o.vipPool === undefined) throw new UsageError('--vip needs --vip-pool')
  const body: Record<string, unknown> = {
    name, version: o.kubernetes,
    endpoint: o.vipPool !== undefined ? { pool: o.vipPool, ...(o.vip === undefined ? {} : { address: o.vip }) } : { host: o.endpoint }
  }
  const port = intOption('--port', o.port)
  if (port !== undefined) body.endpointPort = port
  Object.assign(body, given(o, { podCidr: 'podCidr', serviceCidr: 'serviceCidr', dnsDomain: 'dnsDomain', keyAlgorithm: 'keyAlgorithm', initMachine: 'initMachine', applyManifests: 'applyManifests' }))
  const c = await client(o, io.env).request<ClusterJson>('POST', '/api/v1/clusters', body)
  io.out(o.json === true ? JSON.stringify(c, null, 2) : clusterDetail(c))
}

export async function clustersSet (io: Io, name: string, o: ClientOptions & { initMachine?: string; kubernetes?: string; applyManifests?: boolean }): Promise<void> {
  const body: Record<string, unknown> = {}
  if (o.initMachine !== undefined) body.initMachine = orNull(o.initMachine)
  if (o.kubernetes !== undefined) body.version = o.kubernetes
  if (o.applyManifests !== undefined) body.applyManifests = o.applyManifests
  if (Object.keys(body).length === 0) throw new UsageError('clusters set: nothing to change (give --init-machine, --kubernetes or --[no-]apply-manifests)')
  const c = await client(o, io.env).request<ClusterJson>('PATCH', `/api/v1/clusters/${encodeURIComponent(name)}`, body)
  io.out(o.json === true ? JSON.stringify(c, null, 2) : clusterDetail(c))
}

export async function clustersRm (io: Io, name: string, o: ClientOptions & { force?: boolean }): Promise<void> {
  await client(o, io.env).request('DELETE', `/api/v1/clusters/${encodeURIComponent(name)}${o.force === true ? '?force=true' : ''}`)
  io.out(`deleted cluster ${name}`)
}

/**
 * Writes the admin kubeconfig to `--output` (default `<name>.kubeconfig`) with mode 0600, through
 * a temporary file renamed into place: the key is never readable by others, not even for a moment.
 * `-` prints it.
 */
export async function clustersKubeconfig (io: Io, name: string, o: ClientOptions & { output?: string }): Promise<void> {
  const text = await client(o, io.env).text(`/api/v1/clusters/${encodeURIComponent(name)}/kubeconfig`)
  const out = o.output ?? `${name}.kubeconfig`
  if (out === '-') { io.out(text.replace(/\n$/, '')); return }
  const tmp = `${out}.${process.pid}.tmp`
  const fd = openSync(tmp, 'wx', 0o600)
  try { writeSync(fd, text); fsyncSync(fd) } finally { closeSync(fd) }
  renameSync(tmp, out)
  io.out(`wrote ${out} (mode 0600): KUBECONFIG=${out} kubectl get nodes`)
}

export async function clustersManifests (io: Io, name: string, o: ClientOptions): Promise<void> {
  io.out((await client(o, io.env).text(`/api/v1/clusters/${encodeURIComponent(name)}/manifests`)).replace(/\n$/, ''))
}

export async function machinesPower (io: Io, action: string, ref: string, o: ClientOptions): Promise<void> {
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  const r = action === 'status'
    ? await api.request<{ machine: string; state: string | null; attempts: number }>('GET', `/api/v1/machines/${m.id}/power`)
    : await api.request<{ machine: string; state: string | null; attempts: number }>('POST', `/api/v1/machines/${m.id}/power`, { action })
  if (o.json === true) { io.out(JSON.stringify(r, null, 2)); return }
  io.out(action === 'status' ? `${r.machine}: power ${r.state ?? '?'}` : `${r.machine}: power ${action} done${r.attempts > 1 ? ` (after ${r.attempts} tries)` : ''}`)
}

export async function machinesBootdev (io: Io, device: string, ref: string, o: ClientOptions & { once?: boolean; persistent?: boolean; mode?: string }): Promise<void> {
  if (o.once === true && o.persistent === true) throw new UsageError('bootdev: --once or --persistent, not both')
  const api = client(o, io.env)
  const m = await machineRef(api, ref)
  const r = await api.request<{ machine: string; device: string; once: boolean; mode: string }>('PUT', `/api/v1/machines/${m.id}/boot-device`, { device, once: o.persistent !== true, ...(o.mode === undefined ? {} : { mode: o.mode }) })
  io.out(o.json === true ? JSON.stringify(r, null, 2) : `${r.machine}: next boot from ${r.device}${r.once ? ' (once)' : ' (until changed)'}, ${r.mode}`)
}
