// The DHCP conformance fixes against real peers: ISC dhclient sending a client identifier
// and a 576-byte option 57 while asking for more options than fit, dhcpcd's default client
// identifier echoed, two client identifiers behind one MAC on a `leaseIdentity: client-id`
// LAN, and ISC dhcrelay's RFC 3527 link-selection sub-option (`-U`). Captures (tcpdump)
// check what went over the wire.
import t from 'tap'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decode, messageType, MessageType, Option, relayLinkSelection } from '@rackboot/dhcp'
import { createNetns, netnsUnavailable, requireOrSkip, type Netns } from '../../bench/netns.js'
import { cli, serve, tempDir } from '../helpers/daemon.js'
import { dhcpLab, labMetric } from '../helpers/dhcp-lab.js'
import { readPcapUdp } from '../helpers/pcap.js'

const why = netnsUnavailable(['dhclient', 'dhcpcd', 'dhcrelay', 'busybox', 'tcpdump'])
const BIG = 'y'.repeat(110)
const hex = (b: Uint8Array | undefined) => b === undefined ? undefined : Buffer.from(b).toString('hex')

/** Starts tcpdump on `iface` in `ns`; `stop()` ends it and returns the DHCP packets it saw. */
async function capture (ns: Netns, iface: string, file: string) {
  const dump = ns.spawn('tcpdump', ['-i', iface, '-U', '--immediate-mode', '-n', '-s', '0', '-w', file, 'udp', 'and', '(port', '67', 'or', 'port', '68)'])
  let err = ''
  dump.stderr?.on('data', b => { err += String(b) })
  for (let i = 0; i < 50 && !/listening on/.test(err); i++) await new Promise(resolve => setTimeout(resolve, 100))
  const exited = new Promise(resolve => dump.once('exit', resolve))
  return {
    get log () { return err },
    async stop () {
      await new Promise(resolve => setTimeout(resolve, 300))
      dump.kill('SIGINT')
      await exited
      return readPcapUdp(file).map(p => ({ ...p, dhcp: decode(p.payload) }))
    }
  }
}

t.test('dhclient with 61=00:01:02:03:04:05:06 and option 57 = 576, asking for ~700 bytes of options: bound, 61 echoed, every reply ≤ 548 bytes', async t => {
  if (!requireOrSkip(t, why)) return
  const opts = [224, 225, 226, 227, 228, 229].map(code => `      - { code: ${code}, text: "${BIG}" }`).join('\n')
  const lab = await dhcpLab(t, [{ name: 'fat', bridge: 'rbfat0', cidr: '10.61.0.1/24', extra: `    pool: 10.61.0.100-10.61.0.150\n    unknownMachines: lease\n    domainSearch: [a.rack.example, b.rack.example]\n    options:\n${opts}\n` }])
  await lab.start()
  const c = await lab.client('c57', 'rbfat0', '52:54:00:61:00:01')
  const conf = join(lab.dir, 'dhclient-57.conf')
  writeFileSync(conf, [
    'send dhcp-client-identifier 00:01:02:03:04:05:06;',
    'send dhcp-max-message-size 576;',
    ...[224, 225, 226, 227, 228, 229].map(code => `option rb${code} code ${code} = text;`),
    'request subnet-mask, routers, domain-name-servers, domain-search, rb224, rb225, rb226, rb227, rb228, rb229;',
    ''
  ].join('\n'))
  const script = join(lab.dir, 'dhclient-57.sh')
  writeFileSync(script, `#!/bin/sh\necho "$reason ip=$new_ip_address routers=$new_routers rb224=\${#new_rb224}" >> ${lab.dir}/dhclient-57.out\n`, { mode: 0o755 })
  const cap = await capture(lab.server, 'rbfat0', join(lab.dir, 'c57.pcap'))
  const r = await c.run('dhclient', ['-4', '-1', '-v', '-cf', conf, '-sf', script, '-lf', `${lab.dir}/c57.leases`, '-pf', `${lab.dir}/c57.pid`, c.ifname], { timeoutMs: 30_000 })
  await c.run('sh', ['-c', `kill $(cat ${lab.dir}/c57.pid) 2>/dev/null || true`])
  const packets = await cap.stop()
  t.equal(r.code, 0, `dhclient got a lease: ${r.stderr.slice(-400)}`)
  const out = (await c.run('cat', [`${lab.dir}/dhclient-57.out`])).stdout
  t.match(out, /BOUND ip=10\.61\.0\.1\d\d routers=10\.61\.0\.1 rb224=110/, 'bound, with the first custom option it asked for (whole)')

  const requests = packets.filter(p => p.dhcp.op === 1)
  const replies = packets.filter(p => p.dhcp.op === 2)
  t.ok(requests.length >= 2, `DISCOVER and REQUEST captured (${packets.length} packets; tcpdump: ${cap.log})`)
  for (const q of requests) {
    t.equal(hex(q.dhcp.options.get(Option.MaxMessageSize)), '0240', 'dhclient sent option 57 = 576')
    t.equal(hex(q.dhcp.options.get(Option.ClientIdentifier)), '00010203040506', 'and 61 as configured')
  }
  t.same(replies.map(p => messageType(p.dhcp)), [MessageType.Offer, MessageType.Ack], 'an OFFER and an ACK, not silence')
  for (const rep of replies) {
    t.ok(rep.payload.length <= 548, `${messageType(rep.dhcp) === MessageType.Offer ? 'OFFER' : 'ACK'} is ${rep.payload.length} bytes (≤ 576 − 28)`)
    t.equal(hex(rep.dhcp.options.get(Option.ClientIdentifier)), '00010203040506', 'option 61 echoed unaltered')
  }
  const leftOut = await labMetric(lab, /rackboot_dhcp_options_left_out_total\{lan="fat",option="229"\} (\d+)/)
  t.ok(leftOut >= 1, `what did not fit is counted (option 229 left out ${leftOut}×)`)
})

