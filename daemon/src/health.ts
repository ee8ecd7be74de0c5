// Which services are serving: each service reports here; /healthz and the
// rackboot_service_up metric read it. A configured service that cannot serve (a port it may
// not bind, an interface that is missing) makes the daemon "degraded", not silently "ok".
import type { Metrics } from './metrics.js'

export interface ServiceState { ok: boolean; since: number; problem?: string }

export class Health {
  private readonly states = new Map<string, ServiceState>()

  constructor (metrics?: Metrics, private readonly now: () => number = Date.now) {
    metrics?.gauge('rackboot_service_up', 'Whether each configured service is serving (1) or not (0): api, tftp, boot-http, dhcp/<lan>.', ['service'], g => {
      for (const [service, s] of this.states) g.set({ service }, s.ok ? 1 : 0)
    })
  }

  /** The service serves. Returns true when that is news (it was not serving, or unknown). */
  up (service: string): boolean {
    const was = this.states.get(service)
    if (was?.ok === true) return false
    this.states.set(service, { ok: true, since: this.now() })
    return true
  }

  /** The service should serve and does not; `problem` says why and what fixes it. Returns true when the problem is new. */
  down (service: string, problem: string): boolean {
    const was = this.states.get(service)
    if (was !== undefined && !was.ok && was.problem === problem) return false
    this.states.set(service, { ok: false, since: this.now(), problem })
    return true
  }

  /** The service is not configured (any more): it is neither up nor down. */
  forget (service: string): void {
    this.states.delete(service)
  }

  snapshot (): Record<string, ServiceState> {
    return Object.fromEntries([...this.states].sort(([a], [b]) => a.localeCompare(b)))
  }

  get degraded (): boolean {
    for (const s of this.states.values()) if (!s.ok) return true
    return false
  }
}

/**
 * One sentence for an error opening a socket or a directory: the cause and the fix, instead
 * of a stack trace. `what` names the setting, e.g. "boot.tftp 0.0.0.0:69".
 */
export function explainSystemError (err: unknown, what: string, kind: 'socket' | 'path' = 'socket'): string {
  const e = err as { code?: string; message?: string }
  const port = kind === 'socket' ? /:(\d+)\)?$/.exec(what)?.[1] : undefined
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      if (port !== undefined) {
        return Number(port) < 1024
          ? `${what}: permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (the systemd unit config/rackboot.service grants it)`
          : `${what}: permission denied`
      }
      return kind === 'path' ? `${what}: permission denied` : `${what}: permission denied: run rackboot as a user that may use it (the systemd unit grants CAP_NET_BIND_SERVICE and CAP_NET_RAW)`
    case 'EADDRINUSE':
      return `${what}: the address is already in use by another program (another rackboot, or another server on that port: \`ss -lnup 'sport = :${port ?? ''}'\` and \`ss -lntp 'sport = :${port ?? ''}'\` show which)`
    case 'EADDRNOTAVAIL':
      return `${what}: no interface of this host has that address (use this host's address on the LAN, or 0.0.0.0)`
    case 'ENODEV':
      return `${what}: no such network interface`
    case 'EROFS':
      return `${what}: the file system is read-only`
    case 'ENOENT':
      return `${what}: does not exist`
    default:
      return `${what}: ${e.message ?? String(err)}`
  }
}
