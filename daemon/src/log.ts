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
