// Redfish over HTTPS (DMTF DSP0266): a session (`SessionService/Sessions`, `X-Auth-Token`)
// with Basic auth as the fallback, the system found by following `@odata.id` links from the
// service root (never an assumed path), `ComputerSystem.Reset` with a ResetType the system
// advertises, the boot override PATCHed on `Boot`, and a logout at the end. TLS is verified by
// default: against the system's CAs, a CA file, or a pinned certificate fingerprint (BMCs ship
// self-signed certificates); verification off only when configured so.
import { request, Agent, type RequestOptions } from 'node:https'
import type { Duplex } from 'node:stream'
import { readFileSync } from 'node:fs'
import { createHash, X509Certificate } from 'node:crypto'
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls'
import { BmcError, type BmcDriver, type BootDevice, type BootOptions, type PowerAction, type PowerState } from './driver.js'

export interface RedfishTarget {
  address: string
  port?: number
  username: string
  password: string
  /** Verify the BMC's certificate (default true). */
  tlsVerify?: boolean
  /** PEM file of the CA that signed the BMC's certificate. */
  caFile?: string | null
  /** SHA-256 fingerprint of the BMC's certificate (hex, colons allowed): pinned instead of a CA. */
  fingerprint?: string | null
  /** The system's Id when the service has several. */
  systemId?: string | null
  timeoutMs?: number
}

/** ResetTypes to use for each action, in order of preference (the first one the system advertises). */
const RESET_TYPES: Record<PowerAction, string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff'],
  soft: ['GracefulShutdown'],
  reset: ['ForceRestart', 'GracefulRestart'],
  cycle: ['PowerCycle', 'ForceRestart']
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: any }

const normalFingerprint = (f: string) => f.replace(/:/g, '').toLowerCase()

export class RedfishDriver implements BmcDriver {
  readonly driver = 'redfish' as const
  private readonly agent: Agent
  private token: string | null = null
  private sessionUri: string | null = null
  private basic = false
  private systemUri: string | null = null

  constructor (private readonly t: RedfishTarget) {
    const verify = t.tlsVerify !== false
    const pin = t.fingerprint == null ? null : normalFingerprint(t.fingerprint)
    const options = {
      keepAlive: true,
      maxSockets: 1,
      // A pinned fingerprint replaces the CA check; otherwise the CA file or the system's CAs.
      rejectUnauthorized: verify && pin === null,
      ...(t.caFile == null ? {} : { ca: readFileSync(t.caFile) })
    }
    this.agent = pin === null ? new Agent(options) : new PinnedAgent(options, pin)
  }

  private base (): string { return `https://${this.t.address}:${this.t.port ?? 443}` }

  private async http (method: string, path: string, body?: unknown, auth: 'session' | 'basic' | 'none' = this.basic ? 'basic' : 'session'): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json', 'odata-version': '4.0' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (auth === 'session' && this.token !== null) headers['x-auth-token'] = this.token
    if (auth === 'basic') headers.authorization = 'Basic ' + Buffer.from(`${this.t.username}:${this.t.password}`).toString('base64')
    return await new Promise((resolve, reject) => {
      const req = request(new URL(path, this.base()), { method, headers, agent: this.agent, timeout: this.t.timeoutMs ?? 10_000 }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = null
          try { parsed = text === '' ? null : JSON.parse(text) } catch { parsed = text }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
        })
      })
      req.on('timeout', () => { req.destroy(new BmcError('unreachable', 'no answer from the BMC within the timeout')) })
      req.on('error', err => { reject(classifyNet(err)) })
      if (body !== undefined) req.write(JSON.stringify(body))
      req.end()
    })
  }

  /** A request with the session, logging in first (or again, when the session expired). */
  private async call (method: string, path: string, body?: unknown): Promise<Reply> {
    if (this.token === null && !this.basic) await this.login()
    let r = await this.http(method, path, body)
    if (r.status === 401 && !this.basic) {
      this.token = null
      await this.login()
      r = await this.http(method, path, body)
    }
    if (r.status === 401) throw new BmcError('auth', 'the BMC refused the user name or password', messageOf(r))
    return r
  }

  private async login (): Promise<void> {
    const root = await this.http('GET', '/redfish/v1', undefined, 'none')
    if (root.status !== 200) throw failure(root, 'the Redfish service root')
    const sessions: string | undefined = root.body?.Links?.Sessions?.['@odata.id']
    if (sessions !== undefined) {
      const r = await this.http('POST', sessions, { UserName: this.t.username, Password: this.t.password }, 'none')
      const token = r.headers['x-auth-token']
      if (r.status === 201 || (r.status === 200 && token !== undefined)) {
        this.token = String(token)
        this.sessionUri = typeof r.headers.location === 'string' ? r.headers.location : (r.body?.['@odata.id'] as string | undefined) ?? null
        return
      }
      if (r.status === 401 || r.status === 403) throw new BmcError('auth', 'the BMC refused the user name or password', messageOf(r))
    }
    // No session service (or it refused to make one for another reason): HTTP Basic on each request.
    this.basic = true
  }

  /** The ComputerSystem: from the service root's Systems collection, by systemId when there are several. */
  private async system (): Promise<{ uri: string; body: any }> {
    if (this.systemUri !== null) {
      const r = await this.call('GET', this.systemUri)
      if (r.status !== 200) throw failure(r, 'the system')
      return { uri: this.systemUri, body: r.body }
    }
    const root = await this.call('GET', '/redfish/v1')
    const systems: string | undefined = root.body?.Systems?.['@odata.id']
    if (systems === undefined) throw new BmcError('unsupported', 'the Redfish service lists no Systems')
    const col = await this.call('GET', systems)
    const members = ((col.body?.Members ?? []) as Array<{ '@odata.id': string }>).map(m => m['@odata.id'])
    let uri: string | undefined
    if (this.t.systemId != null) uri = members.find(m => m.replace(/\/$/, '').endsWith(`/${this.t.systemId as string}`))
    else if (members.length === 1) uri = members[0]
    else throw new BmcError('unsupported', `the Redfish service has ${members.length} systems (${members.join(', ')}); set bmc.systemId`)
    if (uri === undefined) throw new BmcError('unsupported', `no system ${this.t.systemId ?? ''} in ${members.join(', ')}`)
    this.systemUri = uri
    const r = await this.call('GET', uri)
    if (r.status !== 200) throw failure(r, 'the system')
    return { uri, body: r.body }
  }

  async status (): Promise<PowerState> {
    const { body } = await this.system()
    const s = String(body?.PowerState ?? '')
    if (s === 'On' || s === 'PoweringOff') return 'on'
    if (s === 'Off' || s === 'PoweringOn') return 'off'
    throw new BmcError('failed', `the system reports PowerState ${JSON.stringify(s)}`)
  }

  async power (action: PowerAction): Promise<void> {
    const { body } = await this.system()
    const reset = body?.Actions?.['#ComputerSystem.Reset']
    if (reset?.target === undefined) throw new BmcError('unsupported', 'the system has no ComputerSystem.Reset action')
    const allowed: string[] | undefined = reset['ResetType@Redfish.AllowableValues']
    const type = allowed === undefined ? RESET_TYPES[action][0] : RESET_TYPES[action].find(x => allowed.includes(x))
    if (type === undefined) throw new BmcError('unsupported', `the system advertises no ResetType for ${action} (it has ${(allowed ?? []).join(', ')})`)
    const r = await this.call('POST', reset.target as string, { ResetType: type })
    if (r.status >= 300) throw failure(r, `ComputerSystem.Reset ${type}`)
  }

  async bootDevice (device: BootDevice, o: BootOptions): Promise<void> {
    const { uri, body } = await this.system()
    const target = device === 'pxe' ? 'Pxe' : 'Hdd'
    const allowed: string[] | undefined = body?.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues']
    if (allowed !== undefined && !allowed.includes(target)) throw new BmcError('unsupported', `the system does not offer boot override ${target} (it has ${allowed.join(', ')})`)
    const r = await this.call('PATCH', uri, { Boot: { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: o.once ? 'Once' : 'Continuous', BootSourceOverrideMode: o.mode === 'uefi' ? 'UEFI' : 'Legacy' } })
    if (r.status >= 300) throw failure(r, 'the boot override')
  }

  /** Logs out (deletes the session) and closes the connection. */
  async close (): Promise<void> {
    if (this.token !== null && this.sessionUri !== null) await this.http('DELETE', this.sessionUri).catch(() => undefined)
    this.token = null
    this.agent.destroy()
  }
}

