// A DHCP lab in network namespaces: a server namespace with one bridge per LAN (the daemon
// binds to the bridges), client namespaces plugged into a bridge through a veth whose client
// end has no address until a DHCP client configures it. Everything lives in namespaces the
// test made (bench/netns.ts removes them), with 10.x addresses only.
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createNetns, type Netns } from '../../bench/netns.js'
import { cli, MAIN, serve, tempDir, type Running } from './daemon.js'

interface Tap { teardown (fn: () => unknown): void; fail (msg: string): unknown; comment (...msg: unknown[]): unknown }

export type Client = Netns & { peer: string; ifname: string }

export interface LabLan { name: string; bridge: string; cidr: string; extra?: string; /** Without the gateway and dns lines (a proxyDHCP LAN refuses them). */ bare?: boolean }

export interface Lab {
  dir: string
  server: Netns
  config: string
  token: string
  daemon: Running | null
  start (): Promise<Running>
  /**
   * Plugs a new client namespace into `bridge`; its interface is `rbc<pid>n` (unique, so that
   * clients keeping lease files by interface name — dhcpcd — never see another test's) with MAC `mac`.
   */
  client (label: string, bridge: string, mac: string): Promise<Client>
  /** Moves a client's cable to another bridge (same MAC). */
  replug (client: Netns, bridge: string): Promise<void>
  /** `rackboot ARGS` (the CLI) run inside the server namespace, where the API listens. */
  cli (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  /** A read-only look at the daemon's database. */
  db <T> (fn: (db: Database.Database) => T): T
  scripts: { udhcpc: string; dhclient: string; dhcpcd: string }
}

let plugs = 0

export async function dhcpLab (t: Tap, lans: LabLan[], extraYaml = '', opts: { boot?: string } = {}): Promise<Lab> {
  const dir = tempDir(t)
  const server = await createNetns(t, 'dhcpsrv')
  for (const l of lans) {
    await server.run('ip', ['link', 'add', l.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
    await server.run('ip', ['addr', 'add', l.cidr, 'dev', l.bridge])
    await server.run('ip', ['link', 'set', l.bridge, 'up'])
  }
  const lanYaml = lans.map(l => {
    const [addr, prefix] = l.cidr.split('/') as [string, string]
    const net = addr.split('.').slice(0, 3).join('.') + '.0'
    return `  - name: ${l.name}\n    interface: ${l.bridge}\n    subnet: ${net}/${prefix}\n    address: ${addr}\n${l.bare === true ? '' : `    gateway: ${addr}\n    dns: [${addr}]\n`}${l.extra ?? ''}`
  }).join('')
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:9080 }\n${opts.boot ?? 'boot: { tftp: "127.0.0.1:0", http: "0.0.0.0:8080" }'}\n${extraYaml}lans:\n${lanYaml}`)
  const token = (await cli(['token', 'create', '--name', 'lab', '--config', config])).stdout.trim()

  const out = (name: string) => join(dir, `${name}.out`)
  const scripts = {
    // Each client appends what it got to <dir>/<tool>.out (one line per event) and configures the address.
    udhcpc: join(dir, 'udhcpc.sh'),
    dhclient: join(dir, 'dhclient.sh'),
    dhcpcd: join(dir, 'dhcpcd.sh')
  }
  writeFileSync(scripts.udhcpc, `#!/bin/sh\necho "$1 ip=$ip mac=$(cat /sys/class/net/$interface/address) hostname=$hostname router=$router dns=$dns" >> ${out('udhcpc')}\ncase "$1" in bound|renew) ip addr flush dev $interface; ip addr add $ip/$mask dev $interface ;; deconfig) ip addr flush dev $interface ;; esac\n`)
  writeFileSync(scripts.dhclient, `#!/bin/sh\necho "$reason ip=$new_ip_address mac=$(cat /sys/class/net/$interface/address) routers=$new_routers" >> ${out('dhclient')}\ncase "$reason" in BOUND|RENEW|REBIND|REBOOT) ip addr flush dev $interface; ip addr add $new_ip_address/24 dev $interface ;; esac\n`)
  writeFileSync(scripts.dhcpcd, `#!/bin/sh\necho "$reason ip=$new_ip_address mac=$(cat /sys/class/net/$interface/address) routers=$new_routers" >> ${out('dhcpcd')}\n`)
  for (const s of Object.values(scripts)) chmodSync(s, 0o755)

  const lab: Lab = {
    dir,
    server,
    config,
    token,
    daemon: null,
    scripts,
    async start () {
      lab.daemon = await serve(t, config, 9080, { netns: server })
      await lab.daemon.waitLog(l => typeof l.msg === 'string' && l.msg.startsWith('DHCP serving') && l.lan === lans[lans.length - 1]?.name)
      return lab.daemon
    },
    async client (label, bridge, mac) {
      const ns = await createNetns(t, label)
      const n = plugs++
      const peer = `rbp${process.pid}x${n}`.slice(0, 15)
      const ifname = `rbc${process.pid}x${n}`.slice(0, 15)
      await server.run('ip', ['link', 'add', peer, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns.name])
      await ns.run('ip', ['link', 'set', ifname, 'address', mac])
      await server.run('ip', ['link', 'set', peer, 'master', bridge])
      await server.run('ip', ['link', 'set', peer, 'up'])
      await ns.run('ip', ['link', 'set', ifname, 'up'])
      t.teardown(() => { for (const f of [`/var/lib/dhcpcd/${ifname}.lease`, `/var/lib/dhcpcd/${ifname}.lease6`]) rmSync(f, { force: true }) })
      return Object.assign(ns, { peer, ifname })
    },
    async replug (client, bridge) {
      const peer = (client as Client).peer
      await server.run('ip', ['link', 'set', peer, 'nomaster'])
      await server.run('ip', ['link', 'set', peer, 'master', bridge])
    },
    cli (args) {
      return server.run('env', [`RACKBOOT_TOKEN=${token}`, 'RACKBOOT_API=http://127.0.0.1:9080', process.execPath, MAIN, ...args]).then(r => ({ code: r.code, stdout: r.stdout, stderr: r.stderr }))
    },
    db (fn) {
      const db = new Database(join(dir, 'var', 'rackboot.db'), { readonly: true })
      try { return fn(db) } finally { db.close() }
    }
  }
  return lab
}

/** Lines a client script wrote so far. */
export function clientLog (lab: Lab, tool: 'udhcpc' | 'dhclient' | 'dhcpcd'): string[] {
  try {
    return readFileSync(join(lab.dir, `${tool}.out`), 'utf8').trim().split('\n').filter(Boolean)
  } catch { return [] }
}

/** The first group of `re` in the daemon's /metrics (in the server namespace), as a number; 0 when absent. */
export async function labMetric (lab: Lab, re: RegExp): Promise<number> {
  const m = await lab.server.run('curl', ['-s', 'http://127.0.0.1:9080/metrics'])
  return Number(re.exec(m.stdout)?.[1] ?? 0)
}
