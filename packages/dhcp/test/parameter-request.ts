import t from 'tap'
import { orderOptions, requestedOptions, withRequestedOrder, ALWAYS_SEND } from '../src/parameter-request.js'
import { Option } from '../src/option-table.js'
import { createPacket, decode } from '../src/packet.js'
import { reply } from '../src/reply.js'
import { messageType, serverIdentifier, leaseTime, subnetMask, routers, domainNameServers, domainName, ntpServers, hostName } from '../src/accessors.js'
import { MessageType } from '../src/message-type.js'
import { relayedRequest } from './helpers/packets.js'

function opts (...codes: number[]): Map<number, Uint8Array> {
  return new Map(codes.map(c => [c, Uint8Array.of(c)]))
}

t.test('always-send options first, then the request order, unrequested dropped', async t => {
  const o = opts(6, 15, 3, 1, 51, 54, 53, 42, 12)
  const out = orderOptions(o, [15, 6, 12, 99])
  t.same([...out.keys()], [53, 54, 51, 1, 3, 15, 6, 12], '42 was not requested; 99 we do not have')
})

t.test('keepUnrequested keeps the rest after the requested ones', async t => {
  const out = orderOptions(opts(42, 6, 53), [6], { keepUnrequested: true })
  t.same([...out.keys()], [53, 6, 42])
})

t.test('no option 55: everything kept, always-send first', async t => {
  const out = orderOptions(opts(6, 42, 54, 53), undefined)
  t.same([...out.keys()], [53, 54, 6, 42])
})

t.test('custom always list', async t => {
  const out = orderOptions(opts(6, 53, 54), [6], { always: [Option.MessageType] })
  t.same([...out.keys()], [53, 6], '54 dropped when not in always and not requested')
})

t.test('option 82 is never filtered and always last', async t => {
  const out = orderOptions(opts(82, 53, 6, 42), [82, 6])
  t.same([...out.keys()], [53, 6, 82])
  const out2 = orderOptions(opts(82, 53), [1], { always: [82, 53] })
  t.same([...out2.keys()], [53, 82])
})

t.test('values are passed through untouched', async t => {
  const o = opts(53, 6)
  const out = orderOptions(o, [6])
  t.equal(out.get(6), o.get(6))
  t.not(out, o, 'a new map')
})

t.test('ALWAYS_SEND documents the RFC 2131 MUSTs first', async t => {
  t.same(ALWAYS_SEND.slice(0, 3), [Option.MessageType, Option.ServerIdentifier, Option.LeaseTime])
})

t.test('requestedOptions and the reply modifier', async t => {
  const req = decode(relayedRequest().bytes) // 55 = 1 3 6 15 28 42 119 121
  t.same(requestedOptions(req), [1, 3, 6, 15, 28, 42, 119, 121])
  t.equal(requestedOptions(createPacket()), undefined)
  const empty = createPacket()
  empty.options.set(Option.ParameterRequestList, new Uint8Array(0))
  t.equal(requestedOptions(empty), undefined)

  const ack = reply(req,
    hostName.with('node-07'),
    ntpServers.with(['10.0.0.1']),
    domainName.with('lab'),
    domainNameServers.with(['10.0.0.1']),
    routers.with(['10.20.0.1']),
    subnetMask.with('255.255.255.0'),
    leaseTime.with(3600),
    serverIdentifier.with('10.0.0.1'),
    messageType.with(MessageType.Ack),
    withRequestedOrder(req)
  )
  t.same([...ack.options.keys()], [53, 54, 51, 1, 3, 6, 15, 42, 61, 82], 'host-name (12) not requested: dropped; the client identifier echoed (RFC 6842); 82 last')
})
