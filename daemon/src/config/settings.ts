// The config's values in the units the code uses, parsed once when the file is loaded:
// durations in milliseconds, listen addresses as host and port. Services read these and
// never parse or default a config string themselves.
import type { Config } from './schema.js'

/** A listen address: `host:port` as written, and its parts (`[v6]` unbracketed, localhost as 127.0.0.1). */
export interface Endpoint { readonly host: string; readonly port: number; readonly text: string }

export interface Settings {
  readonly api: { readonly listen: Endpoint }
  readonly boot: {
    readonly http: Endpoint
    readonly tftp: Endpoint
    readonly tokenTtlMs: number
    readonly tftpDeadlineMs: number
  }
  readonly dhcp: { readonly offerHoldMs: number; readonly declineQuarantineMs: number }
  readonly clusters: { readonly bootstrapTokenTtlMs: number; readonly joinMarginMs: number; readonly bootstrapCertTtlMs: number; readonly kubeconfigTtlMs: number }
  readonly bmc: { readonly ipmitool: string; readonly timeoutS: number; readonly retry: { readonly attempts: number; readonly backoffMs: number; readonly deadlineMs: number }; readonly pollIntervalMs: number }
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds; null when malformed. */
export function parseDuration (s: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(s)
  if (m === null) return null
  return Number(m[1]) * (UNIT[m[2] === '' ? 's' : m[2] as string] as number)
}

/** `host:port` → its parts; null when it has no port or the port is not 0-65535. */
export function parseEndpoint (text: string): Endpoint | null {
  const i = text.lastIndexOf(':')
  if (i <= 0 || !/^\d{1,5}$/.test(text.slice(i + 1))) return null
  const port = Number(text.slice(i + 1))
  if (port > 65535) return null
  const host = text.slice(0, i).replace(/^\[|\]$/g, '').replace(/^localhost$/, '127.0.0.1')
  return { host, port, text }
}

/** For a config that passed validation: every value below was checked by the schema and load.ts. */
export function settingsOf (config: Config): Settings {
  const endpoint = (key: string, text: string): Endpoint => {
    const e = parseEndpoint(text)
    if (e === null) throw new Error(`${key} ${text} was not validated`)
    return e
  }
  const ms = (key: string, text: string): number => {
    const s = parseDuration(text)
    if (s === null) throw new Error(`${key} ${text} was not validated`)
    return s * 1000
  }
  return {
    api: { listen: endpoint('api.listen', config.api.listen) },
    boot: {
      http: endpoint('boot.http', config.boot.http),
      tftp: endpoint('boot.tftp', config.boot.tftp),
      tokenTtlMs: ms('boot.tokenTtl', config.boot.tokenTtl),
      tftpDeadlineMs: ms('boot.tftpLimits.deadline', config.boot.tftpLimits.deadline)
    },
    dhcp: {
      offerHoldMs: ms('dhcp.offerHold', config.dhcp.offerHold),
      declineQuarantineMs: ms('dhcp.declineQuarantine', config.dhcp.declineQuarantine)
    },
    clusters: {
      bootstrapTokenTtlMs: ms('clusters.bootstrapTokenTtl', config.clusters.bootstrapTokenTtl),
      joinMarginMs: ms('clusters.joinMargin', config.clusters.joinMargin),
      bootstrapCertTtlMs: ms('clusters.bootstrapCertTtl', config.clusters.bootstrapCertTtl),
      kubeconfigTtlMs: ms('clusters.kubeconfigTtl', config.clusters.kubeconfigTtl)
    },
    bmc: {
      ipmitool: config.bmc.ipmitool,
      timeoutS: Math.max(1, Math.round(ms('bmc.timeout', config.bmc.timeout) / 1000)),
      retry: { attempts: config.bmc.attempts, backoffMs: 1000, deadlineMs: ms('bmc.deadline', config.bmc.deadline) },
      pollIntervalMs: ms('bmc.pollInterval', config.bmc.pollInterval)
    }
  }
}