t.test('dhcpcd\'s default client identifier is echoed; two client identifiers behind one MAC get two leases on a client-id LAN', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'byid', bridge: 'rbid0', cidr: '10.62.0.1/24', extra: '    pool: 10.62.0.100-10.62.0.150\n    unknownMachines: lease\n    leaseIdentity: client-id\n' }])
  await lab.start()
  const c = await lab.client('cid', 'rbid0', '52:54:00:62:00:01')
  const cap = await capture(lab.server, 'rbid0', join(lab.dir, 'cid.pcap'))
  // Debian's dhcpcd.conf says `duid`: 61 = 0xff, IAID, DUID (RFC 4361). dhcpcd keeps the DUID in
  // /var/lib/dhcpcd/duid, created on first use: removed afterwards if this test created it.
  const conf = join(lab.dir, 'dhcpcd.conf')
  writeFileSync(conf, 'duid\n')
  const duidFile = '/var/lib/dhcpcd/duid'
  if (!existsSync(duidFile)) t.teardown(() => { rmSync(duidFile, { force: true }) })
  const dc = await c.run('dhcpcd', ['-4', '-1', '-B', '-A', '-f', conf, '-c', lab.scripts.dhcpcd, '-t', '20', c.ifname], { timeoutMs: 40_000 })
  t.equal(dc.code, 0, dc.stderr.slice(-400))
  await c.run('sh', ['-c', `ip addr flush dev ${c.ifname}`])

  const dhcl = async (clientId: string) => {
    const conf = join(lab.dir, `dh-${clientId}.conf`)
    writeFileSync(conf, `send dhcp-client-identifier ${clientId};\n`)
    const r = await c.run('dhclient', ['-4', '-1', '-v', '-cf', conf, '-sf', lab.scripts.dhclient, '-lf', `${lab.dir}/dh-${clientId}.leases`, '-pf', `${lab.dir}/dh.pid`, c.ifname], { timeoutMs: 30_000 })
    // Stopped without a RELEASE (SIGTERM): the lease stays bound, as a client that went quiet.
    await c.run('sh', ['-c', `kill $(cat ${lab.dir}/dh.pid)`])
    await c.run('sh', ['-c', `ip addr flush dev ${c.ifname}`])
    return r
  }
  t.equal((await dhcl('01:aa:aa:aa:aa:aa:aa')).code, 0)
  t.equal((await dhcl('01:bb:bb:bb:bb:bb:bb')).code, 0)
  const packets = await cap.stop()

  const byXid = new Map(packets.filter(p => p.dhcp.op === 1).map(p => [p.dhcp.xid, p.dhcp]))
  const replies = packets.filter(p => p.dhcp.op === 2)
  t.ok(replies.length >= 6, `${replies.length} replies for three clients`)
  for (const rep of replies) {
    const req = byXid.get(rep.dhcp.xid)
    t.ok(req?.options.has(Option.ClientIdentifier), `every client sent a client identifier (dhcpcd as Debian configures it): xid ${rep.dhcp.xid} reply ${messageType(rep.dhcp) ?? '-'} to ${req === undefined ? 'no captured request' : `request ${messageType(req) ?? '-'} with ${[...req.options.keys()].join(',')}`}`)
    t.equal(hex(rep.dhcp.options.get(Option.ClientIdentifier)), hex(req?.options.get(Option.ClientIdentifier)), 'echoed unaltered')
  }
  const rows = lab.db(db => db.prepare("SELECT ipv4, client_key FROM leases WHERE lan = 'byid' AND mac = '52:54:00:62:00:01' AND state = 'bound' ORDER BY client_key").all() as Array<{ ipv4: string; client_key: string }>)
  t.equal(rows.length, 3, `three bound leases behind one MAC: ${JSON.stringify(rows)}`)
  t.equal(new Set(rows.map(r => r.ipv4)).size, 3, 'three different addresses')
  t.same(rows.map(r => r.client_key), ['id:01aaaaaaaaaaaa', 'id:01bbbbbbbbbbbb', rows[2]?.client_key], 'keyed by the client identifiers')
  t.match(rows[2]?.client_key, /^id:ff[0-9a-f]{8}0004|^id:ff[0-9a-f]{8}000[1-3]/, 'dhcpcd\'s lease keyed by its RFC 4361 identifier (0xff, IAID, DUID)')
})

