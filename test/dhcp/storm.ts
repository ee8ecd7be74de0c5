// SIGKILL in the middle of a lease storm: after a restart, no address was ever given to two
// MACs, and every ACK a client received is in the lease table (leases commit before ACKs leave).
import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab } from '../helpers/dhcp-lab.js'

const STORM = fileURLToPath(new URL('../helpers/dhcp-storm.mjs', import.meta.url))
const CLIENTS = 120

t.test('SIGKILL during a lease storm: no address twice, no acknowledged lease lost', async t => {
  if (!requireOrSkip(t, netnsUnavailable())) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.250\n    unknownMachines: lease\n    leaseTime: 10m\n' }])
  let d = await lab.start()
  const c = await lab.client('storm', 'br-prov', '52:54:00:ff:00:01')
  await c.run('ip', ['route', 'add', 'default', 'dev', c.ifname])
  const out = join(lab.dir, 'acks.jsonl')
  const acks = () => existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as { mac: string; ip: string; at: number }) : []

  const storm = c.spawn(process.execPath, [STORM, c.ifname, String(CLIENTS), '2', out])
  let stormErr = ''
  storm.stderr?.on('data', b => { stormErr += String(b) })
  const stormDone = new Promise<number | null>(resolve => storm.on('exit', code => resolve(code)))
  while (acks().length < 40) await new Promise(resolve => setTimeout(resolve, 20))
  d.proc.kill('SIGKILL')
  const killedAt = Date.now()
  t.same(await d.exited, { code: null, signal: 'SIGKILL' })
  t.comment(`killed after ${acks().length} ACKs`)
  d = await lab.start()
  t.equal(await stormDone, 0, stormErr)

  const all = acks()
  t.ok(all.some(a => a.at > killedAt), 'clients kept getting leases after the restart')
  // 1. never one address for two MACs (leases last 10 minutes: nothing expired meanwhile)
  const byIp = new Map<string, Set<string>>()
  for (const a of all) byIp.set(a.ip, (byIp.get(a.ip) ?? new Set()).add(a.mac))
  t.same([...byIp].filter(([, macs]) => macs.size > 1).map(([ip, macs]) => `${ip}: ${[...macs].join(' ')}`), [], 'no address given to two MACs')
  // 2. a MAC keeps its address across rounds and the restart
  const byMac = new Map<string, Set<string>>()
  for (const a of all) byMac.set(a.mac, (byMac.get(a.mac) ?? new Set()).add(a.ip))
  t.same([...byMac].filter(([, ips]) => ips.size > 1).map(([mac, ips]) => `${mac}: ${[...ips].join(' ')}`), [], 'every MAC kept one address')
  t.equal(byMac.size, CLIENTS, 'every client got a lease')
  // 3. every acknowledged lease is in the table
  const rows = lab.db(db => db.prepare("SELECT ipv4, mac, state FROM leases WHERE lan = 'prov'").all() as Array<{ ipv4: string; mac: string; state: string }>)
  const stored = new Set(rows.filter(r => r.state === 'bound').map(r => `${r.mac} ${r.ipv4}`))
  t.same(all.map(a => `${a.mac} ${a.ip}`).filter(k => !stored.has(k)), [], 'every ACK a client got is a bound lease')
  t.equal(new Set(rows.filter(r => r.state === 'bound').map(r => r.mac)).size, rows.filter(r => r.state === 'bound').length, 'one bound lease per MAC')
})
