// bench/install: installing the node image (images/debian-node, built first when build/ is
// missing) onto a VM's blank disk, end to end, under QEMU (TCG where KVM does not work here).
// (a) The installer's write throughput (its stream: download → SHA-256 → zstd -d → SHA-256 →
//     dd oflag=direct, from the first byte requested to the last byte written) against the plain
//     pipeline `curl | zstd -d | dd oflag=direct` of the same image from the same boot server onto
//     the same disk, in the same VM, run by the installer just before its own write
//     (`rackboot.baseline=1`, a bench-only kernel parameter): target ≥ 0.9×.
// (b) Power-on → provisioned for BIOS and UEFI, split from the machine's timeline and the VMs'
//     start and exit times: firmware (VM start → the install script), installer boot (→ the
//     installer's first report), write, verify (read-back), reboot (files, `installed`, the VM
//     restarted), OS boot (VM start → the installed OS's seed request), cloud-init (→ phone-home).
//     The baseline's own run is left out of the total. rackboot's share: the daemon's CPU time
//     (utime + stime) over the whole install, as a fraction of its wall time: target < 5%.
// (c) The daemon's peak RSS while 4 installers at once fetch what an installer fetches (script,
//     kernel, initrd, the whole disk image rate-limited so the streams overlap, reports, files)
//     with curl — the installer's own HTTP client — against its RSS idle after start: target < 1.2×.
// Everything runs in a network namespace of its own (10.79.0.0/24 on a bridge; nothing leaves).
// Daemon on CPU 0, QEMU on CPU 1. One VM at a time. RUNS (default 1) installs per firmware,
// medians. BENCH_KEEP=1 keeps the directory (config, daemon log, consoles) and says where.
// One summary line on stdout; PASS only when every target is met (exit code 0).
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, rssMiB, stopChild } from '../lib.js'
import { openNetns, waitListening, type Netns } from '../netns.js'
import { accel, bootVm, vmUnavailable, type Firmware, type Vm, type VmOwner } from '../vm.js'

const MAIN = fileURLToPath(new URL('../../../daemon/dist/main.js', import.meta.url))
const NODE = fileURLToPath(new URL('../../../images/debian-node/', import.meta.url))
const RUNS = Number(process.env.RUNS ?? 1)
const KEEP = process.env.BENCH_KEEP === '1'
const NET = '10.79.0'
const FIRMWARES: Firmware[] = ['bios', 'uefi']
const STREAMS = 4

interface Step { type: string; ts: string; detail: Record<string, unknown> }
interface MachineJson { state: string; stateReason: string | null }

