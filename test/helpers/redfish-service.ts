// A small Redfish service for the tests (no Redfish emulator is installable here), shaped by
// the DMTF schemas for the calls rackboot makes: the service root (`/redfish/v1`, with
// `Links.Sessions`), `SessionService/Sessions` (X-Auth-Token, Location, DELETE to log out),
// HTTP Basic as well, the Systems collection, one ComputerSystem (PowerState, Boot with its
// AllowableValues, Actions #ComputerSystem.Reset with ResetType@Redfish.AllowableValues) and
// PATCH of Boot. Errors are Redfish error bodies (error.@Message.ExtendedInfo with Base
// registry MessageIds). Its paths are not the usual ones (a Dell-like system id and action
// target) so that a client must follow @odata.id links. Checked with Debian's redfishtool
// before rackboot's driver is tested on it (test/bmc/redfish.ts).
import { createServer, type Server } from 'node:https'
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'

export interface RedfishService {
  url: string
  port: number
  cert: string
  calls: string[]
  state: { power: 'On' | 'Off'; boot: { BootSourceOverrideTarget: string; BootSourceOverrideEnabled: string; BootSourceOverrideMode: string }; resets: string[] }
  /** Ends every session now (the next request with its token gets 401). */
  expireSessions: () => void
  sessions: () => number
  close: () => Promise<void>
}

export interface RedfishOptions {
  user: string
  password: string
  systemId?: string
  resetTypes?: string[]
  /** ResetTypes it advertises but refuses anyway (as some BMCs do). */
  refuse?: string[]
  /** Self-signed certificate and key are made with openssl in `dir`. */
  dir: string
}

const err = (status: number, id: string, message: string) => ({ status, body: { error: { code: `Base.1.0.${id}`, message, '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_1_1.Message', MessageId: `Base.1.0.${id}`, Message: message, Severity: 'Warning' }] } } })

export async function redfishService (o: RedfishOptions): Promise<RedfishService> {
  const key = join(o.dir, 'bmc.key')
  const crt = join(o.dir, 'bmc.crt')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=bmc.test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' })
  const systemId = o.systemId ?? 'System.Embedded.1'
  const sys = `/redfish/v1/Systems/${systemId}`
  const resetTarget = `${sys}/Actions/ComputerSystem.Reset`
  const resetTypes = o.resetTypes ?? ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'GracefulRestart', 'PowerCycle', 'Nmi']
  const state: RedfishService['state'] = { power: 'Off', boot: { BootSourceOverrideTarget: 'None', BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideMode: 'UEFI' }, resets: [] }
  const sessions = new Map<string, string>() // token -> session id
  const calls: string[] = []
  const authorized = (h: Record<string, string | string[] | undefined>): boolean => {
    const token = h['x-auth-token']
    if (typeof token === 'string') return sessions.has(token)
    const basic = /^Basic (.+)$/.exec(String(h.authorization ?? ''))
    return basic !== null && Buffer.from(basic[1] as string, 'base64').toString() === `${o.user}:${o.password}`
  }
  const handle = (method: string, path: string, h: Record<string, string | string[] | undefined>, body: any): { status: number; body?: unknown; headers?: Record<string, string> } => {
    if (method === 'GET' && (path === '/redfish' || path === '/redfish/')) return { status: 200, body: { v1: '/redfish/v1/' } }
    if (method === 'GET' && (path === '/redfish/v1' || path === '/redfish/v1/')) {
      return { status: 200, body: { '@odata.id': '/redfish/v1', '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', Id: 'RootService', Name: 'Root Service', RedfishVersion: '1.6.0', Systems: { '@odata.id': '/redfish/v1/Systems' }, SessionService: { '@odata.id': '/redfish/v1/SessionService' }, Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } } } }
    }
    if (method === 'POST' && path === '/redfish/v1/SessionService/Sessions') {
      if (body?.UserName !== o.user || body?.Password !== o.password) return err(401, 'NoValidSession', 'Invalid user name or password')
      const token = randomBytes(16).toString('hex')
      const id = String(sessions.size + 1) + randomBytes(2).toString('hex')
      sessions.set(token, id)
      return { status: 201, headers: { 'x-auth-token': token, location: `/redfish/v1/SessionService/Sessions/${id}` }, body: { '@odata.id': `/redfish/v1/SessionService/Sessions/${id}`, '@odata.type': '#Session.v1_1_0.Session', Id: id, UserName: o.user } }
    }
    if (!authorized(h)) return err(401, 'NoValidSession', 'There is no valid session established with the implementation')
    const m = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path)
    if (method === 'DELETE' && m !== null) {
      for (const [t, id] of sessions) if (id === m[1]) { sessions.delete(t); return { status: 204 } }
      return err(404, 'ResourceMissingAtURI', 'no such session')
    }
    if (method === 'GET' && path === '/redfish/v1/Systems') return { status: 200, body: { '@odata.id': '/redfish/v1/Systems', '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection', Name: 'Computer System Collection', 'Members@odata.count': 1, Members: [{ '@odata.id': sys }] } }
    if (method === 'GET' && path === sys) {
      return {
        status: 200,
        body: {
          '@odata.id': sys, '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem', Id: systemId, Name: 'System', PowerState: state.power,
          Boot: { ...state.boot, 'BootSourceOverrideTarget@Redfish.AllowableValues': ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup'] },
          Actions: { '#ComputerSystem.Reset': { target: resetTarget, 'ResetType@Redfish.AllowableValues': resetTypes } }
        }
      }
    }
    if (method === 'PATCH' && path === sys) {
      const b = body?.Boot
      if (b === undefined || typeof b !== 'object') return err(400, 'PropertyMissing', 'Boot is required')
      if (b.BootSourceOverrideTarget !== undefined && !['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup'].includes(b.BootSourceOverrideTarget)) return err(400, 'PropertyValueNotInList', `BootSourceOverrideTarget ${String(b.BootSourceOverrideTarget)} is not allowed`)
      state.boot = { ...state.boot, ...b }
      return { status: 204 }
    }
    if (method === 'POST' && path === resetTarget) {
      const type = body?.ResetType
      if (!resetTypes.includes(type) || (o.refuse ?? []).includes(type)) return err(400, 'ActionParameterNotSupported', `ResetType ${String(type)} is not supported by this system`)
      state.resets.push(type)
      if (type === 'On' || type === 'ForceOn') state.power = 'On'
      if (type === 'ForceOff' || type === 'GracefulShutdown') state.power = 'Off'
      if (type === 'PowerCycle') state.power = 'On'
      return { status: 204 }
    }
    return err(404, 'ResourceMissingAtURI', `no resource at ${path}`)
  }
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(crt) }, (req, res) => {
    let raw = ''
    req.on('data', c => { raw += String(c) })
    req.on('end', () => {
      let body: unknown = null
      try { body = raw === '' ? null : JSON.parse(raw) } catch { body = null }
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      calls.push(`${req.method ?? ''} ${path}${req.headers['x-auth-token'] !== undefined ? ' [token]' : req.headers.authorization !== undefined ? ' [basic]' : ''}`)
      const r = handle(req.method ?? 'GET', path, req.headers, body)
      res.writeHead(r.status, { 'content-type': 'application/json', 'odata-version': '4.0', ...(r.headers ?? {}) })
      res.end(r.body === undefined ? '' : JSON.stringify(r.body))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    cert: readFileSync(crt, 'utf8'),
    calls,
    state,
    expireSessions: () => { sessions.clear() },
    sessions: () => sessions.size,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}
