// The DHCP service under change and abuse: SIGHUP adds a LAN without dropping leases, a
// recreated interface is picked up again, one chatty MAC is rate limited, an exhausted pool
// answers nothing (and says so once), all against busybox udhcpc.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab, clientLog, labMetric as metric, type Lab, type Client } from '../helpers/dhcp-lab.js'

const why = netnsUnavailable(['busybox'])

async function lease (lab: Lab, c: Client, tries = 4): Promise<string | null> {
  const r = await c.run('busybox', ['udhcpc', '-i', c.ifname, '-n', '-q', '-t', String(tries), '-T', '1', '-s', lab.scripts.udhcpc])
  if (r.code !== 0) return null
  const mac = (await c.run('cat', [`/sys/class/net/${c.ifname}/address`])).stdout.trim()
  const line = [...clientLog(lab, 'udhcpc')].reverse().find(l => l.includes(`mac=${mac}`) && /^(bound|renew) /.test(l))
  return /ip=(\S+)/.exec(line ?? '')?.[1] ?? null
}

t.test('SIGHUP adds and changes LANs without dropping leases; a recreated bridge is served again', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.110\n    unknownMachines: lease\n' }])
  await lab.start()
  const a = await lab.client('a', 'br-prov', '52:54:00:d0:00:01')
  const first = await lease(lab, a)
  t.match(first, /^10\.77\.0\.1\d\d$/)

  // a second LAN appears (its bridge too) and the first LAN's DNS changes, by SIGHUP
  await lab.server.run('sh', ['-c', 'ip link add br-two type bridge stp_state 0 forward_delay 0 && ip addr add 10.78.0.1/24 dev br-two && ip link set br-two up'])
  const cfg = readFileSync(lab.config, 'utf8').replace('dns: [10.77.0.1]', 'dns: [10.77.0.53]') +
    '  - name: two\n    interface: br-two\n    subnet: 10.78.0.0/24\n    address: 10.78.0.1\n    pool: 10.78.0.100-10.78.0.110\n    unknownMachines: lease\n'
  writeFileSync(lab.config, cfg)
  lab.daemon?.proc.kill('SIGHUP')
  await lab.daemon?.waitLog(l => l.msg === 'DHCP serving' && l.lan === 'two')
  const b = await lab.client('b', 'br-two', '52:54:00:d0:00:02')
  t.match(await lease(lab, b), /^10\.78\.0\.1\d\d$/, 'the new LAN serves at once')
  t.equal(await lease(lab, a), first, 'the old LAN kept its lease')
  t.match([...clientLog(lab, 'udhcpc')].reverse().find(l => l.startsWith('bound ') && l.includes('mac=52:54:00:d0:00:01')) ?? '', /dns=10\.77\.0\.53/, 'and hands out the changed DNS')

  // the bridge goes away and comes back: the socket is reopened on the new interface
  await lab.server.run('ip', ['link', 'del', 'br-prov'])
  await lab.daemon?.waitLog(l => /interface went away/.test(l.msg ?? ''), 10_000)
  await lab.server.run('sh', ['-c', `ip link add br-prov type bridge stp_state 0 forward_delay 0 && ip addr add 10.77.0.1/24 dev br-prov && ip link set br-prov up && ip link set ${a.peer} master br-prov`])
  const reopened = lab.daemon?.logs().filter(l => l.msg === 'DHCP serving' && l.lan === 'prov').length ?? 0
  await lab.daemon?.waitLog(l => l.msg === 'DHCP serving' && l.lan === 'prov' && (lab.daemon?.logs().filter(x => x.msg === 'DHCP serving' && x.lan === 'prov').length ?? 0) > reopened, 10_000)
  t.equal(await lease(lab, a), first, 'served again on the recreated bridge, same lease')
})

t.test('one chatty MAC is rate limited; an exhausted pool answers nothing and records it once', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.101\n    unknownMachines: lease\n' }], 'dhcp: { ratePerMac: 5 }\n')
  await lab.start()
  // pool of two: two clients get one each, the third gets nothing
  const x = await lab.client('x', 'br-prov', '52:54:00:e0:00:02')
  const y = await lab.client('y', 'br-prov', '52:54:00:e0:00:03')
  const z = await lab.client('z', 'br-prov', '52:54:00:e0:00:04')
  const ipx = await lease(lab, x)
  const ipy = await lease(lab, y)
  t.same([ipx, ipy].sort(), ['10.77.0.100', '10.77.0.101'])
  t.equal(await lease(lab, z, 3), null, 'no address for the third client')
  const ev = await lab.cli(['events', '--type', 'dhcp.pool-exhausted', '--json'])
  const events = ev.stdout.trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as { mac: string; lan: string })
  t.same(events.map(e => [e.lan, e.mac]), [['prov', '52:54:00:e0:00:04']], 'recorded once for that client, not per retry')
  t.ok(await metric(lab, /rackboot_dhcp_dropped_total\{lan="prov",reason="pool-exhausted"\} (\d+)/) >= 2, 'each DISCOVER counted')

  // one MAC flooding DISCOVERs: at most its burst is answered
  const c = await lab.client('chatty', 'br-prov', '52:54:00:e0:00:01')
  await c.run('ip', ['addr', 'add', '10.77.0.222/24', 'dev', c.ifname])
  await c.run('ip', ['route', 'add', 'default', 'dev', c.ifname])
  const flood = `
    const dgram = require('node:dgram'); const s = dgram.createSocket('udp4');
    s.bind(68, () => { s.setBroadcast(true); let n = 0;
      const p = Buffer.alloc(300); p[0] = 1; p[1] = 1; p[2] = 6; p.writeUInt32BE(0x11223344, 4);
      Buffer.from([0x52,0x54,0,0xe0,0,1]).copy(p, 28); p.writeUInt32BE(0x63825363, 236);
      p[240] = 53; p[241] = 1; p[242] = 1; p[243] = 255;
      const next = (err) => { if (err) { console.error(err); process.exit(1) } if (n++ === 100) return s.close(); s.send(p, 67, '255.255.255.255', next) }; next() })`
  const r = await c.run(process.execPath, ['-e', flood])
  t.equal(r.code, 0, r.stderr)
  await new Promise(resolve => setTimeout(resolve, 500))
  const limited = await metric(lab, /rackboot_dhcp_dropped_total\{lan="prov",reason="rate-limited"\} (\d+)/)
  const offers = await metric(lab, /rackboot_dhcp_sent_total\{lan="prov",type="offer"\} (\d+)/)
  t.ok(limited >= 85, `${limited} of 100 DISCOVERs from one MAC were rate limited`)
  t.ok(offers <= 15, `only ${offers} offers went out`)

})
