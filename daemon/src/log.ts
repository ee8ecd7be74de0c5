// One pino root logger for the process; services take children ({ svc, lan, iface }).
import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

/** Paths that may carry secrets: never written to the log. */
export const REDACT_PATHS = [
  'token', '*.token', 'secret', '*.secret', 'password', '*.password',
  'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'headers.authorization', 'joinToken', '*.joinToken', 'bootToken', '*.bootToken'
]

export interface LogOptions { level: string; format: 'auto' | 'json' | 'pretty'; destination?: pino.DestinationStream }

export function createLogger (opts: LogOptions): Logger {
  const base: pino.LoggerOptions = {
    level: opts.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime
  }
  if (opts.destination !== undefined) return pino(base, opts.destination)
  const usePretty = opts.format === 'pretty' || (opts.format === 'auto' && process.stdout.isTTY === true)
  if (usePretty) return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }))
  return pino(base, pino.destination({ dest: 1, sync: false }))
}

/**
 * Holds back repeated log lines: `take(key)` lets `perWindow` lines a key through per window
 * (the caller's periodic summary ends a window with `drain()`), and counts the rest, so that a
 * flood (random MACs, a looping client) shows as one count instead of a line per packet.
 */
export class LogBudget {
  private readonly counts = new Map<string, { logged: number; held: number }>()
  constructor (private readonly perWindow: number) {}

  take (key: string): boolean {
    let c = this.counts.get(key)
    if (c === undefined) { c = { logged: 0, held: 0 }; this.counts.set(key, c) }
    if (c.logged < this.perWindow) { c.logged++; return true }
    c.held++
    return false
  }

  /** Lines held back per key since the last drain (keys with none are left out); starts a new window. */
  drain (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [k, c] of this.counts) if (c.held > 0) out[k] = c.held
    this.counts.clear()
    return out
  }
}
