// The DHCP service against real clients (busybox udhcpc, ISC dhclient, dhcpcd) on two LANs.
import t from 'tap'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab, clientLog, type Lab } from '../helpers/dhcp-lab.js'

const why = netnsUnavailable(['busybox', 'dhclient', 'dhcpcd'])

const MAC = {
  reserved: '52:54:00:a1:00:01',
  stranger1: '52:54:00:b2:00:01',
  stranger2: '52:54:00:b2:00:02',
  moved: '52:54:00:a1:00:09'
}

const lastLine = (lines: string[], re: RegExp) => [...lines].reverse().find(l => re.test(l)) ?? ''
const ipOf = (line: string) => /ip=(\S*)/.exec(line)?.[1] ?? ''

async function waitFor<T> (fn: () => T | undefined | null | false, ms = 15_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== null && v !== false && v !== '') return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

function leases (lab: Lab): Array<{ lan: string; ipv4: string; mac: string; state: string }> {
  return lab.db(db => db.prepare('SELECT lan, ipv4, mac, state FROM leases ORDER BY lan, ipv4').all() as Array<{ lan: string; ipv4: string; mac: string; state: string }>)
}

t.test('two LANs, three real clients, renew, release, wrong LAN, restart', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [
    { name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.110\n    unknownMachines: ignore\n    leaseTime: 10m\n' },
    { name: 'lab2', bridge: 'br-lab2', cidr: '10.78.0.1/24', extra: '    pool: 10.78.0.50-10.78.0.60\n    unknownMachines: discover\n' }
  ])
  await lab.start()
  let r = await lab.cli(['machines', 'add', '--hostname', 'node-1', '--mac', MAC.reserved, '--lan', 'prov', '--ip', '10.77.0.10'])
  t.equal(r.code, 0, r.stderr)
  r = await lab.cli(['machines', 'add', '--hostname', 'node-9', '--mac', MAC.moved, '--lan', 'prov', '--ip', '10.77.0.19'])
  t.equal(r.code, 0, r.stderr)

  // udhcpc on LAN 1: its reserved address, its inventory hostname, the LAN's router and DNS
  const c1 = await lab.client('c1', 'br-prov', MAC.reserved)
  const udhcpc = c1.spawn('busybox', ['udhcpc', '-i', c1.ifname, '-f', '-t', '5', '-T', '1', '-s', lab.scripts.udhcpc])
  const bound = await waitFor(() => lastLine(clientLog(lab, 'udhcpc'), /^bound /), 15_000, 'udhcpc bound')
  t.match(bound, /^bound ip=10\.77\.0\.10 mac=52:54:00:a1:00:01 hostname=node-1 router=10\.77\.0\.1 dns=10\.77\.0\.1/)

  // renewal is unicast from the bound address and keeps it
  udhcpc.kill('SIGUSR1')
  const renewed = await waitFor(() => lastLine(clientLog(lab, 'udhcpc'), /^renew /), 10_000, 'udhcpc renew')
  t.equal(ipOf(renewed), '10.77.0.10')
  t.ok(lab.daemon?.logs().some(l => l.msg === 'reply' && l.to === '10.77.0.10' && l.rule === 'ciaddr'), 'the renewal ACK was unicast to ciaddr')

  // dhclient on LAN 2 (discover): a pool address and a `discovered` machine
  const c2 = await lab.client('c2', 'br-lab2', MAC.stranger1)
  const dh = await c2.run('dhclient', ['-4', '-1', '-v', '-sf', lab.scripts.dhclient, '-lf', `${lab.dir}/dhclient.leases`, '-pf', `${lab.dir}/dhclient.pid`, c2.ifname], { timeoutMs: 30_000 })
  t.equal(dh.code, 0, dh.stderr)
  const dhIp = ipOf(lastLine(clientLog(lab, 'dhclient'), /^BOUND /))
  t.match(dhIp, /^10\.78\.0\.(5\d|60)$/)
  await c2.run('sh', ['-c', `kill $(cat ${lab.dir}/dhclient.pid)`])
  r = await lab.cli(['machines', 'show', MAC.stranger1, '--json'])
  t.match(JSON.parse(r.stdout), { state: 'discovered', lan: 'lab2', hostname: 'discovered-525400b20001', macs: [MAC.stranger1] })

  // dhcpcd on LAN 2 too: another address
  const c3 = await lab.client('c3', 'br-lab2', MAC.stranger2)
  const dc = await c3.run('dhcpcd', ['-4', '-1', '-B', '-A', '-f', '/dev/null', '-c', lab.scripts.dhcpcd, '-t', '20', c3.ifname], { timeoutMs: 40_000 })
  t.equal(dc.code, 0, dc.stderr)
  const dcIp = ipOf(lastLine(clientLog(lab, 'dhcpcd'), /^BOUND /))
  t.match(dcIp, /^10\.78\.0\.(5\d|60)$/)
  t.not(dcIp, dhIp, 'never the same address twice')

  // a machine registered on LAN 1 plugged into LAN 2: nothing, and a wrong-lan event
  const c4 = await lab.client('c4', 'br-lab2', MAC.moved)
  const lost = await c4.run('busybox', ['udhcpc', '-i', c4.ifname, '-n', '-q', '-t', '2', '-T', '1', '-s', lab.scripts.udhcpc])
  t.not(lost.code, 0, 'udhcpc got no lease')
  r = await lab.cli(['events', '--type', 'dhcp.wrong-lan', '--json'])
  t.match(JSON.parse(r.stdout.trim().split('\n')[0] ?? '{}'), { type: 'dhcp.wrong-lan', lan: 'lab2', mac: MAC.moved, detail: { registeredOn: 'prov', seenOn: 'lab2', hostname: 'node-9' } })
  const rows = r.stdout.trim().split('\n')
  t.equal(rows.length, 1, 'repeats within a minute are not re-recorded')
  // ...and once moved back to its own LAN it gets its address
  await lab.replug(c4, 'br-prov')
  const back = await c4.run('busybox', ['udhcpc', '-i', c4.ifname, '-n', '-q', '-t', '5', '-T', '1', '-s', lab.scripts.udhcpc])
  t.equal(back.code, 0)
  t.equal(ipOf(lastLine(clientLog(lab, 'udhcpc'), /mac=52:54:00:a1:00:09/)), '10.77.0.19')

  // the lease table: one row per address, every active MAC once
  const active = leases(lab).filter(l => l.state === 'bound')
  t.same(active.map(l => [l.lan, l.ipv4, l.mac]).sort(), [
    ['lab2', dcIp, MAC.stranger2], ['lab2', dhIp, MAC.stranger1], ['prov', '10.77.0.10', MAC.reserved], ['prov', '10.77.0.19', MAC.moved]
  ].sort())

  // restart: leases survive, a renewing client keeps its address
  lab.daemon?.proc.kill('SIGTERM')
  t.same(await lab.daemon?.exited, { code: 0, signal: null })
  await lab.start()
  udhcpc.kill('SIGUSR1')
  await waitFor(() => clientLog(lab, 'udhcpc').filter(l => l.startsWith('renew ')).length >= 2, 10_000, 'renew after restart')
  t.equal(ipOf(lastLine(clientLog(lab, 'udhcpc'), /^renew /)), '10.77.0.10', 'renewed after the restart')
  const dc2 = await c3.run('dhcpcd', ['-4', '-1', '-B', '-A', '-f', '/dev/null', '-c', lab.scripts.dhcpcd, '-t', '20', c3.ifname], { timeoutMs: 40_000 })
  t.equal(dc2.code, 0)
  t.equal(ipOf(lastLine(clientLog(lab, 'dhcpcd'), /^(BOUND|REBOOT) /)), dcIp, 'dhcpcd gets its address back after the restart')

  // release frees the address
  udhcpc.kill('SIGUSR2')
  await waitFor(() => leases(lab).some(l => l.ipv4 === '10.77.0.10' && l.state === 'released'), 10_000, 'release recorded')
  r = await lab.cli(['events', '--type', 'lease.released', '--json'])
  t.match(JSON.parse(r.stdout.trim().split('\n')[0] ?? '{}'), { lan: 'prov', mac: MAC.reserved, detail: { ip: '10.77.0.10' } })
  udhcpc.kill('SIGTERM')
})

