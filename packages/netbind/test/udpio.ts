// Batched UDP I/O (native/udpio.c) on 127.0.0.1: connected sockets, sendmmsg with gathered
// slices, and the mux that reads every ready socket in one round.
import { spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import { closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import t, { type Test } from 'tap'
import { MAX_GATHER, MUX_WRITABLE, UdpMux, localPort, openConnectedUdp, openUdp, sendGather, sendTo, udpIoAvailable, type MuxBatch } from '../src/udpio.js'

const LO = '127.0.0.1'
const linux = process.platform === 'linux'

async function peer (t: Test): Promise<{ socket: dgram.Socket, port: number, got: Array<{ data: string, port: number }> }> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, LO, resolve))
  const got: Array<{ data: string, port: number }> = []
  socket.on('message', (m, r) => got.push({ data: m.toString('latin1'), port: r.port }))
  t.teardown(() => { socket.close() })
  return { socket, port: socket.address().port, got }
}

const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5))
}

/** A loopback port that was just free and has no socket now (datagrams to it bring back ICMP port unreachable). */
async function closedPort (): Promise<number> {
  const gone = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => gone.bind(0, LO, resolve))
  const port = gone.address().port
  await new Promise<void>((resolve) => gone.close(resolve))
  return port
}

function connected (t: Test, port: number, local = 0): number {
  const fd = openConnectedUdp(LO, local, LO, port)
  t.teardown(() => { try { closeSync(fd) } catch { /* closed by the test */ } })
  return fd
}

t.test('the addon is available on Linux', { skip: linux ? false : 'Linux only' }, async (t) => {
  t.equal(udpIoAvailable(), true)
})

t.test('sendGather sends each datagram as head slice + body slice, in order', { skip: linux ? false : 'Linux only' }, async (t) => {
  const p = await peer(t)
  const fd = connected(t, p.port)
  const head = Buffer.from('AABBCC')
  const body = Buffer.from('0123456789')
  const layout = new Int32Array([0, 2, 0, 4, 2, 2, 4, 6, 4, 2, 0, 0])
  t.equal(sendGather(fd, head, body, layout, 3), 3)
  await until(() => p.got.length === 3)
  t.same(p.got.map((g) => g.data), ['AA0123', 'BB456789', 'CC'])
  t.equal(new Set(p.got.map((g) => g.port)).size, 1, 'all from one source port')
  // A body that is a view into a larger buffer: offsets are relative to the view.
  const view = Buffer.from('xxxxHELLO').subarray(4)
  t.equal(sendGather(fd, head, view, new Int32Array([0, 1, 1, 3]), 1), 1)
  await until(() => p.got.length === 4)
  t.equal(p.got[3]?.data, 'AELL')
})

t.test('sendGather checks its arguments', { skip: linux ? false : 'Linux only' }, async (t) => {
  const p = await peer(t)
  const fd = connected(t, p.port)
  const b = Buffer.alloc(8)
  t.throws(() => sendGather(fd, b, b, new Int32Array([0, 9, 0, 0]), 1), { code: 'RB_NETBIND_INVALID_ARGUMENT', message: /outside head or body/ })
  t.throws(() => sendGather(fd, b, b, new Int32Array([0, 1, 7, 2]), 1), { message: /outside head or body/ })
  t.throws(() => sendGather(fd, b, b, new Int32Array(4), 2), { message: /shorter than 4 × count/ })
  t.throws(() => sendGather(fd, b, b, new Int32Array(4 * 65), MAX_GATHER + 1), { message: /count must be an integer from 0 to 64/ })
  t.throws(() => sendGather(-1, b, b, new Int32Array(4), 1), { message: /fd must be a file descriptor/ })
  t.equal(sendGather(fd, b, b, new Int32Array(4), 0), 0, 'nothing to send')
})

