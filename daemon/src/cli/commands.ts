// The `rackboot` command line, except `serve` (main.ts: it owns the process).
// run() returns an exit code and writes to the given streams, so tests can call it.
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError } from '../config/errors.js'
import { ApiClient, ApiClientError } from './client.js'
import { table } from './table.js'
import { RackbootError } from '../errors.js'
import type { Machine, RbEvent, Lease, ApiToken } from '../store/index.js'

export interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

export const USAGE = `usage: rackboot <command> [options]

Daemon:
  serve [--config FILE]                  run the daemon in the foreground
  check-config [--config FILE]           validate a config file; exit 1 listing every problem
  token create --name N [--read-only] [--config FILE]   create an API token (prints only the token)
  token list [--json] [--config FILE]    list API tokens (never their secrets)
  token revoke NAME [--config FILE]      revoke an API token

API client (--api URL or RACKBOOT_API, default http://127.0.0.1:9080; --token or RACKBOOT_TOKEN):
  machines list [--lan L] [--state S] [--label SEL]... [--json]
  machines show ID|MAC|HOSTNAME [--json]
  machines add --hostname H --mac M [--mac M2] --lan L [--ip A] [--image I] [--role R]
               [--label k=v]... [--bmc-address A] [--bmc-mac M] [--state S] [--no-netboot] [--json]
  machines set ID|MAC|HOSTNAME [same options as add; --netboot / --no-netboot] [--json]
  machines rm ID|MAC|HOSTNAME
  machines import FILE [--format csv|json]   all or nothing
  machines timeline ID|MAC|HOSTNAME [--limit N] [--json]   the last boot attempts, step by step
  machines reprovision|deprovision ID|MAC|HOSTNAME          netboot once more | boot from disk
  images list|show NAME [--json]         images the daemon serves, and why one is not servable
  images check [--config FILE]           verify every image (files, SHA-256, templates); exit 1 on a problem
  lans [--json]
  leases [--lan L] [--mac M] [--state S] [--json]
  events [--machine ID] [--lan L] [--type T] [--limit N] [--follow] [--json]

--config defaults to the embedded config/rackboot.yaml.`

class UsageError extends Error {}

