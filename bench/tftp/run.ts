// bench/tftp: rackboot's TFTP service against tftpd-hpa (in.tftpd), dnsmasq and atftpd, each in
// turn in a server network namespace linked to a client namespace by a veth (MTU 1500, 10.203.0.0/24;
// nothing leaves the namespaces). Workloads, with the atftp client:
//   (a) one 64 MiB file at blksize 1468 (lockstep)
//   (b) the same with windowsize 16 (peers that ignore the option fall back to lockstep)
//   (c) boot storm: 50 concurrent clients each fetching 1 MiB at blksize 1468
//   (d) the same storm from one load-generating process (bench/tftp/storm.c, 50 sockets on one
//       epoll), for information: in (c) the 50 atftp processes share one vCPU and keep it ~99%
//       busy whatever the server (perf: the server's receive path is ~10% of that CPU), so (c)
//       measures mostly the clients; in (d) the server is the bottleneck, as in a real storm where
//       every machine has its own CPU. Needs a C compiler (cc); skipped with a message without one.
//   (e) (d) with 50 × a 74,213-byte file (the size of Debian's undionly.kpxe, what BIOS PXE
//       firmware fetches), for information: 51 blocks a transfer, so per-transfer costs (request,
//       sockets, file checks, log line, event) weigh as much as the blocks do.
// (a), (b), (d), (e): medians of RUNS runs; rounds interleave the servers, each started fresh
// for its round and first serving one unmeasured warm-up storm.
// (c) runs in a phase of its own with every server up at once, each on its own address, and
// the storms rotating between them (3 × RUNS storms each; each round starts with the next
// server, every other round in reverse order): this machine's speed drifts by ±10% over
// minutes (six-storm means of one server ranged 0.52–0.63 s), and one server's storms taken
// minutes apart from another's compared the drift more than the servers. An idle server
// waits in poll/epoll and costs nothing.
// Ratios against the best peer (targets ≥ 1.0× in each); peak RSS of rackboot during the
// storms. Servers are pinned to CPU 0, clients to CPU 1. Needs root. The summary line gives
// the load average at start and end (this machine is shared: read it).
// Knobs: RUNS (5); SERVERS=rackboot,atftpd and ONLY=a|b|c|d|e (subsets, for profiling); BENCH_REVERSE=1 (servers in reverse order, to check order effects);
// RACKBOOT_NODE_ARGS (e.g. "--cpu-prof"); BENCH_LOG=FILE (rackboot's log);
// RACKBOOT_BASELINE=<another checkout>/daemon/dist/main.js runs that build too, as server
// 'baseline', and prints rackboot against it (a refactor's before and after in one run).
// Peers: PATH, or TFTPD_HPA / DNSMASQ / ATFTPD env vars (Debian's tftpd-hpa and atftpd packages
// conflict; `apt-get download atftpd && dpkg-deb -x atftpd_*.deb DIR` gives DIR/usr/sbin/atftpd).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, createHash } from 'node:crypto'
import { chmodSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median } from '../lib.js'
import { openNetns, type Netns } from '../netns.js'

const STORM_C = fileURLToPath(new URL('../../tftp/storm.c', import.meta.url))

const RUNS = Number(process.env.RUNS ?? 5)
const STORM = 50
/** Storms of (c) per server per run (RUNS × this in (c)'s phase). */
const STORMS_PER_RUN = 3
const BIG = 64 * 1024 * 1024
const SMALL = 1024 * 1024
const PXE = 74_213
const MAIN = fileURLToPath(new URL('../../../daemon/dist/main.js', import.meta.url))
/** The server's and the client's namespaces (made by setup(), removed by cleanup()), and their names. */
let srvNs: Netns | null = null
let cliNs: Netns | null = null
let SRV = ''
let CLI = ''
const SRV_IP = '10.203.0.1'
/** (c)'s phase: peer i listens on PEER_IP(i) while rackboot keeps SRV_IP. */
const PEER_IP = (i: number): string => `10.203.0.${10 + i}`
const PEER_IPS = 4
const CLI_IP = '10.203.0.2'
const IF_SRV = `rbb${process.pid}a`
const IF_CLI = `rbb${process.pid}b`

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const which = (name: string, env: string, extra: string[] = []): string | null => {
  const fromEnv = process.env[env]
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  if (r.status === 0) return r.stdout.trim()
  return extra.find(p => existsSync(p)) ?? null
}

