// bench/api: the inventory API with 10,000 machines.
// (a) GET /api/v1/machines?mac=… under autocannon: target ≥ 5,000 req/s with p99 < 20 ms;
// (b) a full paginated listing of all machines: target < 2 s. Medians of RUNS runs.
// The daemon runs as its own process pinned to CPU 0; autocannon runs here, pinned to CPU 1.
import autocannon from 'autocannon'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { child, freePort, median, pinned, waitHttp } from '../lib.js'

const MACHINES = 10_000
const RUNS = Number(process.env.RUNS ?? 3)
const DURATION = Number(process.env.DURATION ?? 8)
const MAIN = fileURLToPath(new URL('../../../daemon/dist/main.js', import.meta.url))

const mac = (n: number) => `02:00:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`


async function main (): Promise<void> {
  try { execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' }) } catch { /* no taskset: unpinned */ }
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-bench-api-'))
  const port = await freePort()
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: warn, format: json }\napi: { listen: 127.0.0.1:${port} }\nboot: { http: "127.0.0.1:0", tftp: "127.0.0.1:0" }\ndhcp: { enabled: false }\nlans:\n  - name: prov\n    interface: bench0\n    subnet: 10.80.0.0/16\n    address: 10.80.0.1\n`)
  const token = execFileSync(process.execPath, [MAIN, 'token', 'create', '--name', 'bench', '--config', config], { encoding: 'utf8' }).trim()
  const [cmd, args] = pinned(0, process.execPath, [MAIN, 'serve', '--config', config])
  const daemon = child(cmd, args)
  const base = `http://127.0.0.1:${port}`
  const headers = { authorization: `Bearer ${token}` }
  try {
    await waitHttp(`${base}/healthz`)
    const rows = Array.from({ length: MACHINES }, (_, i) => ({ hostname: `node-${i}`, macs: [mac(i)], lan: 'prov', ipv4: `10.80.${(i >> 8) + 1}.${(i & 255) + 1 === 256 ? 1 : (i & 255) + 1}`, labels: { rack: `r${i % 40}` } }))
    // make every reservation unique and valid (10.80.1.1 … 10.80.40.x)
    rows.forEach((r, i) => { r.ipv4 = `10.80.${Math.floor(i / 250) + 1}.${(i % 250) + 2}` })
    const t0 = performance.now()
    const imp = await fetch(`${base}/api/v1/machines:import`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(rows) })
    if (imp.status !== 201) throw new Error(`import failed: ${imp.status} ${await imp.text()}`)
    const importSeconds = (performance.now() - t0) / 1000

    const lookups: Array<{ rps: number; p99: number; errors: number }> = []
    const listings: number[] = []
    for (let run = 0; run < RUNS; run++) {
      // Pre-built requests (no per-request setup callback): autocannon shares this machine's
      // second core and must not become the bottleneck. 2,000 MACs spread over the inventory.
      const requests = Array.from({ length: 2000 }, (_, k) => ({ method: 'GET' as const, path: `/api/v1/machines?mac=${mac((k * 7919 + run * 104729) % MACHINES)}` }))
      const result = await autocannon({ url: base, connections: 32, pipelining: 1, duration: DURATION, headers, requests })
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`lookup run had ${result.non2xx} non-2xx and ${result.errors} errors`)
      lookups.push({ rps: result.requests.average, p99: result.latency.p99, errors: result.errors })

      const l0 = performance.now()
      let count = 0
      let after: string | null = null
      do {
        const res = await fetch(`${base}/api/v1/machines?limit=1000${after === null ? '' : `&after=${after}`}`, { headers })
        const page = await res.json() as { items: unknown[]; next: string | null }
        count += page.items.length
        after = page.next
      } while (after !== null)
      if (count !== MACHINES) throw new Error(`listing returned ${count} machines, expected ${MACHINES}`)
      listings.push((performance.now() - l0) / 1000)
    }
    const rps = median(lookups.map(l => l.rps))
    const p99 = median(lookups.map(l => l.p99))
    const list = median(listings)
    const pass = rps >= 5000 && p99 < 20 && list < 2
    console.log(`bench/api: ${MACHINES} machines (import ${importSeconds.toFixed(2)} s); GET ?mac= ${Math.round(rps)} req/s p99 ${p99} ms [target ≥ 5000 req/s, p99 < 20 ms]; full listing ${list.toFixed(3)} s [target < 2 s]; medians of ${RUNS} — ${pass ? 'PASS' : 'FAIL'}`)
    process.exitCode = pass ? 0 : 1
  } finally {
    daemon.kill('SIGTERM')
    await new Promise(resolve => daemon.once('exit', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