const common = {
  config: { type: 'string' },
  api: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

function parse<T extends NonNullable<ParseArgsConfig['options']>> (args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

// Config, SQLite and their dependencies load only for the commands that use them:
// the API client commands start faster without them.
async function openStore (configFile: string | undefined) {
  const [{ loadConfig }, { Store }] = await Promise.all([import('../config/load.js'), import('../store/index.js')])
  const loaded = loadConfig(configFile)
  return new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
}

function client (values: { api?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv): ApiClient {
  const token = values.token ?? env.RACKBOOT_TOKEN
  return new ApiClient(values.api ?? env.RACKBOOT_API ?? 'http://127.0.0.1:9080', token === '' ? undefined : token)
}

const machineOptions = {
  hostname: { type: 'string' },
  mac: { type: 'string', multiple: true },
  lan: { type: 'string' },
  ip: { type: 'string' },
  image: { type: 'string' },
  role: { type: 'string' },
  label: { type: 'string', multiple: true },
  'bmc-address': { type: 'string' },
  'bmc-mac': { type: 'string' },
  state: { type: 'string' },
  netboot: { type: 'boolean' },
  'no-netboot': { type: 'boolean' },
  format: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  machine: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' }
} as const

type Values = ReturnType<typeof parse<typeof machineOptions>>['values']

/** `--ip ''` or `--image ''` clears the field. */
const orNull = (v: string | undefined) => v === undefined ? undefined : (v === '' ? null : v)

function machineBody (v: Values, forCreate: boolean): Record<string, unknown> {
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
  if (v['bmc-address'] !== undefined || v['bmc-mac'] !== undefined) {
    body.bmc = { ...(v['bmc-address'] === undefined ? {} : { address: orNull(v['bmc-address']) }), ...(v['bmc-mac'] === undefined ? {} : { mac: orNull(v['bmc-mac']) }) }
  }
  if (v['no-netboot'] === true) body.netboot = false
  else if (v.netboot === true) body.netboot = true
  if (forCreate) {
    for (const k of ['hostname', 'macs', 'lan'] as const) if (body[k] === undefined) throw new UsageError(`machines add needs --${k === 'macs' ? 'mac' : k}`)
  }
  return body
}

function machineRows (ms: Machine[]): string {
  return table(['id', 'hostname', 'lan', 'ipv4', 'macs', 'state', 'netboot', 'image', 'role'],
    ms.map(m => [m.id, m.hostname, m.lan, m.ipv4, m.macs.join(','), m.state, m.netboot ? 'yes' : 'no', m.image, m.role]))
}

function machineDetail (m: Machine): string {
  const labels = Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', ')
  return [
    ['id', m.id], ['hostname', m.hostname], ['lan', m.lan], ['ipv4', m.ipv4], ['macs', m.macs.join(', ')],
    ['state', m.state], ['netboot', m.netboot ? 'yes' : 'no'], ['image', m.image], ['role', m.role], ['labels', labels],
    ['bmc', [m.bmc.address, m.bmc.mac].filter(x => x !== null).join(' ')], ['arch', m.arch], ['uuid', m.uuid],
    ['first seen', m.firstSeen], ['last seen', m.lastSeen], ['created', m.createdAt], ['updated', m.updatedAt]
  ].map(([k, v]) => `${String(k).padEnd(11)} ${v === null || v === '' ? '-' : String(v)}`).join('\n')
}

function stepDetail (e: RbEvent): string {
  const d = e.detail
  const pick = ['kind', 'client', 'arch', 'ip', 'bootFile', 'file', 'image', 'bytes', 'from', 'to', 'outcome'].filter(k => d[k] !== undefined && d[k] !== null)
  return pick.map(k => `${k}=${String(d[k])}`).join(' ')
}

function eventLine (e: RbEvent): string {
  const detail = Object.entries(e.detail).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
  return `${e.ts}  #${e.id}  ${e.type.padEnd(18)} ${e.actor.padEnd(14)} ${e.machineId === null ? '' : `machine=${e.machineId} `}${e.lan === null ? '' : `lan=${e.lan} `}${e.mac === null ? '' : `mac=${e.mac} `}${detail}`.trimEnd()
}

/** ID, MAC or hostname → machine id. */
async function resolveMachine (api: ApiClient, ref: string | undefined): Promise<number> {
  if (ref === undefined) throw new UsageError('which machine? give an id, a MAC or a hostname')
  if (/^\d+$/.test(ref)) return Number(ref)
  const byMac = /^[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}/.test(ref) && /[:.-]|^[0-9a-fA-F]{12}$/.test(ref)
  const page = await api.request<{ items: Machine[] }>('GET', `/api/v1/machines?${byMac ? 'mac' : 'hostname'}=${encodeURIComponent(ref)}`)
  const m = page.items[0]
  if (m === undefined) throw new ApiClientError(404, 'RB_NOT_FOUND', `no machine with ${byMac ? 'MAC' : 'hostname'} ${ref}`)
  return m.id
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

export async function run (argv: string[], io: Io): Promise<number> {
  const [cmd, sub, ...rest] = argv
  try {
    switch (cmd) {
      case undefined: case 'help': case '--help': case '-h':
        io.out(USAGE); return cmd === undefined ? 2 : 0
      case 'check-config': {
        const { values } = parse(argv.slice(1), {})
        const { loadConfig, summarize } = await import('../config/load.js')
        io.out(summarize(loadConfig(values.config)))
        return 0
      }
      case 'token': return await tokenCommand(sub, rest, io)
      case 'machines': return await machinesCommand(sub, rest, io)
      case 'lans': {
        const { values } = parse(argv.slice(1), {})
        const res = await client(values, io.env).request<{ items: Array<Record<string, any>> }>('GET', '/api/v1/lans')
        if (values.json === true) { io.out(JSON.stringify(res.items, null, 2)); return 0 }
        io.out(table(['name', 'interface', 'subnet', 'address', 'pool', 'pool used', 'machines', 'leases'],
          res.items.map(l => [l.name, l.interface ?? 'relay', l.subnet, l.address, l.pool?.range, l.pool === null ? null : `${l.pool.leased}/${l.pool.size}`, l.machines, l.activeLeases])))
        return 0
      }
      case 'leases': {
        const { values } = parse(argv.slice(1), machineOptions)
        const q = new URLSearchParams()
        if (values.lan !== undefined) q.set('lan', values.lan)
        if (values.mac?.[0] !== undefined) q.set('mac', values.mac[0])
        if (values.state !== undefined) q.set('state', values.state)
        const items = await listAll<Lease>(client(values, io.env), `/api/v1/leases?${q.toString()}`)
        if (values.json === true) { io.out(JSON.stringify(items, null, 2)); return 0 }
        io.out(table(['lan', 'ipv4', 'mac', 'state', 'machine', 'hostname', 'expires'], items.map(l => [l.lan, l.ipv4, l.mac, l.state, l.machineId, l.hostname, l.expiresAt])))
        return 0
      }
      case 'events': return await eventsCommand(argv.slice(1), io)
      case 'images': return await imagesCommand(sub, rest, io)
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`)
    }
  } catch (err) {
    return report(err, io)
  }
}

function report (err: unknown, io: Io): number {
  if (err instanceof UsageError) { io.err(`rackboot: ${err.message}\n\n${USAGE}`); return 2 }
  if (err instanceof ConfigError) { io.err(err.message); return 1 }
  if (err instanceof RackbootError) { io.err(`rackboot: ${err.code}: ${err.message}`); return 1 }
  if (err instanceof ApiClientError) {
    const lines = [`rackboot: ${err.code}: ${err.message}`]
    for (const d of (err.details ?? []) as Array<{ message?: string }>) if (d.message !== undefined) lines.push(`  ${d.message}`)
    io.err(lines.join('\n'))
    return 1
  }
  io.err(`rackboot: ${(err as Error).stack ?? String(err)}`)
  return 1
}

async function tokenCommand (sub: string | undefined, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { name: { type: 'string' }, 'read-only': { type: 'boolean' } })
  const store = await openStore(values.config)
  try {
    switch (sub) {
      case 'create': {
        if (values.name === undefined) throw new UsageError('token create needs --name NAME')
        const { token } = store.write(() => {
          const created = store.tokens.create(values.name as string, values['read-only'] === true)
          store.events.append({ actor: 'cli', type: 'token.created', detail: { name: created.info.name, readOnly: created.info.readOnly } })
          return created
        })
        io.out(token)
        return 0
      }
      case 'list': {
        const tokens: ApiToken[] = store.tokens.list()
        if (values.json === true) { io.out(JSON.stringify(tokens, null, 2)); return 0 }
        io.out(table(['name', 'access', 'created', 'last used', 'revoked'], tokens.map(t => [t.name, t.readOnly ? 'read-only' : 'read-write', t.createdAt, t.lastUsedAt, t.revokedAt])))
        return 0
      }
      case 'revoke': {
        const name = positionals[0] ?? values.name
        if (name === undefined) throw new UsageError('token revoke needs a token name')
        const ok = store.write(() => {
          const done = store.tokens.revoke(name)
          if (done) store.events.append({ actor: 'cli', type: 'token.revoked', detail: { name } })
          return done
        })
        if (!ok) { io.err(`rackboot: no active token named ${name}`); return 1 }
        io.out(`revoked ${name}`)
        return 0
      }
      default: throw new UsageError(`token: expected create, list or revoke, not ${JSON.stringify(sub ?? '')}`)
    }
  } finally {
    store.close()
  }
}

async function machinesCommand (sub: string | undefined, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, machineOptions)
  const api = client(values, io.env)
  const json = values.json === true
  const print = (m: Machine) => io.out(json ? JSON.stringify(m, null, 2) : machineDetail(m))
  switch (sub) {
    case 'list': case 'ls': {
      const q = new URLSearchParams()
      if (values.lan !== undefined) q.set('lan', values.lan)
      if (values.state !== undefined) q.set('state', values.state)
      for (const l of values.label ?? []) q.append('label', l)
      const items = await listAll<Machine>(api, `/api/v1/machines?${q.toString()}`)
      io.out(json ? JSON.stringify(items, null, 2) : machineRows(items))
      return 0
    }
    case 'show': print(await api.request<Machine>('GET', `/api/v1/machines/${await resolveMachine(api, positionals[0])}`)); return 0
    case 'add': print(await api.request<Machine>('POST', '/api/v1/machines', machineBody(values, true))); return 0
    case 'set': {
      const id = await resolveMachine(api, positionals[0])
      const body = machineBody(values, false)
      if (Object.keys(body).length === 0) throw new UsageError('machines set: nothing to change')
      print(await api.request<Machine>('PATCH', `/api/v1/machines/${id}`, body))
      return 0
    }
    case 'rm': case 'delete': {
      const id = await resolveMachine(api, positionals[0])
      await api.request('DELETE', `/api/v1/machines/${id}`)
      if (!json) io.out(`removed machine ${id}`)
      return 0
    }
    case 'import': {
      const file = positionals[0]
      if (file === undefined) throw new UsageError('machines import needs a FILE (CSV or JSON)')
      const format = values.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'json')
      if (format !== 'csv' && format !== 'json') throw new UsageError('--format must be csv or json')
      const text = readFileSync(file === '-' ? 0 : file, 'utf8')
      const res = await api.request<{ created: number; machines: Machine[] }>('POST', '/api/v1/machines:import', format === 'csv' ? text : JSON.parse(text), format === 'csv' ? 'text/csv' : 'application/json')
      io.out(json ? JSON.stringify(res, null, 2) : `imported ${res.created} machines`)
      return 0
    }
    case 'timeline': {
      const id = await resolveMachine(api, positionals[0])
      const res = await api.request<{ attempts: Array<{ startedAt: string; endedAt: string; outcome: string; steps: RbEvent[] }> }>('GET', `/api/v1/machines/${id}/timeline?limit=${values.limit ?? '5'}`)
      if (json) { io.out(JSON.stringify(res, null, 2)); return 0 }
      if (res.attempts.length === 0) { io.out(`machine ${id} has no boot attempts yet`); return 0 }
      for (const a of res.attempts) {
        io.out(`boot attempt ${a.startedAt} → ${a.endedAt}: ${a.outcome}`)
        for (const e of a.steps) io.out(`  ${e.ts.slice(11, 23)}  ${e.type.padEnd(16)} ${stepDetail(e)}`)
      }
      return 0
    }
    case 'reprovision': case 'deprovision': {
      const id = await resolveMachine(api, positionals[0])
      print(await api.request<Machine>('POST', `/api/v1/machines/${id}/${sub}`, {}))
      return 0
    }
    default: throw new UsageError(`machines: expected list, show, add, set, rm, import, timeline, reprovision or deprovision, not ${JSON.stringify(sub ?? '')}`)
  }
}

async function eventsCommand (args: string[], io: Io): Promise<number> {
  const { values } = parse(args, machineOptions)
  const api = client(values, io.env)
  const q = new URLSearchParams()
  if (values.machine !== undefined) q.set('machine', values.machine)
  if (values.lan !== undefined) q.set('lan', values.lan)
  if (values.type !== undefined) q.set('type', values.type)
  const show = (e: RbEvent) => io.out(values.json === true ? JSON.stringify(e) : eventLine(e))
  const page = await api.request<{ items: RbEvent[] }>('GET', `/api/v1/events?${q.toString()}&limit=${values.limit ?? (values.follow === true ? '10' : '50')}`)
  const backlog = page.items.reverse()
  for (const e of backlog) show(e)
  if (values.follow !== true) return 0
  const after = backlog.at(-1)?.id ?? 0
  q.set('after', String(after))
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    await api.stream(`/api/v1/events/stream?${q.toString()}`, e => show(e as RbEvent), abort.signal)
  } catch (err) {
    if (!abort.signal.aborted) throw err
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  return 0
}

interface ImageView { name: string; ok: boolean; problems: string[]; arch: string; description: string; kernel: { name: string; size: number; sha256: string } | null; initrds: Array<{ name: string; size: number; sha256: string }> }

async function imagesCommand (sub: string | undefined, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {})
  const show = (i: ImageView) => [
    `${i.name}: ${i.ok ? 'ok' : 'NOT SERVABLE'} (${i.arch})${i.description === '' ? '' : ` — ${i.description}`}`,
    ...[i.kernel, ...i.initrds].filter(f => f !== null).map(f => `  ${f.name}  ${f.size} bytes  sha256 ${f.sha256}`),
    ...i.problems.map(p => `  problem: ${p}`)
  ].join('\n')
  switch (sub) {
    case 'check': {
      const [{ loadConfig }, { loadImages }, { describeImage }] = await Promise.all([import('../config/load.js'), import('../boot/images.js'), import('../api/routes/images.js')])
      const cfg = loadConfig(values.config)
      const images = [...(await loadImages(cfg.config.boot.imagesDir)).values()].map(describeImage)
      if (values.json === true) io.out(JSON.stringify(images, null, 2))
      else io.out(images.length === 0 ? `no images in ${cfg.config.boot.imagesDir}` : images.map(show).join('\n'))
      return images.every(i => i.ok) ? 0 : 1
    }
    case 'list': case 'ls': {
      const res = await client(values, io.env).request<{ items: ImageView[] }>('GET', '/api/v1/images')
      if (values.json === true) { io.out(JSON.stringify(res.items, null, 2)); return 0 }
      io.out(table(['name', 'status', 'arch', 'kernel', 'initrds', 'problems'], res.items.map(i => [i.name, i.ok ? 'ok' : 'broken', i.arch, i.kernel?.name, i.initrds.map(f => f.name).join(','), i.problems.length])))
      return 0
    }
    case 'show': {
      const name = positionals[0]
      if (name === undefined) throw new UsageError('images show needs an image name')
      const i = await client(values, io.env).request<ImageView>('GET', `/api/v1/images/${encodeURIComponent(name)}`)
      io.out(values.json === true ? JSON.stringify(i, null, 2) : show(i))
      return 0
    }
    default: throw new UsageError(`images: expected list, show or check, not ${JSON.stringify(sub ?? '')}`)
  }
}