let server: ChildProcess | null = null
const running: ChildProcess[] = [] // (c)'s phase
function cleanup (): void {
  for (const p of [server, ...running]) if (p !== null && p.exitCode === null) { try { p.kill('SIGKILL') } catch { /* gone */ } }
  srvNs?.remove()
  cliNs?.remove()
  srvNs = cliNs = null
}
process.on('exit', cleanup) // bench/netns.ts also removes the namespaces at exit or on a signal

function setup (): void {
  const srv = srvNs = openNetns('tftp-srv')
  const cli = cliNs = openNetns('tftp-cli')
  SRV = srv.name
  CLI = cli.name
  srv.ip('link', 'add', IF_SRV, 'type', 'veth', 'peer', 'name', IF_CLI, 'netns', CLI)
  for (const [ns, dev, ip] of [[srv, IF_SRV, SRV_IP], [cli, IF_CLI, CLI_IP]] as const) {
    ns.ip('link', 'set', dev, 'mtu', '1500')
    ns.ip('addr', 'add', `${ip}/24`, 'dev', dev)
    ns.ip('link', 'set', dev, 'up')
  }
  for (let i = 0; i < PEER_IPS; i++) srv.ip('addr', 'add', `${PEER_IP(i)}/24`, 'dev', IF_SRV)
}

interface Server { name: string; argv: (root: string, dir: string, ip: string) => string[] }

