#!/usr/bin/env node
// The rackboot process: argv → command; `serve` loads config, starts, and owns signals.
// The only file that touches process signals and exit codes.
import { ConfigError, formatProblem } from './config/errors.js'
import { run } from './cli/program.js'

const io = { out: (s: string) => { process.stdout.write(s + '\n') }, err: (s: string) => { process.stderr.write(s + '\n') }, env: process.env }

async function serve (values: { config?: string }): Promise<number> {
  // Loaded here, not at the top: the client commands need none of the daemon.
  const [{ loadConfig }, { createLogger }, { start, StartError }] = await Promise.all([import('./config/load.js'), import('./log.js'), import('./start.js')])
  let loaded
  try {
    loaded = loadConfig(values.config)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    io.err(err.message)
    io.err(`rackboot: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in the config; not starting`)
    return 1
  }
  const log = createLogger(loaded.config.log)
  log.info({ file: loaded.file }, 'config loaded')
  let daemon
  try {
    daemon = await start({ loaded, log })
  } catch (err) {
    if (err instanceof StartError) {
      // An operator problem: one sentence, no stack.
      log.fatal({ reason: err.code }, `cannot start: ${err.message}`)
      log.flush()
      if (process.stderr.isTTY !== true || process.stdout.isTTY !== true) io.err(`rackboot: cannot start: ${err.message}`)
      return 1
    }
    log.fatal({ err }, 'cannot start')
    log.flush()
    return 1
  }
  const file = loaded.file
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      log.flush()
      process.exit(130)
    }
    stopping = true
    log.info({ signal }, 'stopping')
    daemon.close().then(() => { log.flush(); process.exit(0) }, (err: unknown) => { log.error({ err }, 'error while stopping'); log.flush(); process.exit(1) })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => {
    let next
    try {
      next = loadConfig(file)
    } catch (err) {
      if (!(err instanceof ConfigError)) { log.error({ err }, 'reload failed; keeping the running config'); return }
      log.error({ problems: err.problems.map(formatProblem) }, 'new config is invalid; keeping the running config')
      return
    }
    daemon.reload(next).catch((err: unknown) => log.error({ err }, 'reload failed; keeping the running config'))
  })
  return 0
}

run(process.argv.slice(2), io, { serve }).then(code => { process.exitCode = code }, (err: unknown) => { io.err(`rackboot: ${(err as Error).stack ?? String(err)}`); process.exitCode = 1 })