t.test('dhcrelay -U (RFC 3527 link selection): giaddr is the relay\'s upstream address, the LAN comes from sub-option 5', async t => {
  if (!requireOrSkip(t, why)) return
  const dir = tempDir(t)
  const srv = await createNetns(t, 'lssrv')
  const rly = await createNetns(t, 'lsrly')
  const cl = await createNetns(t, 'lscli')
  const sh = (ns: Netns, cmd: string) => ns.run('sh', ['-c', cmd])
  // server <-> relay: 10.81.0.1 / 10.81.0.2; relay <-> clients: 10.92.0.1 on the relay
  await sh(srv, `ip link add up0 type veth peer name rup0 netns ${rly.name} && ip addr add 10.81.0.1/24 dev up0 && ip link set up0 up`)
  await sh(rly, 'ip addr add 10.81.0.2/24 dev rup0 && ip link set rup0 up')
  await sh(rly, `ip link add rdown type veth peer name cl0 netns ${cl.name} && ip addr add 10.92.0.1/24 dev rdown && ip link set rdown up`)
  await sh(cl, 'ip link set cl0 address 52:54:00:92:00:01 && ip link set cl0 up')
  const config = join(dir, 'rackboot.yaml')
  writeFileSync(config, `dataDir: ${join(dir, 'var')}\nlog: { level: debug, format: json }\napi: { listen: 127.0.0.1:9080 }\nboot: { tftp: "127.0.0.1:0" }\nlans:\n  - name: far\n    relay: true\n    subnet: 10.92.0.0/24\n    address: 10.81.0.1\n    gateway: 10.92.0.1\n    pool: 10.92.0.100-10.92.0.110\n    unknownMachines: lease\n`)
  await cli(['token', 'create', '--name', 't', '--config', config])
  const d = await serve(t, config, 9080, { netns: srv })
  await d.waitLog(l => l.msg === 'DHCP serving relayed LANs (requests with giaddr)')

  const pcap = join(dir, 'ls.pcap')
  const cap = await capture(rly, 'rup0', pcap)
  // With -U, dhcrelay takes rup0 as its upstream itself (adding `-iu rup0` too makes it forward nothing).
  const relay = rly.spawn('dhcrelay', ['-d', '-4', '-a', '-U', 'rup0', '-id', 'rdown', '10.81.0.1'])
  let relayErr = ''
  relay.stderr?.on('data', b => { relayErr += String(b) })
  t.teardown(() => { relay.kill('SIGTERM') })
  await new Promise(resolve => setTimeout(resolve, 1500))
  const script = join(dir, 'udhcpc.sh')
  writeFileSync(script, '#!/bin/sh\necho "$1 ip=$ip router=$router serverid=$serverid"\n', { mode: 0o755 })
  const got = await cl.run('busybox', ['udhcpc', '-i', 'cl0', '-n', '-q', '-t', '5', '-T', '2', '-s', script])
  const packets = await cap.stop()
  t.equal(got.code, 0, relayErr.slice(-600))
  t.match(got.stdout, /bound ip=10\.92\.0\.1(0\d|10) router=10\.92\.0\.1 serverid=10\.81\.0\.1/, 'a pool address of the LAN named by link selection')
  const requests = packets.filter(p => p.dhcp.op === 1 && p.dst === '10.81.0.1')
  t.ok(requests.length >= 2, 'the relay forwarded DISCOVER and REQUEST')
  for (const q of requests) {
    t.equal(q.dhcp.giaddr, '10.81.0.2', 'giaddr: the relay\'s upstream address, in no LAN')
    t.equal(relayLinkSelection(q.dhcp), '10.92.0.1', 'sub-option 5: the client\'s link')
  }
  const replies = packets.filter(p => p.dhcp.op === 2 && p.src === '10.81.0.1')
  t.same(replies.map(p => messageType(p.dhcp)), [MessageType.Offer, MessageType.Ack])
  for (const rep of replies) t.equal(rep.dst, '10.81.0.2', 'replies to giaddr')
})