/**
 * An agent whose connections are handed to a request only once the server's certificate has
 * the pinned SHA-256 fingerprint: nothing (not the login's password) is written to a server
 * that has not proven to be the BMC.
 */
class PinnedAgent extends Agent {
  constructor (options: ConstructorParameters<typeof Agent>[0], private readonly pin: string) { super(options) }
  override createConnection (options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const cb = callback ?? (() => undefined)
    const socket: TLSSocket = connect({ ...(options as ConnectionOptions), rejectUnauthorized: false })
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate() as PeerCertificate
      const got = cert.raw === undefined ? '' : createHash('sha256').update(cert.raw).digest('hex')
      if (got === this.pin) { cb(null, socket); return }
      socket.destroy()
      cb(new BmcError('auth', 'the BMC\'s TLS certificate does not match the pinned fingerprint (bmc.fingerprint)', `got sha256 ${got}`), socket)
    })
    socket.once('error', err => { cb(err, socket) })
    return undefined
  }
}

function messageOf (r: Reply): string {
  const e = r.body?.error
  const info = (e?.['@Message.ExtendedInfo'] ?? []) as Array<{ MessageId?: string; Message?: string }>
  return [e?.message, ...info.map(i => [i.MessageId, i.Message].filter(Boolean).join(': '))].filter(Boolean).join('; ') || `HTTP ${r.status}`
}

function failure (r: Reply, what: string): BmcError {
  const m = messageOf(r)
  if (r.status === 401 || r.status === 403) return new BmcError('auth', 'the BMC refused the user name or password', m)
  if (r.status === 503) return new BmcError('busy', 'the BMC is busy', m)
  if (r.status === 400 && /NotSupported|NotInList|ValueNotInList|PropertyValueNotInList|ActionParameterNotSupported/i.test(m)) return new BmcError('unsupported', `the BMC does not support ${what}`, m)
  if (r.status === 404 || r.status === 405 || r.status === 501) return new BmcError('unsupported', `the BMC does not support ${what}`, m)
  return new BmcError('failed', `${what} failed (HTTP ${r.status})`, m)
}

function classifyNet (err: Error): BmcError {
  if (err instanceof BmcError) return err
  const code = (err as NodeJS.ErrnoException).code ?? ''
  if (['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EAI_AGAIN', 'ENOTFOUND'].includes(code)) return new BmcError('unreachable', 'no answer from the BMC', `${code} ${err.message}`)
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return new BmcError('auth', 'the BMC\'s TLS certificate is not trusted (give bmc.caFile or bmc.fingerprint, or turn bmc.tlsVerify off)', `${code} ${err.message}`)
  return new BmcError('failed', 'the HTTPS request failed', `${code} ${err.message}`)
}

/** The SHA-256 fingerprint of a PEM certificate, as bmc.fingerprint takes it. */
export function certFingerprint (pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')
}
