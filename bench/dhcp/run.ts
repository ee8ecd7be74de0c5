// bench/dhcp: full DORA exchanges from perfdhcp (Kea's load generator) against rackboot, Kea,
// dnsmasq and ISC dhcpd, one after another in this run, each in fresh namespaces with a /16
// pool, the server pinned to CPU 0 and perfdhcp to CPU 1. perfdhcp always acts as a relay
// (giaddr = its address), so every server serves a relayed /16.
// Reports, per server, the highest rate with < 1% drops (median drop ratio of RUNS runs at each
// rate), the ratio to Kea, an avalanche of 2,000 clients against rackboot, and rackboot's RSS at
// the end with the leases it holds (all of them in SQLite). Root only; nothing leaves the namespaces.
// RACKBOOT_BASELINE=<another checkout>/daemon/dist/main.js runs that build too ('baseline'), for a
// change's before and after in one run. BENCH_REVERSE=1: the servers in reverse order;
// BENCH_RSS_STEPS=1: each rackboot's RSS and CPU seconds after the rate steps (stderr).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { median, rssMiB } from '../lib.js'
import { openNetns, type Netns } from '../netns.js'

const MAIN = fileURLToPath(new URL('../../../daemon/dist/main.js', import.meta.url))
const RUNS = Number(process.env.RUNS ?? 3)
const PERIOD = Number(process.env.PERIOD ?? 4)
const RATES = (process.env.RATES ?? '250,500,1000,2000,4000,6000,8000,10000,12000,14000,16000').split(',').map(Number)
const ONLY = process.env.SERVERS?.split(',')

interface Server { name: string; start (ns: Netns, dir: string): number }

const SERVER_IP = '10.199.0.1'
const CLIENT_IP = '10.200.0.2'

const servers: Server[] = [
  { name: 'rackboot', start: (ns, dir) => startRackboot(MAIN, ns, dir) },
  {
    name: 'kea',
    start (ns, dir) {
      const cfg = join(dir, 'kea.json')
      writeFileSync(cfg, JSON.stringify({
        Dhcp4: {
          'interfaces-config': { interfaces: ['s0'], 'dhcp-socket-type': 'udp' },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, 'kea-leases.csv'), 'lfc-interval': 0 },
          'valid-lifetime': 3600,
          subnet4: [{ id: 1, subnet: '10.200.0.0/16', pools: [{ pool: '10.200.1.0 - 10.200.255.254' }], 'option-data': [{ name: 'routers', data: '10.200.0.1' }] }],
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: join(dir, 'kea.log') }], severity: 'WARN' }]
        }
      }))
      mkdirSync('/run/kea', { recursive: true })
      return launch(ns, ['taskset', '-c', '0', 'kea-dhcp4', '-c', cfg])
    }
  },
  {
    name: 'dnsmasq',
    start (ns, dir) {
      return launch(ns, ['taskset', '-c', '0', 'dnsmasq', '-d', '-k', '--port=0', '--user=root', '--interface=s0', '--bind-interfaces', '--dhcp-authoritative', '--no-ping', '--quiet-dhcp',
        '--dhcp-range=10.200.1.0,10.200.255.254,255.255.0.0,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--dhcp-lease-max=100000', '--log-facility=/dev/null', `--pid-file=${join(dir, 'dnsmasq.pid')}`])
    }
  },
  {
    name: 'dhcpd',
    start (ns, dir) {
      const cfg = join(dir, 'dhcpd.conf')
      writeFileSync(cfg, `authoritative;\ndefault-lease-time 3600;\nmax-lease-time 3600;\nsubnet 10.199.0.0 netmask 255.255.255.0 {}\nsubnet 10.200.0.0 netmask 255.255.0.0 { range 10.200.1.0 10.200.255.254; option routers 10.200.0.1; }\n`)
      writeFileSync(join(dir, 'dhcpd.leases'), '')
      return launch(ns, ['taskset', '-c', '0', 'dhcpd', '-4', '-f', '-q', '-cf', cfg, '-lf', join(dir, 'dhcpd.leases'), '-pf', join(dir, 'dhcpd.pid'), 's0'])
    }
  }
]

