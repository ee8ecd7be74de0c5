import t from 'tap'
import { reply, withYiaddr, withSiaddr, withCiaddr, withFile, withSname, withBroadcastFlag } from '../src/reply.js'
import { decode, encode, createPacket, BROADCAST_FLAG } from '../src/packet.js'
import { Option } from '../src/option-table.js'
import { MessageType, BootOp } from '../src/message-type.js'
import { messageType, serverIdentifier, leaseTime } from '../src/accessors.js'
import { relayedRequest, pxeBiosDiscover } from './helpers/packets.js'

t.test('reply copies xid, htype, hlen, chaddr, flags, giaddr; zeroes hops and secs', async t => {
  const req = decode(relayedRequest().bytes)
  req.flags = 0x8000
  const r = reply(req)
  t.equal(r.op, BootOp.Reply)
  t.equal(r.xid, req.xid)
  t.equal(r.htype, req.htype)
  t.equal(r.hlen, req.hlen)
  t.same([...r.chaddr], [...req.chaddr])
  t.not(r.chaddr, req.chaddr, 'chaddr copied, not shared')
  t.equal(r.flags, 0x8000)
  t.equal(r.giaddr, '10.20.0.1')
  t.equal(r.hops, 0)
  t.equal(r.secs, 0)
  t.equal(r.ciaddr, '0.0.0.0')
  t.equal(r.yiaddr, '0.0.0.0')
  t.equal(r.sname, '')
  t.equal(r.file, '')
})

t.test('option 82 is echoed byte for byte, last, even if a modifier touched it', async t => {
  const req = decode(relayedRequest().bytes)
  const raw = req.options.get(Option.RelayAgentInformation)
  const r = reply(req,
    messageType.with(MessageType.Ack),
    p => { p.options.set(Option.RelayAgentInformation, Uint8Array.of(1, 1, 0)) },
    serverIdentifier.with('10.0.0.1'))
  t.same([...r.options.keys()], [53, 54, 61, 82], 'the relayed request\'s client identifier echoed (RFC 6842), 82 still last')
  t.same([...(r.options.get(Option.RelayAgentInformation) ?? [])], [...(raw ?? [])])
  t.not(r.options.get(Option.RelayAgentInformation), raw, 'a copy')
  const wire = decode(encode(r))
  t.same([...(wire.options.get(Option.RelayAgentInformation) ?? [])], [...(raw ?? [])], 'survives the wire unchanged')
  t.notOk(reply(decode(pxeBiosDiscover().bytes)).options.has(Option.RelayAgentInformation), 'no 82 in, no 82 out')
})

t.test('option 61 is echoed unaltered in OFFER, ACK and NAK (RFC 6842 §3), even if a modifier changed it', async t => {
  for (const type of [MessageType.Offer, MessageType.Ack, MessageType.Nak]) {
    const req = decode(pxeBiosDiscover().bytes)
    const id = Uint8Array.of(0, 1, 2, 3, 4, 5, 6)
    req.options.set(Option.ClientIdentifier, id)
    const r = reply(req, messageType.with(type), p => { p.options.set(Option.ClientIdentifier, Uint8Array.of(9)) })
    const wire = decode(encode(r))
    t.same([...(wire.options.get(Option.ClientIdentifier) ?? [])], [0, 1, 2, 3, 4, 5, 6], `type ${type}: 61=00010203040506 comes back`)
    const bare = decode(pxeBiosDiscover().bytes)
    bare.options.delete(Option.ClientIdentifier)
    t.notOk(reply(bare, messageType.with(type)).options.has(Option.ClientIdentifier), `type ${type}: no 61 in, no 61 out`)
  }
})

t.test('modifiers apply in order', async t => {
  const req = decode(pxeBiosDiscover().bytes)
  const r = reply(req,
    messageType.with(MessageType.Offer),
    serverIdentifier.with('10.0.0.1'),
    leaseTime.with(600),
    withYiaddr('10.0.0.50'),
    withSiaddr('10.0.0.1'),
    withFile('undionly.kpxe'),
    withSname('boot'),
    leaseTime.with(3600))
  t.equal(r.yiaddr, '10.0.0.50')
  t.equal(r.siaddr, '10.0.0.1')
  t.equal(r.file, 'undionly.kpxe')
  t.equal(r.sname, 'boot')
  t.equal(leaseTime(r), 3600, 'last modifier wins')
  t.same(decode(encode(r)), r)
})

t.test('ACK takes ciaddr from the request (INFORM / renewing), unless set', async t => {
  const req = createPacket({ ciaddr: '10.0.0.9' })
  messageType.set(req, MessageType.Inform)
  t.equal(reply(req, messageType.with(MessageType.Ack)).ciaddr, '10.0.0.9')
  t.equal(reply(req, messageType.with(MessageType.Ack), withCiaddr('10.0.0.10')).ciaddr, '10.0.0.10')
  t.equal(reply(req, messageType.with(MessageType.Offer)).ciaddr, '0.0.0.0', 'OFFER: ciaddr 0')
  t.equal(reply(req, messageType.with(MessageType.Nak)).ciaddr, '0.0.0.0', 'NAK: ciaddr 0')
})

t.test('NAK through a relay gets the broadcast bit (RFC 2131 §4.3.2)', async t => {
  const relayed = decode(relayedRequest().bytes)
  t.equal(relayed.flags, 0)
  t.equal(reply(relayed, messageType.with(MessageType.Nak)).flags & BROADCAST_FLAG, BROADCAST_FLAG)
  t.equal(reply(relayed, messageType.with(MessageType.Ack)).flags, 0, 'only for NAK')
  const local = createPacket()
  t.equal(reply(local, messageType.with(MessageType.Nak)).flags, 0, 'not relayed: flags untouched')
})

t.test('withBroadcastFlag', async t => {
  const req = createPacket({ flags: 0x8001 })
  t.equal(reply(req, withBroadcastFlag(false)).flags, 0x0001)
  t.equal(reply(createPacket(), withBroadcastFlag()).flags, 0x8000)
})
