// BMC addresses by DHCP: on a LAN marked management, a machine's BMC (its bmc.mac) gets its
// reservation (bmc.address) or a pool address, and rackboot records the pool address as the
// machine's bmc.address; a stranger gets nothing (unknownMachines: ignore). Real clients
// (busybox udhcpc) in namespaces.
import t from 'tap'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab, clientLog } from '../helpers/dhcp-lab.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test('a management LAN hands BMCs their addresses and records them', async t => {
  if (!requireOrSkip(t, netnsUnavailable(['busybox']))) return
  const lab = await dhcpLab(t, [
    { name: 'prov', bridge: 'br-prov', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.110\n' },
    { name: 'mgmt', bridge: 'br-mgmt', cidr: '10.78.0.1/24', extra: '    pool: 10.78.0.100-10.78.0.110\n    management: true\n    unknownMachines: ignore\n' }
  ])
  await lab.start()
  const BMC1 = '52:54:00:c1:00:01'
  const BMC2 = '52:54:00:c1:00:02'
  for (const args of [
    ['machines', 'add', '--hostname', 'node-1', '--mac', '52:54:00:a1:00:01', '--lan', 'prov', '--bmc-mac', BMC1],
    ['machines', 'add', '--hostname', 'node-2', '--mac', '52:54:00:a1:00:02', '--lan', 'prov', '--bmc-mac', BMC2, '--bmc-address', '10.78.0.50']
  ]) {
    const r = await lab.cli(args)
    t.equal(r.code, 0, r.stderr)
  }
  const udhcpc = async (label: string, mac: string) => {
    const c = await lab.client(label, 'br-mgmt', mac)
    return await c.run('busybox', ['udhcpc', '-i', c.ifname, '-n', '-q', '-t', '4', '-T', '1', '-s', lab.scripts.udhcpc], { timeoutMs: 20_000 })
  }
  let r = await udhcpc('bmc1', BMC1)
  t.equal(r.code, 0, `BMC 1 got a lease: ${r.stderr}`)
  const got1 = clientLog(lab, 'udhcpc').filter(l => l.includes(`mac=${BMC1}`) && l.startsWith('bound')).at(-1) ?? ''
  t.match(got1, /ip=10\.78\.0\.1(0[0-9]|10) .*hostname=node-1-bmc/, 'a pool address, named after its machine')
  const ip1 = /ip=(\S+)/.exec(got1)?.[1] ?? ''
  await sleep(200)
  let m = JSON.parse((await lab.cli(['machines', 'show', 'node-1', '--json'])).stdout)
  t.equal(m.bmc.address, ip1, 'the lease became the machine\'s bmc.address')
  t.equal(m.firstSeen, null, 'the BMC\'s DHCP is not the machine\'s own boot')
  const ev = (await lab.cli(['events', '--type', 'bmc.address', '--json'])).stdout.trim().split('\n').map(l => JSON.parse(l))
  t.match(ev, [{ machineId: m.id, detail: { from: null, to: ip1 } }])

  r = await udhcpc('bmc2', BMC2)
  t.equal(r.code, 0, r.stderr)
  t.match(clientLog(lab, 'udhcpc').filter(l => l.includes(`mac=${BMC2}`) && l.startsWith('bound')).at(-1), /ip=10\.78\.0\.50 /, 'BMC 2 got its reserved address')
  m = JSON.parse((await lab.cli(['machines', 'show', 'node-2', '--json'])).stdout)
  t.equal(m.bmc.address, '10.78.0.50')

  r = await udhcpc('stranger', '52:54:00:c1:00:99')
  t.not(r.code, 0, 'a MAC that is nobody\'s BMC gets nothing on the management LAN')
  const listed = await lab.cli(['leases', '--lan', 'mgmt', '--json'])
  const leases = JSON.parse(listed.stdout) as Array<{ mac: string; ipv4: string }>
  t.same(leases.map(l => l.mac).sort(), [BMC1, BMC2], 'two leases, the BMCs\'')
})