t.test('sendGather reports a peer that went away as -ECONNREFUSED, never throws', { skip: linux ? false : 'Linux only' }, async (t) => {
  const port = await closedPort()
  const fd = connected(t, port)
  const b = Buffer.from('x')
  const layout = new Int32Array([0, 1, 0, 0])
  const results: number[] = []
  for (let i = 0; i < 5; i++) {
    results.push(sendGather(fd, b, b, layout, 1))
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.ok(results.includes(-111), `ICMP port unreachable comes back as -111: ${results.join(' ')}`)
})

t.test('openConnectedUdp: bad arguments and a port in use without SO_REUSEADDR', { skip: linux ? false : 'Linux only' }, async (t) => {
  t.throws(() => openConnectedUdp('::1', 0, LO, 9), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  t.throws(() => openConnectedUdp(LO, 0, LO, 0), { code: 'RB_NETBIND_INVALID_ARGUMENT', message: /remotePort/ })
  const taken = dgram.createSocket('udp4') // no reuseAddr
  await new Promise<void>((resolve) => taken.bind(0, LO, resolve))
  t.teardown(() => { taken.close() })
  t.throws(() => openConnectedUdp(LO, taken.address().port, LO, 9), { code: 'RB_NETBIND_FAILED', message: /bind: Address already in use/ })
})

t.test('a connected socket shares its port with an unconnected one: the peer\'s datagrams go to the connected one', { skip: linux ? false : 'Linux only' }, async (t) => {
  const p = await peer(t)
  const other = await peer(t)
  const open = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  await new Promise<void>((resolve) => open.bind(0, LO, resolve))
  t.teardown(() => { open.close() })
  const strays: string[] = []
  open.on('message', (m) => strays.push(m.toString()))
  const port = open.address().port
  const fd = connected(t, p.port, port)
  const got: Array<{ id: number, data: Buffer | null }> = []
  const mux = new UdpMux((b) => { for (let i = 0; i < b.count; i++) { const d = b.data(i); got.push({ id: b.id(i), data: d === null ? null : Buffer.from(d) }) } })
  t.teardown(() => { mux.close() })
  mux.add(fd, 5)
  p.socket.send('from-peer', port, LO)
  other.socket.send('from-other', port, LO)
  await until(() => got.length === 1 && strays.length === 1)
  t.same(got.map((g) => [g.id, String(g.data)]), [[5, 'from-peer']])
  t.same(strays, ['from-other'])
})

t.test('UdpMux: one call per round with a datagram from every ready socket, ids, oversize, remove', { skip: linux ? false : 'Linux only' }, async (t) => {
  const peers = await Promise.all([peer(t), peer(t), peer(t)])
  const fds = peers.map((p) => connected(t, p.port))
  const rounds: Array<Array<[number, string | null]>> = []
  const batches = new Set<MuxBatch>()
  const mux = new UdpMux((b) => {
    batches.add(b)
    const round: Array<[number, string | null]> = []
    for (let i = 0; i < b.count; i++) {
      const d = b.data(i)
      // offset/length address the same bytes as data(i), or -1 for an oversized datagram.
      round.push([b.id(i), d === null ? (b.length(i) === -1 ? null : 'bad length') : Buffer.from(b.bytes.subarray(b.offset(i), b.offset(i) + b.length(i))).toString()])
    }
    rounds.push(round)
  })
  t.teardown(() => { mux.close() })
  fds.forEach((fd, i) => { mux.add(fd, 100 + i) })
  // The fds' local ports, from a first datagram each way.
  fds.forEach((fd) => { sendGather(fd, Buffer.from('hi'), Buffer.alloc(0), new Int32Array([0, 2, 0, 0]), 1) })
  await until(() => peers.every((p) => p.got.length === 1))
  const ports = peers.map((p) => p.got[0]?.port as number)
  // Two datagrams queued on each socket before the loop gets to them.
  peers.forEach((p, i) => { p.socket.send(`a${i}`, ports[i] as number, LO); p.socket.send(`b${i}`, ports[i] as number, LO) })
  peers[0]?.socket.send(Buffer.alloc(3000), ports[0] as number, LO)
  await until(() => rounds.flat().length === 7)
  const all = rounds.flat()
  t.same(all.filter(([id]) => id === 100).map(([, d]) => d), ['a0', 'b0', null], 'per socket in order; the 3000-byte datagram is null')
  t.same(all.filter(([id]) => id === 102).map(([, d]) => d), ['a2', 'b2'])
  t.ok(rounds.length >= 2, 'one datagram per socket per round, so at least two rounds')
  t.equal(batches.size, 1, 'the same batch object every round')
  t.ok(rounds[0] !== undefined && rounds[0].length >= 2, `a round carries several sockets' datagrams (first round: ${rounds[0]?.length ?? 0})`)
  mux.remove(fds[1] as number)
  mux.remove(fds[1] as number) // twice: ignored
  const before = all.length
  peers[1]?.socket.send('after-remove', ports[1] as number, LO)
  peers[2]?.socket.send('still-watched', ports[2] as number, LO)
  await until(() => rounds.flat().length > before)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(rounds.flat().slice(before), [[102, 'still-watched']])
  mux.close()
  mux.close()
  t.throws(() => { mux.add(fds[0] as number, 1) }, { message: /closed/ })
})

t.test('openUdp + localPort + sendTo; a mux reports who sent to an unconnected socket (from)', { skip: linux ? false : 'Linux only' }, async (t) => {
  const p = await peer(t)
  const other = await peer(t)
  const any = openUdp(LO, 0)
  t.teardown(() => { try { closeSync(any) } catch { /* closed */ } })
  const port = localPort(any)
  t.ok(port > 0 && port < 65536, `bound to a port of its own (${port})`)
  const fd = connected(t, p.port, port)
  t.equal(localPort(fd), port, 'the connected socket shares it')
  const got: Array<[number, string, string, number]> = []
  const mux = new UdpMux((b) => {
    for (let i = 0; i < b.count; i++) got.push([b.id(i), Buffer.from(b.data(i) as Uint8Array).toString(), b.fromAddress(i), b.fromPort(i)])
  })
  t.teardown(() => { mux.close() })
  mux.add(fd, 1)
  mux.add(any, 2, true)
  other.socket.send('stray', port, LO)
  await until(() => got.length === 1)
  p.socket.send('client', port, LO)
  await until(() => got.length === 2)
  t.same(got, [[2, 'stray', LO, other.port], [1, 'client', '0.0.0.0', 0]], 'the stray with its source; the connected socket\'s without')
  t.equal(sendTo(any, Buffer.from('error 5'), LO, other.port), 7)
  await until(() => other.got.length === 1)
  t.same(other.got, [{ data: 'error 5', port }], 'answered from the same port')
  t.throws(() => openUdp('::1', 0), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  t.throws(() => sendTo(any, Buffer.alloc(1), 'nope', 9), { code: 'RB_NETBIND_INVALID_ARGUMENT', message: /address/ })
  t.throws(() => localPort(-1), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  const taken = dgram.createSocket('udp4') // no reuseAddr
  await new Promise<void>((resolve) => taken.bind(0, LO, resolve))
  t.teardown(() => { taken.close() })
  t.throws(() => openUdp(LO, taken.address().port), { code: 'RB_NETBIND_FAILED', message: /bind: Address already in use/ })
})

t.test('UdpMux.writable: a full send buffer is reported once it has room again, then not again', { skip: linux ? false : 'Linux only' }, async (t) => {
  // On loopback a send buffer never stays full (test/tftp/shaped.ts fills one behind a shaper):
  // here, a socket with room is reported at once, and only once.
  const p = await peer(t)
  const fd = connected(t, p.port)
  const events: number[] = []
  const mux = new UdpMux((b) => { for (let i = 0; i < b.count; i++) events.push(b.length(i)) })
  t.teardown(() => { mux.close() })
  mux.add(fd, 1)
  mux.writable(fd)
  await until(() => events.length > 0)
  t.same(events, [MUX_WRITABLE], 'a socket with room: reported at once')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(events, [MUX_WRITABLE], 'once: the interest ends with the report')
  t.throws(() => { mux.writable(12345) }, { message: /not watched/ })
})

t.test('UdpMux keeps watching a connected socket after an ICMP error (the peer came back)', { skip: linux ? false : 'Linux only' }, async (t) => {
  // A port nobody listens on: the first datagram brings back a port unreachable, which sets a
  // socket error (EPOLLERR). libuv stops a poll handle on it; the mux must watch on.
  const port = await closedPort()
  const fd = connected(t, port)
  const got: string[] = []
  const mux = new UdpMux((b) => { for (let i = 0; i < b.count; i++) got.push(Buffer.from(b.data(i) as Uint8Array).toString()) })
  t.teardown(() => { mux.close() })
  mux.add(fd, 1)
  const layout = new Int32Array([0, 1, 0, 0])
  sendGather(fd, Buffer.from('x'), Buffer.alloc(0), layout, 1)
  await new Promise((resolve) => setTimeout(resolve, 100)) // the ICMP error arrives, the mux sees it
  const back = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => back.bind(port, LO, resolve))
  t.teardown(() => { back.close() })
  back.send('after the error', localPort(fd), LO)
  await until(() => got.length === 1)
  t.same(got, ['after the error'], 'still watched')
})

t.test('an exception thrown by the callback is an uncaught exception, as from any I/O callback', { skip: linux ? false : 'Linux only' }, async (t) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import dgram from 'node:dgram'
    import { UdpMux, openConnectedUdp, sendGather } from ${JSON.stringify(new URL('../dist/udpio.js', import.meta.url).href)}
    const s = dgram.createSocket('udp4')
    s.bind(0, '127.0.0.1', () => {
      const fd = openConnectedUdp('127.0.0.1', 0, '127.0.0.1', s.address().port)
      const mux = new UdpMux(() => { throw new Error('boom from callback') })
      mux.add(fd, 1)
      process.on('uncaughtException', (e) => { console.log('caught: ' + e.message); process.exit(0) })
      s.on('message', (m, r) => { s.send('reply', r.port, '127.0.0.1') })
      sendGather(fd, Buffer.from('hi'), Buffer.alloc(0), new Int32Array([0, 2, 0, 0]), 1)
    })`], { encoding: 'utf8', timeout: 10_000 })
  t.match(r.stdout, /caught: boom from callback/)
})

t.test('an idle mux does not keep the process alive', { skip: linux ? false : 'Linux only' }, async (t) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { UdpMux } from ${JSON.stringify(new URL('../dist/udpio.js', import.meta.url).href)}
    globalThis.m = new UdpMux(() => {})
    console.log('created')`], { encoding: 'utf8', timeout: 10_000 })
  t.equal(r.status, 0)
  t.equal(r.stdout.trim(), 'created', 'exited on its own')
})