const say = (s: string) => { console.error(`bench/install: ${s}`) }
const ticks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime, in clock ticks (100 per second here)
}
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function main (): Promise<void> {
  const why = vmUnavailable('uefi') ?? vmUnavailable('bios')
  if (why !== null) throw new Error(`cannot run here: ${why}`)
  if (!existsSync(join(NODE, 'build', 'manifest.json'))) {
    say('building images/debian-node first (about 3 min)')
    execFileSync('bash', [join(NODE, 'build.sh')], { stdio: ['ignore', 'inherit', 'inherit'] })
  }
  const acc = await accel()
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-bench-install-'))
  chmodSync(dir, 0o755)
  const images = join(dir, 'images')
  mkdirSync(join(images, 'node'), { recursive: true })
  writeFileSync(join(images, 'node', 'image.yaml'), `kind: disk\nmanifest: ${join(NODE, 'build', 'manifest.json')}\ncmdline: "rackboot.baseline=1"\n`)
  const ns: Netns = openNetns('install')
  ns.sh(`ip link add br0 type bridge stp_state 0 forward_delay 0 && ip addr add ${NET}.1/24 dev br0 && ip link set br0 up && sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0`)
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: info, format: json }\napi: { listen: 127.0.0.1:9080 }\nboot: { tftp: "0.0.0.0:69", http: "0.0.0.0:8080", imagesDir: ${images}, ipxeDir: /usr/lib/ipxe }\nlans:\n  - name: prov\n    interface: br0\n    subnet: ${NET}.0/24\n    address: ${NET}.1\n    gateway: ${NET}.1\n    dns: [${NET}.1]\n    installStreams: ${STREAMS}\n`)
  const token = execFileSync(process.execPath, [MAIN, 'token', 'create', '--name', 'bench', '--config', config], { encoding: 'utf8' }).trim()
  const fd = openSync(join(dir, 'rackboot.log'), 'a')
  const daemon: ChildProcess = ns.onCpu(0).spawn(process.execPath, [MAIN, 'serve', '--config', config], { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const cli = (args: string[]): string => execFileSync('ip', ['netns', 'exec', ns.name, 'env', `RACKBOOT_TOKEN=${token}`, 'RACKBOOT_API=http://127.0.0.1:9080', process.execPath, MAIN, ...args], { encoding: 'utf8' })
  const cleanups: Array<() => unknown> = []
  const owner: VmOwner = { teardown: fn => { cleanups.push(fn) }, comment: (...msg) => { say(msg.join(' ')) } }
  try {
    await waitListening(ns, ['udp:67', 'tcp:8080', 'tcp:9080'], { proc: daemon })
    const pid = daemon.pid as number
    await sleep(5000)
    const idle = rssMiB(pid)

    // (a) and (b): one VM at a time.
    const machine = (ref: string) => JSON.parse(cli(['machines', 'show', ref, '--json'])) as MachineJson
    const until = async (ref: string, pred: (m: MachineJson) => boolean, ms: number) => {
      const end = Date.now() + ms
      let m = machine(ref)
      while (!pred(m) && Date.now() < end) { await sleep(1000); m = machine(ref) }
      return m
    }
    const results = new Map<Firmware, Array<{ ratio: number; total: number; share: number; split: string }>>(FIRMWARES.map(f => [f, []]))
    let n = 0
    for (let run = 0; run < RUNS; run++) {
      for (const fw of FIRMWARES) {
        n++
        const ref = `${fw}-${run + 1}`
        const mac = `52:54:00:be:3${fw === 'bios' ? 1 : 2}:${(run + 1).toString(16).padStart(2, '0')}`
        cli(['machines', 'add', '--hostname', ref, '--mac', mac, '--lan', 'prov', '--ip', `${NET}.${20 + n}`, '--image', 'node'])
        const disk = join(dir, `${ref}.qcow2`)
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '4G'])
        const vm = (name: string): Promise<Vm> => bootVm(owner, {
          ns: ns.onCpu(1), bridge: 'br0', mac, firmware: fw, name, memoryMb: 512, timeoutMs: 900_000, consoleLog: join(dir, `${name}.console`),
          extraArgs: ['-drive', `file=${disk},if=none,id=d0,format=qcow2`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2']
        })
        const cpu0 = ticks(pid)
        const first = await vm(`${ref}a`)
        const m = await until(ref, x => x.state !== 'provisioning' && x.state !== 'ready', 880_000)
        if (m.state !== 'installed') throw new Error(`${ref}: the install ended ${m.state} (${m.stateReason ?? ''}); see ${join(dir, `${ref}a.console`)}`)
        const exit = await first.exited
        const firstEnd = first.startedAt + exit.ms
        const second = await vm(`${ref}b`)
        const p = await until(ref, x => x.state !== 'installed', 880_000)
        const end = Date.now()
        await second.kill()
        if (p.state !== 'provisioned') throw new Error(`${ref}: after the install it became ${p.state}, not provisioned`)
        const cpu = (ticks(pid) - cpu0) / HZ

        const con = first.console()
        const base = /RACKBOOT-BASELINE bytes=(\d+) seconds=([\d.]+)/.exec(con)
        const wrote = /wrote (\d+) bytes onto \S+ in ([\d.]+) s/.exec(con)
        if (base === null || wrote === null) throw new Error(`${ref}: no baseline or write timing on the console`)
        const baseS = Number(base[2])
        const writeS = Number(wrote[2])
        const steps = (JSON.parse(cli(['machines', 'timeline', ref, '--json', '--limit', '20'])) as { attempts: Array<{ steps: Step[] }> }).attempts.reverse().flatMap(a => a.steps)
        const at = (pred: (s: Step) => boolean, after = 0): number => {
          const s = steps.find(x => pred(x) && Date.parse(x.ts) >= after)
          if (s === undefined) throw new Error(`${ref}: a step is missing from the timeline: ${pred.toString()}`)
          return Date.parse(s.ts)
        }
        const install = (step: string) => (s: Step) => s.type === 'boot.install' && s.detail.step === step
        const tScript = at(s => s.type === 'boot.script' && s.detail.kind === 'install', first.startedAt)
        const tStarted = at(install('started'), first.startedAt)
        const tWritten = at(install('written'), first.startedAt)
        const tVerified = at(install('verified'), first.startedAt)
        const tSeed = at(s => s.type === 'boot.metadata', second.startedAt)
        const tHome = at(s => s.type === 'boot.phone-home', second.startedAt)
        const total = (end - first.startedAt) / 1000 - baseS
        const phases: Array<[string, number]> = [
          ['firmware', (tScript - first.startedAt) / 1000],
          ['installer boot', (tStarted - tScript) / 1000],
          ['write', (tWritten - tStarted) / 1000 - baseS],
          ['verify', (tVerified - tWritten) / 1000],
          ['reboot', (second.startedAt - tVerified) / 1000],
          ['OS boot', (tSeed - second.startedAt) / 1000],
          ['cloud-init', (tHome - tSeed) / 1000]
        ]
        const share = cpu / (total + baseS)
        const split = phases.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')
        say(`${fw} run ${run + 1}: write ${writeS.toFixed(1)} s vs baseline ${baseS.toFixed(1)} s (${(baseS / writeS).toFixed(3)}×); power-on → provisioned ${total.toFixed(1)} s [${split}]; VM exit ${((firstEnd - tVerified) / 1000).toFixed(1)} s after verified; daemon CPU ${cpu.toFixed(2)} s = ${(share * 100).toFixed(2)}%`)
        results.get(fw)?.push({ ratio: baseS / writeS, total, share, split })
      }
    }

    // (c): four installers' HTTP at once.
    const clients = Array.from({ length: STREAMS }, (_, i) => ({ ref: `rss-${i + 1}`, mac: `52:54:00:be:40:${(i + 1).toString(16).padStart(2, '0')}`, ip: `${NET}.${60 + i}` }))
    for (const c of clients) cli(['machines', 'add', '--hostname', c.ref, '--mac', c.mac, '--lan', 'prov', '--ip', c.ip, '--image', 'node'])
    let peak = rssMiB(pid)
    const before = rssMiB(pid)
    const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)) }, 100)
    const procs = clients.map(c => {
      // The installer's requests, in its order; the image at 25 MB/s so that the four overlap.
      const script = `set -e