async function startServer (argv: string[], ip = SRV_IP): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', SRV, 'taskset', '-c', '0', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  // BENCH_LOG=FILE keeps rackboot's log lines (one per transfer) for a look afterwards.
  if (process.env.BENCH_LOG !== undefined) p.stdout?.pipe(createWriteStream(process.env.BENCH_LOG, { flags: 'a' }))
  else p.stdout?.resume()
  let err = ''
  p.stderr?.on('data', d => { err += String(d) })
  // Ready when something listens on ip:69.
  for (let i = 0; i < 100; i++) {
    if (p.exitCode !== null) throw new Error(`${argv[0]} exited ${p.exitCode}: ${err}`)
    if (sh('ip', ['netns', 'exec', SRV, 'ss', '-Huln', 'sport', '=', '69']).includes(`${ip}:69`)) return p
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${argv[0]} did not listen on ${ip}:69: ${err}`)
}

async function stopServer (p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return
  const exited = new Promise(resolve => p.once('exit', resolve))
  p.kill('SIGTERM')
  const timer = setTimeout(() => p.kill('SIGKILL'), 12_000)
  await exited
  clearTimeout(timer)
}

/** Runs a shell script in the client namespace on CPU 1; returns its wall time in seconds. */
function clientRun (script: string): number {
  const t0 = performance.now()
  const r = spawnSync('ip', ['netns', 'exec', CLI, 'taskset', '-c', '1', 'sh', '-c', script], { encoding: 'utf8', timeout: 180_000 })
  const s = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`client failed (${String(r.status)}): ${r.stderr}`)
  return s
}

/** User + system CPU seconds of a process (its threads included). */
function cpuSeconds (pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(f[11]) + Number(f[12])) / 100
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

async function main (): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/tftp needs root (network namespaces)')
  const atftp = which('atftp', 'ATFTP')
  if (atftp === null) throw new Error('the atftp client is needed (apt install atftp)')
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-bench-tftp-'))
  const root = join(dir, 'root')
  const out = join(dir, 'out')
  for (const d of [root, out]) sh('mkdir', ['-p', d])
  chmodSync(dir, 0o755)
  chmodSync(root, 0o755)
  writeFileSync(join(root, 'big.bin'), randomBytes(BIG), { mode: 0o644 })
  writeFileSync(join(root, 'small.bin'), randomBytes(SMALL), { mode: 0o644 })
  writeFileSync(join(root, 'pxe.bin'), randomBytes(PXE), { mode: 0o644 })
  const want = { big: sha(join(root, 'big.bin')), small: sha(join(root, 'small.bin')) }
  // (d)'s load generator, built for this run (build output is not committed).
  const loadgen = join(dir, 'storm')
  const cc = spawnSync('cc', ['-O2', '-o', loadgen, STORM_C], { encoding: 'utf8' })
  const haveLoadgen = cc.status === 0
  if (!haveLoadgen) console.error(`bench/tftp: (d) skipped: cannot build ${STORM_C} with cc: ${cc.error?.message ?? cc.stderr}`)
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, [
    `dataDir: ${join(dir, 'var')}`, 'log: { level: info, format: json }', 'api: { listen: "127.0.0.1:9080" }',
    `boot: { tftp: "${SRV_IP}:69", http: "${SRV_IP}:8080", ipxeDir: ${join(dir, 'none')}, tftpRoot: ${root}, tftpLimits: { maxTransfersPerClient: 64, maxWindowsize: 64, maxBlksize: 1468 } }`,
    'lans:', '  - name: bench', `    interface: ${IF_SRV}`, '    subnet: 10.203.0.0/24', `    address: ${SRV_IP}`, ''
  ].join('\n'))

  const tftpd = which('in.tftpd', 'TFTPD_HPA', ['/usr/sbin/in.tftpd'])
  const dnsmasq = which('dnsmasq', 'DNSMASQ', ['/usr/sbin/dnsmasq'])
  const atftpd = which('atftpd', 'ATFTPD', ['/usr/sbin/atftpd', '/opt/rbt-peers/root/usr/sbin/atftpd'])
  const servers: Server[] = [{ name: 'rackboot', argv: () => [process.execPath, ...(process.env.RACKBOOT_NODE_ARGS?.split(' ').filter(Boolean) ?? []), MAIN, 'serve', '--config', config] }]
  const baseline = process.env.RACKBOOT_BASELINE
  if (baseline !== undefined) {
    // Its own config: in (c) it runs beside rackboot, on a peer address, with its own API port and data.
    servers.push({
      name: 'baseline',
      argv: (_r, d, ip) => {
        const file = join(d, `baseline-${ip}.yaml`)
        writeFileSync(file, readFileSync(config, 'utf8').replace(`"${SRV_IP}:69"`, `"${ip}:69"`).replace(`"${SRV_IP}:8080"`, `"${ip}:8080"`).replace('127.0.0.1:9080', '127.0.0.1:9081').replace(`dataDir: ${join(d, 'var')}`, `dataDir: ${join(d, 'var-baseline')}`))
        return [process.execPath, baseline, 'serve', '--config', file]
      }
    })
  }
  const missing: string[] = []
  if (tftpd !== null) servers.push({ name: 'tftpd-hpa', argv: (r, _d, ip) => [tftpd, '--foreground', '--listen', '--address', `${ip}:69`, '--user', 'root', '--secure', r] })
  else missing.push('tftpd-hpa')
  if (dnsmasq !== null) servers.push({ name: 'dnsmasq', argv: (r, d, ip) => [dnsmasq, '--keep-in-foreground', '--port=0', '--enable-tftp', `--tftp-root=${r}`, `--listen-address=${ip}`, '--bind-interfaces', '--tftp-max=100', '--quiet-tftp', '--conf-file=/dev/null', `--pid-file=${join(d, 'dnsmasq.pid')}`, '--user=root', '--log-facility=/dev/null'] })
  else missing.push('dnsmasq')
  if (atftpd !== null) servers.push({ name: 'atftpd', argv: (r, _d, ip) => [atftpd, '--daemon', '--no-fork', '--bind-address', ip, '--port', '69', '--user', 'root.root', '--maxthread', '100', '--logfile', '/dev/null', '--no-multicast', r] })
  else missing.push('atftpd')
  if (missing.length > 0) console.error(`bench/tftp: peers not found, not compared: ${missing.join(', ')}`)
  // SERVERS=rackboot,atftpd limits the run (for profiling); the summary then compares what ran.
  const only = process.env.SERVERS?.split(',')
  if (only !== undefined) servers.splice(0, servers.length, ...servers.filter(x => only.includes(x.name)))
  if (process.env.BENCH_REVERSE !== undefined) servers.reverse()

  cleanup()
  setup()
  const load0 = loadavg()[0] as number
  const get = (file: string, dest: string, opts: string, ip = SRV_IP): string => `${atftp} ${opts} --get -r ${file} -l ${dest} ${ip}`
  const bigA = `${get('big.bin', join(out, 'a.bin'), '--option "blksize 1468"')}`
  const bigB = `${get('big.bin', join(out, 'b.bin'), '--option "blksize 1468" --option "windowsize 16"')}`
  const stormAt = (ip: string): string => `for i in $(seq ${STORM}); do ${get('small.bin', `${out}/s$i.bin`, '--option "blksize 1468"', ip)} & done; wait`
  const storm = stormAt(SRV_IP)
  // Every storm's output is checked (a fast failure must not pass for speed), byte for byte
  // when `content` is set, then removed.
  const checkStorm = (name: string, content: boolean): void => {
    for (let i = 1; i <= STORM; i++) if (statSync(join(out, `s${i}.bin`)).size !== SMALL) throw new Error(`${name}: storm client ${i} got a short file`)
    if (content && sha(join(out, 's1.bin')) !== want.small) throw new Error(`${name}: storm content differs`)
    rmSync(out, { recursive: true, force: true }); sh('mkdir', ['-p', out])
  }
  const loadgenStorm = (file: string): string[] => [loadgen, SRV_IP, file, String(STORM), '1468', join(root, file)]
  const results: Record<string, { a: number; b: number; c: number; d: number; e: number; rss?: number }> = {}
  try {
    // Rounds interleave the servers (each round starts every server in turn), so that load from
    // elsewhere on the machine falls on all of them alike rather than on whoever ran at the time.
    const samples = new Map(servers.map(x => [x.name, { a: [] as number[], b: [] as number[], c: [] as number[], d: [] as number[], e: [] as number[], cpu: [] as number[], dcpu: [] as number[], ecpu: [] as number[], peak: 0 }]))
    for (let run = 0; run < RUNS; run++) {
      for (const s of servers) {
        const m = samples.get(s.name) as { a: number[]; b: number[]; c: number[]; d: number[]; e: number[]; cpu: number[]; dcpu: number[]; ecpu: number[]; peak: number }
        server = await startServer(s.argv(root, dir, SRV_IP))
        const pid = server.pid as number
        // Warm-up, the same for every server: one unmeasured storm like (c). A daemon serving a boot
        // storm has been running; a freshly started Node process spends part of its first storm
        // compiling (measured: ~0.60 s for a first storm, ~0.56 s for the ones after).
        clientRun(storm)
        // ONLY=c (or a, b) runs only those workloads (for profiling); the others count as 0.
        const only = process.env.ONLY ?? 'abcde'
        m.a.push(only.includes('a') ? BIG / 1e6 / clientRun(bigA) : 0)
        m.b.push(only.includes('b') ? BIG / 1e6 / clientRun(bigB) : 0)
        if (!only.includes('a')) clientRun(bigA.replace('big.bin', 'small.bin'))
        if (!only.includes('b')) clientRun(bigB.replace('big.bin', 'small.bin'))
        // The load generator checks every block against the file and times itself (first RRQ to
        // last block), which leaves out the start of the process.
        const loadgenRun = (file: string, times: number[], cpus: number[]): void => {
          const cpu0 = cpuSeconds(pid)
          const r = spawnSync('ip', ['netns', 'exec', CLI, 'taskset', '-c', '1', ...loadgenStorm(file)], { encoding: 'utf8', timeout: 120_000 })
          cpus.push(cpuSeconds(pid) - cpu0)
          const t = /, ([\d.]+) s$/m.exec(r.stdout)
          if (r.status !== 0 || t === null) throw new Error(`${s.name}: load generator storm of ${file} failed (${String(r.status)}): ${r.stderr}`)
          times.push(Number(t[1]))
        }
        if (haveLoadgen && only.includes('d')) loadgenRun('small.bin', m.d, m.dcpu)
        if (haveLoadgen && only.includes('e')) loadgenRun('pxe.bin', m.e, m.ecpu)
        // Every run's output is checked: a fast failure must not pass for speed.
        if (process.env.ONLY === undefined && (statSync(join(out, 'a.bin')).size !== BIG || statSync(join(out, 'b.bin')).size !== BIG)) throw new Error(`${s.name}: short 64 MiB download`)
        if (run === 0 && process.env.ONLY === undefined) {
          if (sha(join(out, 'a.bin')) !== want.big || sha(join(out, 'b.bin')) !== want.big) throw new Error(`${s.name}: content differs`)
        }
        checkStorm(s.name, run === 0)
        await stopServer(server)
        server = null
      }
    }
    // (c): every server up at once, each on its own address, pinned to CPU 0 as before; the
    // storms rotate between them.
    if ((process.env.ONLY ?? 'abcde').includes('c')) {
      const up: Array<{ name: string, ip: string, pid: number }> = []
      let peer = 0
      for (const s of servers) {
        const ip = s.name === 'rackboot' ? SRV_IP : PEER_IP(peer++)
        const p = await startServer(s.argv(root, dir, ip), ip)
        running.push(p)
        up.push({ name: s.name, ip, pid: p.pid as number })
      }
      // Warm-up (a fresh process, as in the rounds above), checked byte for byte.
      for (const u of up) { clientRun(stormAt(u.ip)); checkStorm(u.name, true) }
      // Peak RSS during the storms, without a sampling process (one would compete for the CPUs
      // during one server's storms only): reset the kernel's high-water mark (VmHWM) to the
      // current RSS first (clear_refs 5, Linux ≥ 4.0), read it after.
      const rb = up.find(u => u.name === 'rackboot')
      if (rb !== undefined) writeFileSync(`/proc/${rb.pid}/clear_refs`, '5')
      for (let round = 0; round < RUNS * STORMS_PER_RUN; round++) {
        // Each round starts with the next server, and every other round runs in reverse, so no
        // server always follows the same one.
        for (let k = 0; k < up.length; k++) {
          const u = up[(round + (round % 2 === 0 ? k : up.length - k)) % up.length] as { name: string, ip: string, pid: number }
          const m = samples.get(u.name) as { c: number[]; cpu: number[] }
          const cpu0 = cpuSeconds(u.pid)
          m.c.push(clientRun(stormAt(u.ip)))
          m.cpu.push(cpuSeconds(u.pid) - cpu0)
          checkStorm(u.name, false)
        }
      }
      if (rb !== undefined) (samples.get('rackboot') as { peak: number }).peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${rb.pid}/status`, 'utf8'))?.[1] ?? 0)
      for (const p of running) await stopServer(p)
      running.length = 0
    }
    for (const [name, m] of samples) {
      results[name] = { a: median(m.a), b: median(m.b), c: median(m.c), d: m.d.length > 0 ? median(m.d) : NaN, e: m.e.length > 0 ? median(m.e) : NaN, ...(name === 'rackboot' ? { rss: m.peak / 1024 } : {}) }
      console.error(`  ${name.padEnd(9)} (a) ${median(m.a).toFixed(1)} MB/s [${m.a.map(x => x.toFixed(1)).join(' ')}]  (b) ${median(m.b).toFixed(1)} MB/s [${m.b.map(x => x.toFixed(1)).join(' ')}]  (c) ${median(m.c).toFixed(3)} s [${m.c.map(x => x.toFixed(3)).join(' ')}]${m.cpu.length > 0 ? ` storm cpu ${median(m.cpu).toFixed(3)} s` : ''}${m.d.length > 0 ? `  (d) ${median(m.d).toFixed(3)} s [${m.d.map(x => x.toFixed(3)).join(' ')}] cpu ${median(m.dcpu).toFixed(3)} s` : ''}${m.e.length > 0 ? `  (e) ${median(m.e).toFixed(4)} s [${m.e.map(x => x.toFixed(4)).join(' ')}] cpu ${median(m.ecpu).toFixed(4)} s` : ''}`)
    }
  } finally {
    cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
  const rb = results.rackboot as { a: number; b: number; c: number; d: number; e: number; rss: number }
  const base = results.baseline
  if (base !== undefined) {
    const x = (k: 'a' | 'b' | 'c' | 'd' | 'e', higher: boolean) => (higher ? rb[k] / base[k] : base[k] / rb[k]).toFixed(3)
    console.log(`bench/tftp: rackboot against the baseline build (${baseline ?? ''}), > 1 is faster: (a) ${x('a', true)}× (b) ${x('b', true)}× (c) ${x('c', false)}× (d) ${x('d', false)}× (e) ${x('e', false)}×`)
  }
  const peers = Object.entries(results).filter(([n]) => n !== 'rackboot' && n !== 'baseline')
  if (peers.length === 0) {
    console.log(`bench/tftp: rackboot only: (a) ${rb.a.toFixed(1)} MB/s; (b) ${rb.b.toFixed(1)} MB/s; (c) ${rb.c.toFixed(3)} s; peak RSS ${rb.rss.toFixed(0)} MB; medians of ${RUNS} (no peer compared)`)
    return
  }
  const best = (k: 'a' | 'b' | 'c' | 'd' | 'e', higher: boolean): [string, number] => peers.map(([n, r]) => [n, r[k]] as [string, number]).sort((x, y) => higher ? y[1] - x[1] : x[1] - y[1])[0] as [string, number]
  const [pa, va] = best('a', true); const [pb, vb] = best('b', true); const [pc, vc] = best('c', false)
  const ra = rb.a / va; const rbb = rb.b / vb; const rc = vc / rb.c
  const [pd, vd] = best('d', false)
  const [pe, ve] = best('e', false)
  const d = (Number.isNaN(rb.d) ? '' : ` (d) one-process storm, for information: ${rb.d.toFixed(3)} s vs ${pd} ${vd.toFixed(3)} s = ${(vd / rb.d).toFixed(2)}×;`) +
    (Number.isNaN(rb.e) ? '' : ` (e) its ${STORM}×${PXE}-byte storm: ${(rb.e * 1000).toFixed(1)} ms vs ${pe} ${(ve * 1000).toFixed(1)} ms = ${(ve / rb.e).toFixed(2)}×;`)
  const pass = ra >= 1 && rbb >= 1 && rc >= 1 && missing.length === 0
  console.log(`bench/tftp: (a) 64 MiB blksize 1468: rackboot ${rb.a.toFixed(1)} MB/s vs ${pa} ${va.toFixed(1)} = ${ra.toFixed(2)}×; (b) +windowsize 16: ${rb.b.toFixed(1)} MB/s vs ${pb} ${vb.toFixed(1)} = ${rbb.toFixed(2)}×; (c) storm ${STORM}×1 MiB: ${rb.c.toFixed(3)} s vs ${pc} ${vc.toFixed(3)} s = ${rc.toFixed(2)}×;${d} peak RSS ${rb.rss.toFixed(0)} MB [targets ≥ 1.0× the best peer in (a), (b), (c)]; medians of ${RUNS}, load avg ${load0.toFixed(1)}→${(loadavg()[0] as number).toFixed(1)} — ${pass ? 'PASS' : 'FAIL'}`)
  process.exitCode = pass ? 0 : 1
}

await main()