/** The fds registered in any epoll set of this process (libuv's included), from /proc/self/fdinfo. */
function inEpoll (): Set<number> {
  const fds = new Set<number>()
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = ''
    try { target = readlinkSync(`/proc/self/fd/${fd}`) } catch { continue }
    if (target !== 'anon_inode:[eventpoll]') continue
    for (const m of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').matchAll(/^tfd:\s+(\d+)/gm)) fds.add(Number(m[1]))
  }
  return fds
}

t.test('UdpMux.spin: connected sockets leave epoll and are scanned each turn; an unconnected one stays; off puts them back', { skip: linux ? false : 'Linux only' }, async (t) => {
  const a = await peer(t)
  const b = await peer(t)
  const stray = await peer(t)
  const any = openUdp(LO, 0)
  t.teardown(() => { try { closeSync(any) } catch { /* closed */ } })
  const fa = connected(t, a.port, localPort(any))
  const got: Array<[number, string]> = []
  const mux = new UdpMux((batch) => { for (let i = 0; i < batch.count; i++) got.push([batch.id(i), Buffer.from(batch.data(i) as Uint8Array).toString()]) })
  t.teardown(() => { mux.close() })
  mux.add(fa, 1)
  mux.add(any, 9, true)
  const turn = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 5)) } // libuv adds to epoll when it next polls
  await turn()
  t.ok(inEpoll().has(fa) && inEpoll().has(any), 'both in libuv\'s epoll before spinning')
  mux.spin(true)
  mux.spin(true) // twice: no change
  await turn()
  t.notOk(inEpoll().has(fa), 'the connected socket is out of epoll while spinning')
  t.ok(inEpoll().has(any), 'the unconnected (from) socket stays in epoll')
  const port = localPort(fa)
  a.socket.send('a1', port, LO); a.socket.send('a2', port, LO); a.socket.send('a3', port, LO)
  stray.socket.send('stray', port, LO)
  await until(() => got.length === 4)
  t.same(got.filter(([id]) => id === 1).map(([, d]) => d), ['a1', 'a2', 'a3'], 'a parked socket\'s datagrams, in order')
  t.same(got.filter(([id]) => id === 9).map(([, d]) => d), ['stray'])
  // Added while spinning: parked from the start, and served.
  const fb = connected(t, b.port)
  mux.add(fb, 2)
  await turn()
  t.notOk(inEpoll().has(fb), 'added while spinning: not put into epoll')
  b.socket.send('b1', localPort(fb), LO)
  await until(() => got.length === 5)
  t.same(got[4], [2, 'b1'])
  // Removed while spinning: no longer scanned (its datagrams stay in its queue).
  mux.remove(fb)
  b.socket.send('b2', localPort(fb), LO)
  a.socket.send('a4', port, LO)
  await until(() => got.length === 6)
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.same(got.slice(5), [[1, 'a4']], 'the removed socket is not read')
  // Off with datagrams already queued: back in epoll, and what waits is reported at once.
  mux.spin(false)
  a.socket.send('a5', port, LO)
  await new Promise((resolve) => setTimeout(resolve, 20)) // queued before the loop looks again
  t.ok(inEpoll().has(fa), 'back in epoll after spin(false)')
  await until(() => got.length === 7)
  t.same(got.slice(6), [[1, 'a5']])
  t.throws(() => { (mux as unknown as { mux: { spin: (x: unknown) => void } }).mux.spin(1) }, { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  mux.spin(true)
  mux.close()
  t.doesNotThrow(() => { mux.spin(false) }, 'ignored on a closed mux')
})