t.test('bad packets are counted and dropped; strangers on an ignore LAN get nothing', async t => {
  if (!requireOrSkip(t, why)) return
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.110\n' }])
  await lab.start()
  const c = await lab.client('junk', 'br-prov', '52:54:00:c3:00:01')
  await c.run('ip', ['addr', 'add', '10.77.0.200/24', 'dev', c.ifname])
  await c.run('ip', ['route', 'add', 'default', 'dev', c.ifname])
  // garbage, truncations and a flood of DISCOVERs from random MACs, from inside the client namespace
  const script = `
    const dgram = require('node:dgram'); const s = dgram.createSocket('udp4');
    s.bind(68, () => { s.setBroadcast(true);
      const sends = [];
      const junk = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(300, 0xff), Buffer.alloc(241, 1)];
      for (const b of junk) sends.push(b);
      for (let i = 0; i < 300; i++) {
        const p = Buffer.alloc(300); p[0] = 1; p[1] = 1; p[2] = 6; p.writeUInt32BE(i + 1, 4);
        p[28] = 2; p[29] = 0; p.writeUInt32BE(0x100000 + i, 30); p.writeUInt32BE(0x63825363, 236);
        p[240] = 53; p[241] = 1; p[242] = 1; p[243] = 255; sends.push(p);
      }
      let n = 0; const next = (err) => { if (err) { console.error(err); process.exit(1) } if (n === sends.length) return s.close(); s.send(sends[n++], 67, '255.255.255.255', next) }; next();
    });`
  const sent = await c.run(process.execPath, ['-e', script])
  t.equal(sent.code, 0, sent.stderr)
  await lab.daemon?.waitLog(l => l.msg === 'drop' && l.reason === 'unknown-mac')
  await new Promise(resolve => setTimeout(resolve, 500))
  const metrics = await lab.server.run('curl', ['-s', 'http://127.0.0.1:9080/metrics'])
  const dropped = (reason: string) => Number(new RegExp(`rackboot_dhcp_dropped_total\\{lan="prov",reason="${reason}"\\} (\\d+)`).exec(metrics.stdout)?.[1] ?? 0)
  t.equal(dropped('malformed-packet'), 4, 'four malformed packets counted')
  const received = Number(/rackboot_dhcp_received_total\{lan="prov",type="discover"\} (\d+)/.exec(metrics.stdout)?.[1] ?? 0)
  t.ok(received >= 100, `${received} of 300 flood DISCOVERs reached the daemon (a burst may overflow the socket buffer)`)
  t.equal(dropped('unknown-mac') + dropped('rate-limited'), received, 'every DISCOVER that arrived was dropped')
  t.notMatch(metrics.stdout, /rackboot_dhcp_sent_total\{/, 'none answered')
  t.equal(lab.db(db => db.prepare('SELECT count(*) FROM leases').pluck().get()), 0, 'nothing allocated')
  t.equal(lab.db(db => db.prepare('SELECT count(*) FROM machines').pluck().get()), 0, 'no machine created')
  // still serving
  await lab.cli(['machines', 'add', '--hostname', 'ok', '--mac', '52:54:00:c3:00:02', '--lan', 'prov', '--ip', '10.77.0.20'])
  const ok = await lab.client('ok', 'br-prov', '52:54:00:c3:00:02')
  const r = await ok.run('busybox', ['udhcpc', '-i', ok.ifname, '-n', '-q', '-t', '5', '-T', '1', '-s', lab.scripts.udhcpc])
  t.equal(r.code, 0)
  t.equal(ipOf(lastLine(clientLog(lab, 'udhcpc'), /mac=52:54:00:c3:00:02/)), '10.77.0.20')
})
