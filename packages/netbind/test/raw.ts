// Raw ICMP and ICMPv6 sockets (native/raw.c): argument checks, errors that close what they
// opened, and a real exchange with the kernel's own ICMP echo responder on loopback. The
// router solicitation/advertisement path runs against rdisc6 and radvd in test/ipv6/.
import t from 'tap'
import { readdirSync } from 'node:fs'
import { internetChecksum, isNetbindError, openIcmp4Socket, openIcmp6Socket } from '../src/index.js'
import { inCI } from './helpers/fixture.js'

const linux = process.platform === 'linux'
const root = typeof process.getuid === 'function' && process.getuid() === 0
const openFds = () => readdirSync('/proc/self/fd').length

t.test('internetChecksum: RFC 1071 examples', async t => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, checksum its complement
  t.equal(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), (~0xddf2) & 0xffff)
  // odd length: the last byte is padded with a zero
  t.equal(internetChecksum(Uint8Array.of(0x01)), (~0x0100) & 0xffff)
  // a packet with its checksum filled in sums to zero
  const echo = Uint8Array.of(8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x61, 0x62, 0x63)
  const sum = internetChecksum(echo)
  echo[2] = sum >> 8; echo[3] = sum & 0xff
  t.equal(internetChecksum(echo), 0)
})

t.test('argument checks and missing interfaces', { skip: linux ? false : 'Linux only' }, async t => {
  const before = openFds()
  t.throws(() => openIcmp6Socket('', () => {}), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  t.throws(() => openIcmp6Socket('x'.repeat(16), () => {}), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  t.throws(() => openIcmp4Socket('a\0b', () => {}), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  try {
    openIcmp6Socket('rb-no-such0', () => {})
    t.fail('opened a socket on a missing interface')
  } catch (err) {
    t.ok(isNetbindError(err))
    t.equal((err as { code: string }).code, 'RB_NETBIND_NO_INTERFACE')
    t.match((err as Error).message, /rb-no-such0/)
  }
  t.equal(openFds(), before, 'no descriptor left open')
})

t.test('ICMPv4 echo to the kernel on loopback: only the reply comes back, with its source', async t => {
  if (!root) {
    if (inCI) t.fail('raw sockets need root (CAP_NET_RAW), required in CI')
    else t.comment('skipping: raw sockets need root (CAP_NET_RAW)')
    return
  }
  const before = openFds()
  const got: Array<{ bytes: Buffer; source: string; hop: number }> = []
  let wake: () => void = () => {}
  const s = openIcmp4Socket('', (bytes, source, hop) => { got.push({ bytes, source, hop }); wake() })
  t.equal(s.ifindex, 0)
  const id = process.pid & 0xffff
  const echo = Buffer.from([8, 0, 0, 0, id >> 8, id & 0xff, 0, 7, 0x72, 0x62])
  const sum = internetChecksum(echo)
  echo.writeUInt16BE(sum, 2)
  t.equal(s.send(echo, '127.0.0.1'), echo.length)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo reply within 2 s')), 2_000)
    wake = () => { if (got.some(g => g.bytes.readUInt16BE(((g.bytes[0] ?? 0) & 15) * 4 + 4) === id)) { clearTimeout(timer); resolve() } }
    wake()
  })
  const reply = got.find(g => g.bytes.readUInt16BE(((g.bytes[0] ?? 0) & 15) * 4 + 4) === id)
  t.ok(reply)
  if (reply !== undefined) {
    const icmp = reply.bytes.subarray(((reply.bytes[0] ?? 0) & 15) * 4)
    t.equal(icmp[0], 0, 'an echo reply (type 0); our own request (type 8) is filtered out')
    t.equal(icmp.readUInt16BE(6), 7, 'same sequence number')
    t.equal(reply.source, '127.0.0.1')
    t.equal(reply.hop, -1, 'no hop limit for ICMPv4')
  }
  t.notOk(got.some(g => g.bytes[((g.bytes[0] ?? 0) & 15) * 4] === 8), 'no echo request delivered')
  t.throws(() => s.send(echo, 'not-an-address'), { code: 'RB_NETBIND_INVALID_ARGUMENT' })
  s.close()
  s.close()
  t.ok(s.send(echo, '127.0.0.1') < 0, 'a closed socket sends nothing')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(openFds(), before, 'close() released the descriptor')
})