const BASELINE = process.env.RACKBOOT_BASELINE
if (BASELINE !== undefined) servers.splice(1, 0, { name: 'baseline', start: (ns, dir) => startRackboot(BASELINE, ns, dir) })
// BENCH_REVERSE=1: the servers in reverse order (to see an order effect).
if (process.env.BENCH_REVERSE === '1') servers.reverse()

/** BENCH_CONFLICT_CHECK=0: the rate steps with rackboot's conflict check off. */
const CONFLICT_CHECK = process.env.BENCH_CONFLICT_CHECK !== '0'

function startRackboot (main: string, ns: Netns, dir: string, conflictCheck = CONFLICT_CHECK): number {
  const cfg = join(dir, 'rackboot.yaml')
  writeFileSync(cfg, `dataDir: ${join(dir, 'var')}\nlog: { level: warn, format: json }\napi: { listen: 127.0.0.1:9080 }\nboot: { tftp: "127.0.0.1:0" }\ndhcp: { ratePerMac: 1000, conflictCheck: { enabled: ${String(conflictCheck)} } }\nlans:\n  - name: bench\n    relay: true\n    subnet: 10.200.0.0/16\n    address: ${SERVER_IP}\n    gateway: 10.200.0.1\n    pool: 10.200.1.0-10.200.255.254\n    leaseTime: 1h\n    unknownMachines: lease\n`)
  return launch(ns, ['taskset', '-c', '0', process.execPath, main, 'serve', '--config', cfg])
}

function launch (ns: Netns, cmd: string[]): number {
  const p = ns.spawn(cmd[0] as string, cmd.slice(1), { stdio: 'ignore' })
  return p.pid ?? 0
}

/** perfdhcp at `rate` DORA/s for PERIOD s: the worse of the two exchanges' drop ratios, in %, and their average delays (ms). */
function perf (ns: Netns, rate: number, args?: string[]): { drops: number; out: string; delays: number[] } {
  let out: string
  try {
    out = execFileSync('ip', ['netns', 'exec', ns.name, 'taskset', '-c', '1', 'perfdhcp', '-4', '-l', 'c0', ...(args ?? ['-r', String(rate), '-R', '10000000', '-p', String(PERIOD)]), SERVER_IP], { encoding: 'utf8', timeout: (PERIOD + 60) * 1000, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '')
  }
  const ratios = [...out.matchAll(/drops ratio: ([\d.]+) ?%/g)].map(m => Number(m[1]))
  return { drops: ratios.length < 2 ? 100 : Math.max(...ratios), out, delays: [...out.matchAll(/avg delay: ([\d.]+) ms/g)].map(m => Number(m[1])) }
}

/**
 * The exchange latency at `rate` (half of Kea's top rate): perfdhcp's DISCOVER→OFFER and
 * REQUEST→ACK average delays, medians of RUNS runs, on a fresh server; for rackboot also where
 * its time goes (rackboot_dhcp_phase_seconds_total per packet).
 */
async function latency (name: string, start: (ns: Netns, dir: string) => number, rate: number): Promise<{ offer: number; ack: number; split: string }> {
  const dir = mkdtempSync(join(tmpdir(), `rackboot-bench-dhcp-lat-${name}-`))
  const { srv, cli } = topology(`l${name}`.slice(0, 12))
  try {
    start(srv, dir)
    await waitListening(srv, 67)
    perf(cli, 500)
    const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0)
    const scrape = () => name.startsWith('rackboot') ? srv.sh('curl -s http://127.0.0.1:9080/metrics') : ''
    const before = scrape()
    const runs = Array.from({ length: RUNS }, () => perf(cli, rate))
    const after = scrape()
    let split = ''
    if (before !== '') {
      const packets = metric(after, /^rackboot_dhcp_timed_packets_total (\S+)/m) - metric(before, /^rackboot_dhcp_timed_packets_total (\S+)/m)
      const phase = (p: string) => (metric(after, new RegExp(`^rackboot_dhcp_phase_seconds_total\\{phase="${p}"\\} (\\S+)`, 'm')) - metric(before, new RegExp(`^rackboot_dhcp_phase_seconds_total\\{phase="${p}"\\} (\\S+)`, 'm'))) * 1000 / Math.max(1, packets)
      split = ` [per packet in the daemon: queue ${phase('queue').toFixed(3)} + decide ${phase('decide').toFixed(3)} + commit ${phase('commit').toFixed(3)} + send ${phase('send').toFixed(3)} ms]`
    }
    return { offer: median(runs.map(r => r.delays[0] ?? NaN)), ack: median(runs.map(r => r.delays[1] ?? NaN)), split }
  } finally {
    srv.remove()
    cli.remove()
    rmSync(dir, { recursive: true, force: true })
  }
}