t.test('UdpMux.spin: writable reports and ICMP errors on a parked socket', { skip: linux ? false : 'Linux only' }, async (t) => {
  const p = await peer(t)
  const fd = connected(t, p.port)
  const events: Array<[number, string]> = []
  const mux = new UdpMux((b) => { for (let i = 0; i < b.count; i++) events.push([b.length(i), b.length(i) > 0 ? Buffer.from(b.data(i) as Uint8Array).toString() : '']) })
  t.teardown(() => { mux.close() })
  mux.add(fd, 1)
  mux.spin(true)
  mux.writable(fd)
  await until(() => events.length > 0)
  t.same(events, [[MUX_WRITABLE, '']], 'a parked socket with room: reported at once')
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(events.length, 1, 'once')
  // A parked socket gets a port unreachable (POLLERR): cleared, and the socket is still read.
  const port = await closedPort()
  const gone = connected(t, port)
  mux.add(gone, 2)
  sendGather(gone, Buffer.from('x'), Buffer.alloc(0), new Int32Array([0, 1, 0, 0]), 1)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const back = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => back.bind(port, LO, resolve))
  t.teardown(() => { back.close() })
  back.send('after the error', localPort(gone), LO)
  await until(() => events.length === 2)
  t.same(events[1], [15, 'after the error'], 'still scanned after the error')
})

