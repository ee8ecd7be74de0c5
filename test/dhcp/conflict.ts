// The address conflict check with real hosts: a namespace host that owns a pool address
// without a lease (a static address) answers pings, so rackboot never offers that address
// to busybox udhcpc, quarantines it and records a dhcp.conflict event; on a LAN where nobody
// answers, offers are what they would be without the check.
import t from 'tap'
import { join } from 'node:path'
import { decode, messageType, MessageType } from '@rackboot/dhcp'
import { readPcapUdp } from '../helpers/pcap.js'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { clientLog, dhcpLab, labMetric } from '../helpers/dhcp-lab.js'

const why = netnsUnavailable(['busybox', 'tcpdump'])

t.test('conflict check: an address in use is never offered; offers are unchanged where nobody answers', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [
    { name: 'busy', bridge: 'br-busy', cidr: '10.93.0.1/24', extra: '    pool: 10.93.0.100-10.93.0.103\n    unknownMachines: lease\n' },
    { name: 'calm', bridge: 'br-calm', cidr: '10.94.0.1/24', extra: '    pool: 10.94.0.100-10.94.0.103\n    unknownMachines: lease\n' }
  ], 'dhcp: { conflictCheck: { timeoutMs: 300 } }\n')
  // The squatter: 10.93.0.100, the first pool address, configured by hand; the kernel answers pings.
  const squatter = await lab.client('squat', 'br-busy', '52:54:00:c0:00:99')
  await squatter.run('ip', ['addr', 'add', '10.93.0.100/24', 'dev', squatter.ifname])
  await lab.start()
  // What rackboot actually sends on the busy LAN (tcpdump), not what it decided.
  const pcap = join(lab.dir, 'busy.pcap')
  const dump = lab.server.spawn('tcpdump', ['-i', 'br-busy', '--immediate-mode', '-U', '-n', '-w', pcap, 'udp', 'and', 'src', 'port', '67'])
  let dumpErr = ''
  dump.stderr?.on('data', (b: Buffer) => { dumpErr += String(b) })
  await new Promise(resolve => setTimeout(resolve, 1_000))

  const c1 = await lab.client('c1', 'br-busy', '52:54:00:c0:00:01')
  const r1 = await c1.run('busybox', ['udhcpc', '-i', c1.ifname, '-n', '-q', '-t', '5', '-T', '2', '-s', lab.scripts.udhcpc], { timeoutMs: 30_000 })
  t.equal(r1.code, 0, r1.stderr)
  const got1 = clientLog(lab, 'udhcpc').find(l => l.startsWith('bound ') && l.includes('mac=52:54:00:c0:00:01')) ?? ''
  t.match(got1, /ip=10\.93\.0\.101 /, `the client got the next address, not the squatter's (${got1})`)
  await new Promise(resolve => setTimeout(resolve, 500))
  dump.kill('SIGTERM')
  await new Promise(resolve => dump.once('exit', resolve))
  const offers = readPcapUdp(pcap).map(p => decode(p.payload)).filter(p => messageType(p) === MessageType.Offer).map(p => p.yiaddr)
  t.ok(offers.length >= 1, `offers were captured (${dumpErr.trim()})`)
  t.notOk(offers.includes('10.93.0.100'), `10.93.0.100 was never offered (${JSON.stringify(offers)})`)
  const events = lab.db(db => db.prepare("SELECT lan, mac, detail FROM events WHERE type = 'dhcp.conflict'").all() as Array<{ lan: string; mac: string; detail: string }>)
  t.equal(events.length, 1, 'one dhcp.conflict event')
  const detail = JSON.parse(events[0]?.detail ?? '{}') as Record<string, unknown>
  t.match(detail, { ip: '10.93.0.100', offeredTo: '52:54:00:c0:00:01', answeredBy: '52:54:00:c0:00:99', quarantineSeconds: 600 })
  const lease = lab.db(db => db.prepare("SELECT state, mac FROM leases WHERE ipv4 = '10.93.0.100'").get() as { state: string; mac: string } | undefined)
  t.match(lease, { state: 'declined', mac: '52:54:00:c0:00:99' }, 'the address is quarantined, held by the host that answered')
  t.equal(await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="busy",result="in-use"\} (\d+)/), 1)
  t.ok(await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="busy",result="free"\} (\d+)/) >= 1, 'the next candidate was probed too, and was free')

  // A second client: the quarantined address stays out, the next free one again.
  const c2 = await lab.client('c2', 'br-busy', '52:54:00:c0:00:02')
  const r2 = await c2.run('busybox', ['udhcpc', '-i', c2.ifname, '-n', '-q', '-t', '5', '-T', '2', '-s', lab.scripts.udhcpc], { timeoutMs: 30_000 })
  t.equal(r2.code, 0, r2.stderr)
  t.match(clientLog(lab, 'udhcpc').find(l => l.startsWith('bound ') && l.includes('mac=52:54:00:c0:00:02')) ?? '', /ip=10\.93\.0\.102 /)

  // Nobody answers on the calm LAN: the first pool address, as without the check.
  const c3 = await lab.client('c3', 'br-calm', '52:54:00:c0:00:03')
  const r3 = await c3.run('busybox', ['udhcpc', '-i', c3.ifname, '-n', '-q', '-t', '5', '-T', '2', '-s', lab.scripts.udhcpc], { timeoutMs: 30_000 })
  t.equal(r3.code, 0, r3.stderr)
  t.match(clientLog(lab, 'udhcpc').find(l => l.startsWith('bound ') && l.includes('mac=52:54:00:c0:00:03')) ?? '', /ip=10\.94\.0\.100 /)
  t.equal(await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="calm",result="free"\} (\d+)/), 1, 'probed once, no answer')
  t.equal(await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="calm",result="in-use"\} (\d+)/), 0)
  // Its renewal-time rediscover of the same address is not probed again (it holds it).
  const checksBefore = await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="calm",result="free"\} (\d+)/)
  const r4 = await c3.run('busybox', ['udhcpc', '-i', c3.ifname, '-n', '-q', '-t', '5', '-T', '2', '-s', lab.scripts.udhcpc], { timeoutMs: 30_000 })
  t.equal(r4.code, 0, r4.stderr)
  t.equal(await labMetric(lab, /rackboot_dhcp_conflict_checks_total\{lan="calm",result="free"\} (\d+)/), checksBefore, 'an address the client holds is not probed')
})
