// bench/clusters: (a) creating a cluster through the API, its whole PKI included (ECDSA P-256):
//     target < 1 s, median of RUNS_A; (b) the installed OS's seed (user-data with kubeadm
//     material) for 1,000 nodes in 10 clusters under autocannon: target ≥ 2,000 seeds/s with
//     p99 < 20 ms, median of RUNS; (c) 1,000 pool allocations then 1,000 releases through the API,
//     10 clients at a time: target ≥ 1,000 operations/s.
// The daemon runs as its own process pinned to CPU 0; autocannon and the clients run here on CPU 1.
// The 1,000 nodes are put in the database directly (machines `installed`, each with a seed token)
// before the daemon starts: installing them for real is bench/install's job.
import autocannon from 'autocannon'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { child, freePort, median, pinned, stopChild, waitHttp } from '../lib.js'

const RUNS = Number(process.env.RUNS ?? 3)
const RUNS_A = Number(process.env.RUNS_A ?? 9)
const DURATION = Number(process.env.DURATION ?? 8)
const CLUSTERS = 10
const PER_CLUSTER = 100
const CONTROL_PLANES = 3
const DAEMON = fileURLToPath(new URL('../../../daemon/dist/', import.meta.url))
const MAIN = join(DAEMON, 'main.js')

const mac = (n: number) => `02:00:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`
const say = (s: string) => { console.error(`bench/clusters: ${s}`) }

interface StoreLike {
  write<T> (fn: () => T): T
  close (): void
  machines: { create (input: Record<string, unknown>, actor: string): { id: number } }
  clusters: { create (input: Record<string, unknown>, pki: unknown, ttl: number, actor: string): { id: number } }
  pools: { create (input: Record<string, unknown>, actor: string): unknown }
  bootTokens: { mint (machineId: number, image: string, now: number, ttlMs: number, kind: string): string }
}

