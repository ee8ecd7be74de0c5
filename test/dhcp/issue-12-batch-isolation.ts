// Issue 12 regressions on a `discover` LAN: a packet that cannot be carried out (its discovered
// record's hostname is taken) fails alone, with an event, while the clients in its batches are
// answered; discovered records are bounded per LAN; repeated log lines are held back.
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab, labMetric as metric, type Lab } from '../helpers/dhcp-lab.js'

const STORM = fileURLToPath(new URL('../helpers/dhcp-storm.mjs', import.meta.url))
const why = netnsUnavailable(['curl'])
/** dhcp-storm.mjs's MAC for client `i`. */
const stormMac = (i: number) => `52:54:00:50:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`

async function storm (lab: Lab, clients: number, mode?: 'decline') {
  const c = await lab.client(`storm${mode ?? ''}`, 'br-prov', '52:54:00:ff:00:01')
  await c.run('ip', ['route', 'add', 'default', 'dev', c.ifname])
  const out = join(lab.dir, `storm-${mode ?? 'dora'}.jsonl`)
  const r = await c.run(process.execPath, [STORM, c.ifname, String(clients), '1', out, ...(mode === undefined ? [] : [mode])], { timeoutMs: 120_000 })
  t.equal(r.code, 0, r.stderr)
  return existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as { mac: string; ip?: string }) : []
}

t.test('a client whose discovered hostname is taken fails alone; its batches are answered', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.250\n    unknownMachines: discover\n' }])
  await lab.start()
  // client 3's generated name, taken by a registered machine with another MAC
  const taken = `discovered-${stormMac(3).replace(/:/g, '')}`
  const add = await lab.cli(['machines', 'add', '--hostname', taken, '--mac', '52:54:00:aa:aa:aa', '--lan', 'prov', '--ip', '10.77.0.20'])
  t.equal(add.code, 0, add.stderr)

  const acks = await storm(lab, 16)
  const got = new Set(acks.map(a => a.mac))
  t.equal(got.size, 15, `every other client got a lease (${got.size} of 15)`)
  t.notOk(got.has(stormMac(3)), 'the conflicting client did not')
  const logs = lab.daemon?.logs() ?? []
  t.same(logs.filter(l => /batch failed/.test(l.msg ?? '')).map(l => l.msg), [], 'no batch failed as a whole')
  const failed = JSON.parse((await lab.cli(['events', '--type', 'dhcp.failed', '--json'])).stdout.trim() || 'null')
  t.match(failed, { type: 'dhcp.failed', lan: 'prov', mac: stormMac(3), detail: { reason: 'RB_CONFLICT_HOSTNAME', msgType: 'request' } })
  t.match(failed.detail.message, taken)
  t.ok(await metric(lab, /rackboot_dhcp_dropped_total\{lan="prov",reason="failed"\} (\d+)/) >= 1, 'counted as a drop')
  const discovered = lab.db(db => db.prepare("SELECT count(*) AS n FROM machines WHERE state = 'discovered'").get() as { n: number })
  t.equal(discovered.n, 15, 'the others were discovered')
})

t.test('discovered records are bounded per LAN; repeated log lines are held back', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.250\n    unknownMachines: discover\n    maxDiscovered: 5\n' }])
  await lab.start()
  const acks = await storm(lab, 8)
  t.equal(new Set(acks.map(a => a.mac)).size, 5, 'five clients were discovered and leased')
  t.equal(lab.db(db => (db.prepare('SELECT count(*) AS n FROM machines').get() as { n: number }).n), 5, 'no more records than maxDiscovered')
  t.ok(await metric(lab, /rackboot_dhcp_dropped_total\{lan="prov",reason="discover-limit"\} (\d+)/) >= 3, 'the rest counted as discover-limit drops')
  const limit = (await lab.cli(['events', '--type', 'dhcp.discover-limit', '--json'])).stdout.trim().split('\n').filter(Boolean)
  t.equal(limit.length, 1, 'one dhcp.discover-limit event a minute per LAN')
  t.match(JSON.parse(limit[0] ?? '{}'), { lan: 'prov', detail: { maxDiscovered: 5 } })

  // 100 declines: every one recorded, at most 60 log lines for them
  lab.daemon?.proc.kill('SIGKILL')
  await lab.daemon?.exited
  writeFileSync(lab.config, readFileSync(lab.config, 'utf8').replace('unknownMachines: discover', 'unknownMachines: lease'))
  await lab.start()
  const declined = await storm(lab, 100, 'decline')
  t.equal(declined.length, 100)
  await new Promise(resolve => setTimeout(resolve, 500))
  const events = lab.db(db => (db.prepare("SELECT count(*) AS n FROM events WHERE type = 'dhcp.declined'").get() as { n: number }).n)
  t.equal(events, 100, 'every decline is an event')
  const lines = (lab.daemon?.logs() ?? []).filter(l => l.msg === 'dhcp.declined').length
  t.equal(lines, 60, 'the log holds back the lines beyond 60 a minute')
})
