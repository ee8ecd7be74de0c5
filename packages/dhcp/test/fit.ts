// encodeFitted: a reply always goes out within the client's maximum size; what it must carry
// stays, the rest fills the options field, then `file`, then `sname` (option 52), in order.
import t from 'tap'
import { encodeFitted } from '../src/fit.js'
import { decode, encode, createPacket, type DhcpPacket } from '../src/packet.js'
import { Option } from '../src/option-table.js'
import { MessageType, BootOp } from '../src/message-type.js'
import { messageType, serverIdentifier, leaseTime, subnetMask, routers } from '../src/accessors.js'
import { isEncodeError } from '@rackboot/wire'

const REQUIRED = new Set([Option.MessageType, Option.ServerIdentifier, Option.LeaseTime, Option.SubnetMask, Option.Router])

/** An ACK with the required options and `extra` custom options (code → value length), in order. */
function ack (extra: Array<[number, number]>, fields: Partial<DhcpPacket> = {}): DhcpPacket {
  const p = createPacket({ op: BootOp.Reply, xid: 0x1234, yiaddr: '10.77.0.100', ...fields })
  messageType.set(p, MessageType.Ack)
  serverIdentifier.set(p, '10.77.0.1')
  leaseTime.set(p, 3600)
  subnetMask.set(p, '255.255.255.0')
  routers.set(p, ['10.77.0.254'])
  for (const [code, n] of extra) p.options.set(code, new Uint8Array(n).fill(code))
  return p
}

t.test('a reply that fits is encoded as is: no overload, nothing left out', async t => {
  const p = ack([[224, 40]])
  const f = encodeFitted(p, { maxSize: 548, required: REQUIRED })
  t.same(f.dropped, [])
  t.equal(f.overload, 0)
  t.same(f.buf, encode(p), 'the same bytes as encode()')
})

t.test('548 bytes, 400 bytes of options: file then sname carry the overflow (option 52 = 3), decoded whole', async t => {
  // 5 required (21 bytes) + 100 + 100 + 100 + 60 + 40 (+2 each): 308 - 3 (option 52) left in the options field.
  const p = ack([[224, 100], [225, 100], [226, 100], [227, 60], [228, 40]])
  t.ok(encode(p, { maxSize: 65535 }).length > 548, 'too big for 548 as a plain message')
  const f = encodeFitted(p, { maxSize: 548, required: REQUIRED })
  t.ok(f.buf.length <= 548, `${f.buf.length} bytes`)
  t.equal(f.overload, 3, 'both file and sname used')
  t.same(f.dropped, [], 'everything fits somewhere')
  const back = decode(f.buf)
  for (const code of [53, 54, 51, 1, 3, 224, 225, 226, 227, 228]) {
    t.same(back.options.get(code), p.options.get(code), `option ${code} decoded intact`)
  }
  t.equal(back.file, '', 'file carries options, no text')
  t.equal(back.sname, '', 'sname carries options, no text')
  t.equal(back.xid, 0x1234)
  t.equal(back.yiaddr, '10.77.0.100')
})

t.test('what fits nowhere is left out, the last preferred first; required options always stay', async t => {
  const p = ack([[224, 200], [225, 120], [226, 120], [227, 61], [228, 30]])
  const f = encodeFitted(p, { maxSize: 548, required: REQUIRED })
  t.ok(f.buf.length <= 548)
  const back = decode(f.buf)
  for (const code of REQUIRED) t.ok(back.options.has(code), `required option ${code} kept`)
  t.ok(back.options.has(224), 'the first preference (224) kept')
  t.ok(f.dropped.length > 0, `left out: ${f.dropped.join(', ')}`)
  for (const code of f.dropped) t.notOk(back.options.has(code), `${code} is not in the packet`)
  t.same([...back.options.keys()].filter(c => c >= 224).concat(f.dropped).sort(), [224, 225, 226, 227, 228], 'every option is either sent or reported')
  t.ok(back.options.has(228), 'a later small option still fits where a larger one did not')
})

t.test('a boot file in `file` keeps it: only sname is used for options (option 52 = 2)', async t => {
  const p = ack([[224, 150], [225, 100], [226, 50]], { file: 'undionly.kpxe', siaddr: '10.77.0.1' })
  const f = encodeFitted(p, { maxSize: 548, required: REQUIRED })
  const back = decode(f.buf)
  t.equal(back.file, 'undionly.kpxe', 'the boot file is intact')
  t.equal(f.overload, 2)
  t.same(back.options.get(226), p.options.get(226), 'the 52-byte option went into sname')
})

t.test('option 82 stays in the options field, last', async t => {
  const relay = Uint8Array.of(1, 4, 0, 0, 0, 1, 2, 2, 0xab, 0xcd)
  const p = ack([[224, 150], [225, 150], [226, 60]])
  p.options.set(Option.RelayAgentInformation, relay)
  const f = encodeFitted(p, { maxSize: 548, required: REQUIRED })
  // The options field is the bytes after the cookie up to End: 82 is the last option there.
  const back = decode(f.buf)
  t.same(back.options.get(Option.RelayAgentInformation), relay)
  let at = 240
  let last = -1
  while (f.buf[at] !== 255) { last = f.buf[at] as number; at += 2 + (f.buf[at + 1] as number) }
  t.equal(last, Option.RelayAgentInformation, 'the last option in the options field is 82')
})

t.test('required options that cannot fit: RB_DHCP_TOO_LARGE, never a truncated packet', async t => {
  const p = ack([[224, 400]])
  const required = new Set([...REQUIRED, 224])
  let caught: unknown = null
  try { encodeFitted(p, { maxSize: 548, required }) } catch (err) { caught = err }
  t.ok(isEncodeError(caught), 'an EncodeError')
  t.equal((caught as { code?: string } | null)?.code, 'RB_DHCP_TOO_LARGE')
})
