// A relayed LAN through a real relay (ISC dhcrelay) in its own namespace: the lease arrives,
// the reply goes back to the relay, and option 82 comes back exactly as the relay sent it.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decode, messageType, MessageType, Option } from '@rackboot/dhcp'
import { createNetns, netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { cli, MAIN, serve, tempDir } from '../helpers/daemon.js'
import { readPcapUdp } from '../helpers/pcap.js'

const why = netnsUnavailable(['dhcrelay', 'busybox', 'tcpdump'])

t.test('a lease on a relayed LAN through dhcrelay, option 82 echoed', async t => {
  if (!requireOrSkip(t, why)) return
  const dir = tempDir(t)
  const srv = await createNetns(t, 'rsrv')
  const rly = await createNetns(t, 'relay')
  const cl = await createNetns(t, 'rcli')
  const sh = (ns: typeof srv, cmd: string) => ns.run('sh', ['-c', cmd])
  // server <-> relay: 10.80.0.1 / 10.80.0.2; relay <-> clients: 10.90.0.1 on the relay
  await sh(srv, `ip link add up0 type veth peer name rup0 netns ${rly.name} && ip addr add 10.80.0.1/24 dev up0 && ip link set up0 up && ip route add 10.90.0.0/24 via 10.80.0.2`)
  await sh(rly, 'ip addr add 10.80.0.2/24 dev rup0 && ip link set rup0 up')
  await sh(rly, `ip link add rdown type veth peer name cl0 netns ${cl.name} && ip addr add 10.90.0.1/24 dev rdown && ip link set rdown up`)
  await sh(cl, 'ip link set cl0 address 52:54:00:90:00:01 && ip link set cl0 up')

  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:9080 }\nboot: { tftp: "127.0.0.1:0" }\nlans:\n  - name: rack2\n    relay: true\n    subnet: 10.90.0.0/24\n    address: 10.80.0.1\n    gateway: 10.90.0.1\n    dns: [10.80.0.1]\n    pool: 10.90.0.100-10.90.0.110\n    unknownMachines: lease\n`)
  const token = (await cli(['token', 'create', '--name', 't', '--config', config])).stdout.trim()
  const d = await serve(t, config, 9080, { netns: srv })
  await d.waitLog(l => l.msg === 'DHCP serving relayed LANs (requests with giaddr)')
  const r = await srv.run('env', [`RACKBOOT_TOKEN=${token}`, process.execPath, MAIN, 'machines', 'add', '--hostname', 'r2n1', '--mac', '52:54:00:90:00:01', '--lan', 'rack2', '--ip', '10.90.0.20'])
  t.equal(r.code, 0, r.stderr)

  const pcap = join(dir, 'relay.pcap')
  const dump = rly.spawn('tcpdump', ['-i', 'rup0', '-U', '-n', '-w', pcap, 'udp', 'port', '67'])
  const relay = rly.spawn('dhcrelay', ['-d', '-4', '-a', '-id', 'rdown', '-iu', 'rup0', '10.80.0.1'])
  let relayErr = ''
  relay.stderr?.on('data', b => { relayErr += String(b) })
  await new Promise(resolve => setTimeout(resolve, 1500))

  const script = join(dir, 'udhcpc.sh')
  writeFileSync(script, '#!/bin/sh\necho "$1 ip=$ip router=$router serverid=$serverid"\n', { mode: 0o755 })
  const got = await cl.run('busybox', ['udhcpc', '-i', 'cl0', '-n', '-q', '-t', '5', '-T', '2', '-s', script])
  t.equal(got.code, 0, relayErr)
  t.match(got.stdout, /bound ip=10\.90\.0\.20 router=10\.90\.0\.1 serverid=10\.80\.0\.1/, 'the reserved address on the relayed LAN')

  await new Promise(resolve => setTimeout(resolve, 500))
  dump.kill('SIGINT')
  await new Promise(resolve => dump.once('exit', resolve))
  relay.kill('SIGTERM')
  const packets = readPcapUdp(pcap).map(p => ({ ...p, dhcp: decode(p.payload) }))
  const requests = packets.filter(p => p.dhcp.op === 1 && p.dst === '10.80.0.1')
  const replies = packets.filter(p => p.dhcp.op === 2 && p.src === '10.80.0.1')
  t.same(requests.map(p => messageType(p.dhcp)), [MessageType.Discover, MessageType.Request], 'the relay forwarded DISCOVER and REQUEST')
  t.same(replies.map(p => messageType(p.dhcp)), [MessageType.Offer, MessageType.Ack], 'the server answered both')
  for (const rep of replies) {
    t.equal(rep.dst, '10.90.0.1', 'to the relay\'s giaddr')
    t.equal(rep.dport, 67, 'on the server port')
    const req = requests.find(q => q.dhcp.xid === rep.dhcp.xid)
    const sent = req?.dhcp.options.get(Option.RelayAgentInformation)
    t.ok(sent !== undefined && sent.length > 0, 'dhcrelay added option 82')
    t.same(rep.dhcp.options.get(Option.RelayAgentInformation), sent, 'option 82 echoed unchanged')
  }
})