s=$(curl -fsS 'http://${NET}.1:8080/boot/ipxe?mac=${c.mac}')
k=$(echo "$s" | sed -n 's/^kernel \\([^ ]*\\) .*/\\1/p'); i=$(echo "$s" | sed -n 's/^initrd \\(.*\\)/\\1/p')
r=$(echo "$s" | sed -n 's/.*rackboot\\.report=\\([^ ]*\\).*/\\1/p')
curl -fsS "$k" -o /dev/null; curl -fsS "$i" -o /dev/null
for st in started disk; do curl -fsS -H 'content-type: application/json' --data "{\\"step\\":\\"$st\\"}" "$r" -o /dev/null; done
curl -fsS --limit-rate 25M "$r/image" -o /dev/null
curl -fsS "$r/files" -o /dev/null
curl -fsS -H 'content-type: application/json' --data '{"step":"installed"}' "$r" -o /dev/null`
      return ns.spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] })
    })
    const codes = await Promise.all(procs.map(p => new Promise<number | null>(resolve => p.on('exit', resolve))))
    clearInterval(sampler)
    if (codes.some(c => c !== 0)) throw new Error(`(c): an installer's requests failed (exit codes ${codes.join(', ')})`)
    const states = clients.map(c => machine(c.ref).state)
    if (states.some(s => s !== 'installed')) throw new Error(`(c): not every client ended installed: ${states.join(', ')}`)
    say(`(c) RSS idle ${idle.toFixed(1)} MiB, before the streams ${before.toFixed(1)} MiB, peak during ${STREAMS} installs ${peak.toFixed(1)} MiB`)

    const aRows = FIRMWARES.map(fw => `${fw.toUpperCase()} ${median(results.get(fw)?.map(r => r.ratio) ?? []).toFixed(3)}×`)
    const bRows = FIRMWARES.map(fw => {
      const rs = results.get(fw) ?? []
      const mid = [...rs].sort((x, y) => x.total - y.total)[rs.length >> 1]
      return `${fw.toUpperCase()} ${median(rs.map(r => r.total)).toFixed(1)} s [${mid?.split ?? ''}] rackboot ${(median(rs.map(r => r.share)) * 100).toFixed(2)}%`
    })
    const aPass = FIRMWARES.every(fw => median(results.get(fw)?.map(r => r.ratio) ?? []) >= 0.9)
    const bPass = FIRMWARES.every(fw => median(results.get(fw)?.map(r => r.share) ?? []) < 0.05)
    const cPass = peak / idle < 1.2
    const pass = aPass && bPass && cPass
    console.log(`bench/install (${acc.toUpperCase()}): (a) installer write vs curl|zstd -d|dd in the same VM ${aRows.join(', ')} [target ≥ 0.9×]; (b) power-on → provisioned ${bRows.join('; ')} [target rackboot < 5%]; (c) peak RSS with ${STREAMS} installs ${peak.toFixed(1)} MiB vs idle ${idle.toFixed(1)} MiB = ${(peak / idle).toFixed(3)}× [target < 1.2×]; medians of ${RUNS} — ${pass ? 'PASS' : 'FAIL'}`)
    process.exitCode = pass ? 0 : 1
  } finally {
    for (const fn of cleanups.reverse()) await fn()
    await stopChild(daemon)
    ns.remove()
    if (KEEP) say(`config, daemon log and consoles are in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

await main()