async function main (): Promise<void> {
  try { execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' }) } catch { /* no taskset: unpinned */ }
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-bench-clusters-'))
  const apiPort = await freePort()
  const bootPort = await freePort()
  const dataDir = join(dir, 'var')
  mkdirSync(join(dir, 'images'))
  const lanYaml = '  - name: prov\n    interface: bench0\n    subnet: 10.80.0.0/16\n    address: 10.80.0.1\n'
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${dataDir}\nlog: { level: warn, format: json }\napi: { listen: 127.0.0.1:${apiPort} }\nboot: { http: "127.0.0.1:${bootPort}", tftp: "127.0.0.1:0", imagesDir: ${join(dir, 'images')}, tokenTtl: 24h }\ndhcp: { enabled: false }\nlans:\n${lanYaml}`)

  // The nodes, straight into the database: 10 clusters of 3 control planes and 97 workers.
  say(`putting ${CLUSTERS * PER_CLUSTER} nodes in ${CLUSTERS} clusters into the database`)
  const { loadConfig } = await import(pathToFileURL(join(DAEMON, 'config/load.js')).href) as { loadConfig: (f: string) => { lans: ReadonlyMap<string, unknown> } }
  const { Store } = await import(pathToFileURL(join(DAEMON, 'store/index.js')).href) as { Store: new (o: { dataDir: string; lans: () => ReadonlyMap<string, unknown> }) => StoreLike }
  const { createClusterPki } = await import(pathToFileURL(join(DAEMON, 'clusters/pki.js')).href) as { createClusterPki: (alg: string, now: number) => Promise<unknown> }
  const loaded = loadConfig(config)
  const store = new Store({ dataDir, lans: () => loaded.lans })
  const paths: string[] = []
  const now = Date.now()
  store.write(() => store.pools.create({ name: 'vips', ranges: ['10.80.255.200-10.80.255.250'], lan: 'prov' }, 'bench'))
  for (let c = 0; c < CLUSTERS; c++) {
    const pki = await createClusterPki('ecdsa-p256', now)
    store.write(() => {
      store.clusters.create({ name: `c${c}`, version: 'v1.31.4', endpoint: { pool: 'vips' } }, pki, 24 * 3600_000, 'bench')
      for (let n = 0; n < PER_CLUSTER; n++) {
        const i = c * PER_CLUSTER + n
        const m = store.machines.create({ hostname: `c${c}-n${n}`, macs: [mac(i)], lan: 'prov', ipv4: `10.80.${Math.floor(i / 250) + 1}.${(i % 250) + 2}`, role: n < CONTROL_PLANES ? 'control-plane' : 'worker', cluster: `c${c}`, state: 'installed' }, 'bench')
        paths.push(`/boot/metadata/${store.bootTokens.mint(m.id, 'node', Date.now(), 24 * 3600_000, 'seed')}/user-data`)
      }
    })
  }
  store.close()
  const token = execFileSync(process.execPath, [MAIN, 'token', 'create', '--name', 'bench', '--config', config], { encoding: 'utf8' }).trim()

  // BENCH_PROF=<dir>: the daemon writes a CPU profile there (node --cpu-prof) when it stops.
  const prof = process.env.BENCH_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF]
  const [cmd, args] = pinned(0, process.execPath, [...prof, MAIN, 'serve', '--config', config])
  const daemon = child(cmd, args)
  const api = `http://127.0.0.1:${apiPort}`
  const boot = `http://127.0.0.1:${bootPort}`
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  try {
    await waitHttp(`${api}/healthz`).catch(async () => { await waitHttp(`${boot}/boot/ipxe?mac=${mac(0)}`) })
    // A first seed of every node (the init nodes mint their init token then): warm, and checked.
    for (const p of paths) {
      const r = await fetch(boot + p)
      const body = await r.text()
      if (r.status !== 200 || !body.includes('/etc/rackboot/kubeadm.yaml')) throw new Error(`seed ${p}: ${r.status} ${body.slice(0, 200)}`)
    }

    // (a) cluster creation, PKI included.
    const creates: number[] = []
    for (let i = 0; i < RUNS_A; i++) {
      const t0 = performance.now()
      const r = await fetch(`${api}/api/v1/clusters`, { method: 'POST', headers, body: JSON.stringify({ name: `new${i}`, version: 'v1.31.4', endpoint: { host: `k8s-${i}.example` } }) })
      if (r.status !== 201) throw new Error(`cluster create: ${r.status} ${await r.text()}`)
      creates.push(performance.now() - t0)
    }
    const createMs = median(creates)

    // (b) seeds under load.
    const seeds: Array<{ rps: number; p99: number }> = []
    for (let run = 0; run < RUNS; run++) {
      const requests = paths.map((_, k) => ({ method: 'GET' as const, path: paths[(k * 7 + run * 131) % paths.length] as string }))
      const result = await autocannon({ url: boot, connections: 16, pipelining: 1, duration: DURATION, requests })
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`seed run had ${result.non2xx} non-2xx and ${result.errors} errors`)
      seeds.push({ rps: result.requests.average, p99: result.latency.p99 })
      say(`seeds run ${run + 1}: ${Math.round(result.requests.average)}/s p99 ${result.latency.p99} ms`)
    }
    const rps = median(seeds.map(s => s.rps))
    const p99 = median(seeds.map(s => s.p99))

    // (c) 1,000 allocations, then 1,000 releases, 10 clients at a time.
    const pool = await fetch(`${api}/api/v1/pools`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench', cidr: '10.90.0.0/22' }) })
    if (pool.status !== 201) throw new Error(`pool: ${pool.status} ${await pool.text()}`)
    const ids: number[] = []
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let k = 0; k < 100; k++) {
        const r = await fetch(`${api}/api/v1/pools/bench/allocations`, { method: 'POST', headers, body: JSON.stringify({ comment: 'bench' }) })
        if (r.status !== 201) throw new Error(`allocate: ${r.status} ${await r.text()}`)
        ids.push((await r.json() as { id: number }).id)
      }
    }))
    const allocSeconds = (performance.now() - t0) / 1000
    if (new Set(ids).size !== 1000) throw new Error('duplicate allocation ids')
    const t1 = performance.now()
    await Promise.all(Array.from({ length: 10 }, async (_, c) => {
      for (const id of ids.slice(c * 100, c * 100 + 100)) {
        const r = await fetch(`${api}/api/v1/pools/bench/allocations/${id}`, { method: 'DELETE', headers: { authorization: headers.authorization } })
        if (r.status !== 204) throw new Error(`release: ${r.status}`)
      }
    }))
    const releaseSeconds = (performance.now() - t1) / 1000
    const opsPerSecond = 2000 / (allocSeconds + releaseSeconds)

    const pass = createMs < 1000 && rps >= 2000 && p99 < 20 && opsPerSecond >= 1000
    console.log(`bench/clusters: (a) cluster create with its ECDSA PKI ${Math.round(createMs)} ms [target < 1000 ms] median of ${RUNS_A}; ` +
      `(b) seeds of ${paths.length} nodes in ${CLUSTERS} clusters ${Math.round(rps)}/s p99 ${p99} ms [target ≥ 2000/s, p99 < 20 ms] median of ${RUNS}; ` +
      `(c) 1000 allocations ${(1000 / allocSeconds).toFixed(0)}/s + 1000 releases ${(1000 / releaseSeconds).toFixed(0)}/s = ${Math.round(opsPerSecond)} ops/s [target ≥ 1000/s] — ${pass ? 'PASS' : 'FAIL'}`)
    process.exitCode = pass ? 0 : 1
  } finally {
    await stopChild(daemon)
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
