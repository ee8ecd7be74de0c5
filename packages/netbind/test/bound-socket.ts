// DESIGN.md "Per-LAN sockets", proven with real sockets: a server namespace with two LANs
// (lan0, lan1), each a veth to its own client namespace whose link has no IPv4 address.
// Clients broadcast from 0.0.0.0:68 to 255.255.255.255:67, as a DHCP client in INIT does.
//   (1) the socket bound to lan0 receives only lan0's broadcasts, lan1's only lan1's, while a
//       plain 0.0.0.0:67 socket (what dgram offers) receives both;
//   (2) each socket's broadcast reply to 255.255.255.255:68 leaves through its own
//       interface only, with that interface's address as source.
import dgram from 'node:dgram'
import { fstatSync, openSync } from 'node:fs'
import t from 'tap'
import { createNetns } from '../../../bench/netns.js'
import { netnsSkip, runFixture, startFixture } from './helpers/fixture.js'

interface Received { socket: string, payload?: string, from?: string, sendError?: string }
interface PeerReport { name: string, received: Array<{ payload: string, from: string }>, sendErrors: string[] }
interface Ready { ready: true, sockets: Array<{ ifname: string, address: { address: string, port: number }, bound?: { name: string, index: number } }> }

const skip = netnsSkip(t)

t.test('two LANs on port 67: each socket hears and answers only its own interface', { skip }, async t => {
  const srv = await createNetns(t, 'srv', { loopback: false })
  const lans = [
    { ifname: 'lan0', peer: await createNetns(t, 'a', { loopback: false }), name: 'a', server: '10.201.1.1' },
    { ifname: 'lan1', peer: await createNetns(t, 'b', { loopback: false }), name: 'b', server: '10.201.2.1' }
  ]
  for (const lan of lans) {
    srv.ip('link', 'add', lan.ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan.peer.name)
    srv.ip('addr', 'add', `${lan.server}/24`, 'dev', lan.ifname)
    srv.ip('link', 'set', lan.ifname, 'up')
    lan.peer.ip('link', 'set', 'eth0', 'up')
    // No address on the client side (source 0.0.0.0); the route lets it send broadcasts.
    lan.peer.ip('route', 'add', 'default', 'dev', 'eth0')
  }

  const server = startFixture(srv, 'server.mjs', ['lan0:67', 'lan1:67', '--control'])
  const ready = await server.line<Ready>(0)
  t.same(ready.sockets.map(s => [s.ifname, s.address.address, s.address.port]),
    [['lan0', '0.0.0.0', 67], ['lan1', '0.0.0.0', 67], ['control', '0.0.0.0', 67]],
    'both bound sockets and the plain one share 0.0.0.0:67')
  const index0 = Number(srv.ip('-o', 'link', 'show', 'lan0').split(':')[0])
  t.same(ready.sockets[0]?.bound, { name: 'lan0', index: index0 }, 'boundInterface() reports the link index')

  const peers = await Promise.all(lans.map(async lan => await runFixture(lan.peer, 'peer.mjs', [lan.name, '3', '1500'])))
  server.child.stdin.end()
  await server.exited
  const { received } = JSON.parse(server.stdout.trim().split('\n').at(-1) ?? '{}') as { received: Received[] }
  const reports = peers.map(p => JSON.parse(p.stdout.trim()) as PeerReport)

  for (const [i, lan] of lans.entries()) {
    const report = reports[i]
    t.equal(peers[i]?.code, 0, `peer ${lan.name} ran (${peers[i]?.stderr ?? ''})`)
    t.same(report?.sendErrors, [], `peer ${lan.name} could broadcast`)
    // (1) reception
    const heard = received.filter(r => r.socket === lan.ifname)
    t.ok(heard.length >= 1, `${lan.ifname} socket received broadcasts`)
    t.same([...new Set(heard.map(r => r.payload))], [`hello:${lan.name}`], `${lan.ifname} socket heard only client ${lan.name}`)
    t.same([...new Set(heard.map(r => r.from))], ['0.0.0.0:68'], `client ${lan.name} sent from 0.0.0.0:68`)
    t.same(received.filter(r => r.socket === lan.ifname && r.sendError !== undefined), [], `${lan.ifname} replies were sent`)
    // (2) replies
    const got = report?.received ?? []
    t.ok(got.length >= 1, `client ${lan.name} received replies`)
    t.same([...new Set(got.map(r => r.payload))], [`reply:${lan.ifname}:hello:${lan.name}`],
      `client ${lan.name} received only replies sent through ${lan.ifname}`)
    t.same([...new Set(got.map(r => r.from))], [`${lan.server}:67`], `replies on ${lan.ifname} came from ${lan.server}:67`)
  }
  // The control: a plain socket on 0.0.0.0:67 cannot tell the LANs apart.
  const mixed = new Set(received.filter(r => r.socket === 'control').map(r => r.payload))
  t.same([...mixed].sort(), ['hello:a', 'hello:b'], 'a plain 0.0.0.0:67 socket receives both LANs\' broadcasts')
})

t.test('an fd Node cannot adopt is closed and the promise rejects', async t => {
  // The addon always returns a UDP socket; this stands in for any failure of bind({ fd }).
  let fd = -1
  const { createBoundSocket, boundInterface } = await t.mockImport<typeof import('../src/bound-socket.js')>('../src/bound-socket.js', {
    '../src/addon.js': {
      native: () => ({
        openBoundUdpSocket: () => ({ fd: (fd = openSync('/dev/null', 'r')), ifindex: 7 }),
        interfaceIndex: () => 7
      })
    }
  })
  await t.rejects(createBoundSocket({ interface: 'lan0', port: 67 }), { code: 'ERR_INVALID_FD_TYPE' })
  t.ok(fd > 2, 'the stand-in fd was opened')
  t.throws(() => fstatSync(fd), { code: 'EBADF' }, 'and closed again')
  const plain = dgram.createSocket('udp4')
  t.equal(boundInterface(plain), undefined, 'other sockets have no bound interface')
  plain.close()
})