t.test('a spinning mux does not keep the process alive', { skip: linux ? false : 'Linux only' }, async (t) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { UdpMux } from ${JSON.stringify(new URL('../dist/udpio.js', import.meta.url).href)}
    globalThis.m = new UdpMux(() => {})
    globalThis.m.spin(true)
    console.log('spinning')`], { encoding: 'utf8', timeout: 10_000 })
  t.equal(r.status, 0)
  t.equal(r.stdout.trim(), 'spinning', 'exited on its own')
})

t.test('arm: in-order ACKs get the next window from native code; anything else reaches JS after a progress entry', { skip: linux ? false : 'Linux only' }, async (t) => {
  // The "client": a plain dgram socket; the "server": a connected fd on the mux, armed with a
  // 10-block file of 8-byte blocks (the last one short: 4 bytes), windowsize 3.
  const p = await peer(t)
  const fd = connected(t, p.port)
  const batches: Array<Array<{ length: number, data: string, acked: number, sent: number, bytes: number }>> = []
  const mux = new UdpMux((b: MuxBatch) => {
    const list = []
    for (let i = 0; i < b.count; i++) list.push({ length: b.length(i), data: Buffer.from(b.data(i) ?? []).toString('hex'), acked: b.advancedAcked(i), sent: b.advancedSent(i), bytes: b.advancedBytes(i) })
    batches.push(list)
  })
  t.teardown(() => { mux.close() })
  mux.add(fd, 1)
  const file = Buffer.from('AAAAAAAABBBBBBBBCCCCCCCCDDDDDDDDEEEEEEEEFFFFFFFFGGGGGGGGHHHHHHHHIIIIIIIIJJJJ')
  const ack = (n: number) => { p.socket.send(Buffer.from([0, 4, n >> 8, n & 0xff]), localPort(fd), LO) }
  // JS sent blocks 1..3 (acked 0): arm, and let the client acknowledge 3.
  mux.arm(fd, file, 0, file.length, 8, 3, 0, 3, 10)
  ack(3)
  await until(() => p.got.length === 3)
  const blocks = (from: number) => p.got.slice(from).map(g => `${g.data.charCodeAt(3)}:${g.data.slice(4)}`)
  t.same(blocks(0), ['4:DDDDDDDD', '5:EEEEEEEE', '6:FFFFFFFF'], 'the next window, DATA headers built natively')
  t.same(batches, [], 'no call into JS')
  ack(3) // a duplicate of the window's first ACK: dropped, the fast path goes on
  ack(6)
  await until(() => p.got.length === 6)
  t.same(blocks(3), ['7:GGGGGGGG', '8:HHHHHHHH', '9:IIIIIIII'])
  t.same(mux.progress(fd), { acked: 6, sent: 9, bytes: 48 }, 'progress() says how far it got')
  t.equal(mux.takeFastSends(), 2, 'two windows sent below JS (for the caller\'s busy poll)')
  t.equal(mux.takeFastSends(), 0)
  t.equal(mux.progress(fd), null, 'and only once')
  ack(9)
  await until(() => p.got.length === 7)
  t.same(blocks(6), ['10:JJJJ'], 'the last, short block')
  ack(10) // the final ACK: always for JS, after where the fast path got
  await until(() => batches.length > 0)
  t.same(batches[0]?.map(e => e.length), [-3, 4])
  t.match(batches[0]?.[0], { acked: 9, sent: 10, bytes: 4 })
  t.equal(batches[0]?.[1]?.data, '0004000a')
  ack(10)
  await until(() => batches.length > 1)
  t.same(batches[1]?.map(e => e.length), [4], 'disarmed: no progress entry any more')
  t.throws(() => { mux.arm(fd, file, 0, file.length, 8, 0, 0, 3, 10) }, { code: 'RB_NETBIND_INVALID_ARGUMENT' }, 'windowsize 0 refused')
  t.throws(() => { mux.arm(fd, file, 0, file.length, 8, 3, 5, 3, 10) }, { code: 'RB_NETBIND_INVALID_ARGUMENT' }, 'acked > sent refused')
})