function topology (name: string): { srv: Netns; cli: Netns } {
  const srv = openNetns(`srv-${name}`)
  const cli = openNetns(`cli-${name}`)
  // The pool is a relayed LAN behind perfdhcp (its relay address, giaddr 10.200.0.2): the route
  // to it goes through the relay, as it would through a real one, so the conflict check's
  // probes go to the relay (which forwards nothing: nothing answers) instead of an ARP request
  // per pool address on the server's own link.
  srv.sh(`ip link add s0 type veth peer name c0 netns ${cli.name} && ip addr add ${SERVER_IP}/24 dev s0 && ip link set s0 up && ip route add ${CLIENT_IP}/32 dev s0 && ip route add 10.200.0.0/16 via ${CLIENT_IP} dev s0`)
  cli.sh(`ip addr add ${CLIENT_IP}/16 dev c0 && ip link set c0 up && ip route add ${SERVER_IP}/32 dev c0`)
  return { srv, cli }
}

async function waitListening (ns: Netns, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (ns.sh(`ss -uln 'sport = :${port}' | tail -n +2`).trim() !== '') return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on UDP ${port} in ${ns.name}`)
}

async function main (): Promise<void> {
  const results: Record<string, number> = {}
  let avalanche = ''
  let avalancheOk = false
  let rss = 0
  let leases = 0
  let baselineRss = 0
  let checks = ''
  for (const server of servers.filter(s => ONLY === undefined || ONLY.includes(s.name))) {
    const dir = mkdtempSync(join(tmpdir(), `rackboot-bench-dhcp-${server.name}-`))
    const { srv, cli } = topology(server.name)
    const pid = server.start(srv, dir)
    await waitListening(srv, 67)
    perf(cli, 500) // warm-up (JIT, caches)
    let best = 0
    for (const rate of RATES) {
      const drops = median(Array.from({ length: RUNS }, () => perf(cli, rate).drops))
      process.stderr.write(`${server.name} ${rate}/s: ${drops.toFixed(2)}% drops\n`)
      if (drops >= 1) break
      best = rate
    }
    results[server.name] = best
    if (server.name === 'rackboot') {
      const m = srv.sh('curl -s http://127.0.0.1:9080/metrics')
      const n = (r: string) => Number(new RegExp(`rackboot_dhcp_conflict_checks_total\\{lan="bench",result="${r}"\\} (\\S+)`).exec(m)?.[1] ?? 0)
      checks = `conflict checks: ${n('free')} free, ${n('in-use')} in use, ${n('unprobed')} unprobed`
      process.stderr.write(`rackboot ${checks}\n`)
    }
    if (process.env.BENCH_RSS_STEPS !== undefined) {
      const dpid = Number(srv.sh('pgrep -f "dist/main.js serve" | head -1').trim() || 0)
      const ticks = readFileSync(`/proc/${dpid}/stat`, 'utf8').split(') ')[1]?.split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0) ?? 0
      process.stderr.write(`${server.name}: RSS after the rate steps ${rssMiB(dpid).toFixed(0)} MiB, CPU ${(ticks / 100).toFixed(2)} s\n`)
    }
    if (server.name === 'baseline') {
      // the same avalanche as rackboot's below, then its RSS: the two are measured alike
      perf(cli, 0, ['--scenario', 'avalanche', '-R', '2000'])
      baselineRss = rssMiB(Number(srv.sh('pgrep -f "dist/main.js serve" | head -1').trim()))
    }
    if (server.name === 'rackboot') {
      const av = perf(cli, 0, ['--scenario', 'avalanche', '-R', '2000']).out
      process.stderr.write(av.split('\n').filter(l => /took|received packets|sent packets/.test(l)).join('\n') + '\n')
      const acked = Number([...av.matchAll(/received packets: (\d+)/g)].map(m => m[1])[1] ?? 0)
      const took = /It took (\d+):(\d+):([\d.]+) to provision (\d+) clients/.exec(av)
      avalancheOk = acked === 2000
      avalanche = `avalanche of 2000 clients: ${acked} ACKed${took === null ? '' : ` in ${(Number(took[1]) * 3600 + Number(took[2]) * 60 + Number(took[3])).toFixed(2)} s`}`
      const daemonPid = Number(srv.sh('pgrep -f "daemon/dist/main.js serve" | head -1').trim())
      rss = rssMiB(daemonPid)
      const db = new Database(join(dir, 'var', 'rackboot.db'), { readonly: true })
      leases = db.prepare("SELECT count(*) FROM leases WHERE state = 'bound'").pluck().get() as number
      db.close()
    }
    void pid
    srv.remove()
    cli.remove()
    rmSync(dir, { recursive: true, force: true })
  }
  const kea = results.kea ?? 0
  const rb = results.rackboot ?? 0
  const ratio = kea > 0 ? rb / kea : NaN
  if (results.baseline !== undefined) console.log(`bench/dhcp: rackboot ${rb}/s against the baseline build (${BASELINE ?? ''}) ${results.baseline}/s = ${(rb / results.baseline).toFixed(2)}×; RSS after the same steps and avalanche: ${rss.toFixed(0)} vs ${baselineRss.toFixed(0)} MiB`)
  const peers = Object.entries(results).filter(([k]) => k !== 'rackboot' && k !== 'baseline').map(([k, v]) => `${k} ${v}/s`).join(', ')
  // Latency at half Kea's top rate: Kea (no ping check) against rackboot with its conflict check
  // off (with it on, each new address's OFFER waits for its probe by design: shown too).
  let lat = ''
  let latOk = true
  if (kea > 0 && rb > 0 && process.env.BENCH_LATENCY !== '0') {
    const half = Math.round(kea / 2)
    const k = await latency('kea', (ns, dir) => servers.find(x => x.name === 'kea')?.start(ns, dir) ?? 0, half)
    const r = await latency('rackboot', (ns, dir) => startRackboot(MAIN, ns, dir, false), half)
    const rc = await latency('rackbootcc', (ns, dir) => startRackboot(MAIN, ns, dir, true), half)
    latOk = r.offer <= 2 * k.offer && r.ack <= 2 * k.ack
    lat = `; exchange latency at ${half}/s (half Kea's top), DISCOVER→OFFER / REQUEST→ACK averages: rackboot ${r.offer.toFixed(2)} / ${r.ack.toFixed(2)} ms vs Kea ${k.offer.toFixed(2)} / ${k.ack.toFixed(2)} ms = ${(r.offer / k.offer).toFixed(1)}× / ${(r.ack / k.ack).toFixed(1)}× [target ≤ 2×]${r.split}; with the conflict check on ${rc.offer.toFixed(1)} / ${rc.ack.toFixed(2)} ms (the OFFER waits for its probe)`
  }
  const pass = ratio >= 1 && rss < 200 && avalancheOk && latOk
  console.log(`bench/dhcp: highest DORA rate with <1% drops (median of ${RUNS} × ${PERIOD} s), rackboot with its conflict check ${CONFLICT_CHECK ? `on (nothing answers; ${checks})` : 'off'}: rackboot ${rb}/s = ${ratio.toFixed(2)}× Kea [target ≥ 1.0×]; ${peers}; ${avalanche}; rackboot RSS ${rss.toFixed(0)} MiB with ${leases} leases in SQLite [target < 200 MiB]${lat} — ${pass ? 'PASS' : 'FAIL'}`)
  process.exitCode = pass ? 0 : 1
}

await main()
