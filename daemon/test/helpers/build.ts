// Test helpers: a config from YAML text, a store on a temp dir, and the API app on it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import Database from 'better-sqlite3'
import { parseConfig, type LoadedConfig } from '../../src/config/load.js'
import { Store } from '../../src/store/index.js'
import { Metrics } from '../../src/metrics.js'
import { buildApi, type Api } from '../../src/api/app.js'

export const LANS_YAML = `
lans:
  - name: prov
    interface: br-prov
    subnet: 10.77.0.0/24
    address: 10.77.0.1
    gateway: 10.77.0.1
    dns: [10.77.0.1]
    pool: 10.77.0.100-10.77.0.150
    reserved: [10.77.0.240-10.77.0.250]
  - name: bmc
    interface: br-bmc
    subnet: 10.78.0.0/24
    address: 10.78.0.1
`

interface Tap { teardown (fn: () => unknown): void }

export function tempDir (t: Tap, prefix = 'rackboot-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function config (t: Tap, yaml = LANS_YAML, dataDir?: string): LoadedConfig {
  const dir = dataDir ?? tempDir(t)
  return parseConfig(`dataDir: ${dir}\napi: { listen: 127.0.0.1:0 }\n${yaml}`, 'test.yaml')
}

export interface Built { app: Api; store: Store; loaded: LoadedConfig; rw: string; ro: string; auth: (token?: string) => Record<string, string> }

/** The API on a fresh temp database, with a read-write and a read-only token. */
export async function build (t: Tap, yaml = LANS_YAML): Promise<Built> {
  const loaded = config(t, yaml)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const app = await buildApi({ store, lans: () => loaded.lans, log: pino({ level: 'silent' }), metrics: new Metrics({ defaults: false }) })
  await app.ready()
  t.teardown(async () => { await app.close(); store.close() })
  const rw = store.tokens.create('admin', false).token
  const ro = store.tokens.create('viewer', true).token
  return { app, store, loaded, rw, ro, auth: (token = rw) => ({ authorization: `Bearer ${token}` }) }
}

/**
 * A second connection to a store's database file, for tests that look at (or tamper with) the
 * tables themselves; the store keeps its own handle private.
 */
export function sqlite (t: Tap, dataDir: string): Database.Database {
  const db = new Database(join(dataDir, 'rackboot.db'))
  t.teardown(() => db.close())
  return db
}

export const mac = (n: number) => `52:54:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`
