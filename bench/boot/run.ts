// bench/boot: the boot HTTP server.
// (b) GET /boot/ipxe?mac=… under autocannon with 10,000 machines in the inventory, every one
//     netbooting (each answer mints a one-time token): target ≥ 5,000 scripts/s, p99 < 10 ms.
// (c) a 256 MiB image file to 1 and 16 concurrent curl clients, rackboot against nginx with
//     sendfile, same file, same run: target ≥ 0.6× nginx.
// All on loopback; servers pinned to CPU 0, clients to CPU 1; medians of RUNS runs.
import autocannon from 'autocannon'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { child, freePort, median, pinned, waitHttp } from '../lib.js'

const MAIN = fileURLToPath(new URL('../../../daemon/dist/main.js', import.meta.url))
const RUNS = Number(process.env.RUNS ?? 3)
const DURATION = Number(process.env.DURATION ?? 6)
const MACHINES = 10_000
const BIG = 256 << 20


const mac = (n: number) => `02:00:01:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`

/** Seconds for `clients` concurrent curls to each download `url` once (wall clock). */
function download (url: string, clients: number): number {
  const out = execFileSync('taskset', ['-c', '1', 'bash', '-c',
    `start=$(date +%s.%N); for i in $(seq ${clients}); do curl -s -o /dev/null ${url} & done; wait; end=$(date +%s.%N); echo "$end - $start" | bc -l`], { encoding: 'utf8' })
  return Number(out.trim())
}

async function main (): Promise<void> {
  try { execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' }) } catch { /* unpinned */ }
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-bench-boot-'))
  const images = join(dir, 'images')
  const img = join(images, 'bench')
  mkdirSync(img, { recursive: true })
  // a 256 MiB file of pseudo-random bytes (not zeros: nothing compresses or dedupes it on the way)
  const fd = openSync(join(img, 'big.img'), 'w')
  const block = Buffer.alloc(1 << 20)
  const h = createHash('sha256')
  for (let i = 0; i < BIG >> 20; i++) {
    for (let j = 0; j < block.length; j += 4) block.writeUInt32LE((Math.imul(i * 262144 + j, 2654435761) >>> 0), j)
    writeSync(fd, block)
    h.update(block)
  }
  closeSync(fd)
  const bigSha = h.digest('hex')
  writeFileSync(join(img, 'vmlinuz'), 'kernel')
  writeFileSync(join(img, 'image.yaml'), `kernel: { file: vmlinuz, sha256: ${createHash('sha256').update('kernel').digest('hex')} }\ninitrds: [{ file: big.img, sha256: ${bigSha} }]\ncmdline: "console=ttyS0 host={{ hostname }} ph={{ phone_home_url }}"\n`)

  const apiPort = await freePort()
  const bootPort = await freePort()
  const nginxPort = await freePort()
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: warn, format: json }\napi: { listen: 127.0.0.1:${apiPort} }\nboot: { http: 127.0.0.1:${bootPort}, tftp: 127.0.0.1:0, imagesDir: ${images} }\ndhcp: { enabled: false }\nlans:\n  - name: prov\n    interface: bench0\n    subnet: 10.80.0.0/16\n    address: 10.80.0.1\n`)
  const token = execFileSync(process.execPath, [MAIN, 'token', 'create', '--name', 'bench', '--config', config], { encoding: 'utf8' }).trim()
  const [cmd, args] = pinned(0, process.execPath, [MAIN, 'serve', '--config', config])
  const daemon = child(cmd, args)
  writeFileSync(join(dir, 'nginx.conf'), `daemon off; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'nginx.err')};
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${nginxPort}; root ${images}; } }\n`)
  const [ncmd, nargs] = pinned(0, 'nginx', ['-c', join(dir, 'nginx.conf')])
  const nginx = child(ncmd, nargs)
  try {
    await waitHttp(`http://127.0.0.1:${apiPort}/healthz`)
    await waitHttp(`http://127.0.0.1:${bootPort}/boot/ipxe?mac=${mac(0)}`).catch(() => {})
    const rows = Array.from({ length: MACHINES }, (_, i) => ({ hostname: `node-${i}`, macs: [mac(i)], lan: 'prov', image: 'bench' }))
    const imp = await fetch(`http://127.0.0.1:${apiPort}/api/v1/machines:import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(rows) })
    if (imp.status !== 201) throw new Error(`import: ${imp.status} ${await imp.text()}`)
    const check = await (await fetch(`http://127.0.0.1:${bootPort}/boot/ipxe?mac=${mac(1)}`)).text()
    if (!check.includes('kernel http://10.80.0.1:')) throw new Error(`not a netboot script:\n${check}`)

    const scripts: Array<{ rps: number; p99: number }> = []
    for (let run = 0; run < RUNS; run++) {
      const requests = Array.from({ length: 2000 }, (_, k) => ({ method: 'GET' as const, path: `/boot/ipxe?mac=${mac((k * 7919 + run * 104729) % MACHINES)}` }))
      // Each machine's first script moves it ready → provisioning (a one-time, heavier write):
      // one pass over these requests first, so the run measures the steady state of a storm.
      await autocannon({ url: `http://127.0.0.1:${bootPort}`, connections: 32, amount: requests.length, requests })
      const r = await autocannon({ url: `http://127.0.0.1:${bootPort}`, connections: 32, duration: DURATION, requests })
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`script run: ${r.non2xx} non-2xx, ${r.errors} errors`)
      scripts.push({ rps: r.requests.average, p99: r.latency.p99 })
    }
    const rackUrl = `http://127.0.0.1:${bootPort}/images/bench/big.img`
    const nginxUrl = `http://127.0.0.1:${nginxPort}/bench/big.img`
    download(rackUrl, 1); download(nginxUrl, 1) // page cache warm
    const rate = (url: string, clients: number) => median(Array.from({ length: RUNS }, () => (BIG * clients / (1 << 20)) / download(url, clients)))
    const r1 = rate(rackUrl, 1); const n1 = rate(nginxUrl, 1)
    const r16 = rate(rackUrl, 16); const n16 = rate(nginxUrl, 16)
    const rps = median(scripts.map(s => s.rps))
    const p99 = median(scripts.map(s => s.p99))
    const pass = rps >= 5000 && p99 < 10 && r1 / n1 >= 0.6 && r16 / n16 >= 0.6
    console.log(`bench/boot: iPXE scripts with ${MACHINES} machines ${Math.round(rps)}/s p99 ${p99} ms [target ≥ 5000/s, p99 < 10 ms]; 256 MiB file, 1 client: rackboot ${r1.toFixed(0)} MiB/s vs nginx ${n1.toFixed(0)} MiB/s = ${(r1 / n1).toFixed(2)}×; 16 clients: ${r16.toFixed(0)} vs ${n16.toFixed(0)} MiB/s = ${(r16 / n16).toFixed(2)}× [target ≥ 0.6×]; medians of ${RUNS} — ${pass ? 'PASS' : 'FAIL'}`)
    process.exitCode = pass ? 0 : 1
  } finally {
    daemon.kill('SIGTERM')
    nginx.kill('SIGTERM')
    await new Promise(resolve => daemon.once('exit', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
