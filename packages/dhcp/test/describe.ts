import t from 'tap'
import { describePacket, describeOptions } from '../src/describe.js'
import { decode, createPacket } from '../src/packet.js'
import { ipxeDiscover, relayedRequest } from './helpers/packets.js'

t.test('describePacket names options and parses known ones', async t => {
  const d = describePacket(decode(relayedRequest().bytes))
  t.equal(d.chaddr, '3c:ec:ef:01:02:03')
  t.equal(d.giaddr, '10.20.0.1')
  t.same(d.options, [
    { code: 53, name: 'message-type', value: 'REQUEST' },
    { code: 61, name: 'client-identifier', value: { type: 1, id: '3cecef010203' } },
    { code: 50, name: 'requested-ip-address', value: '10.20.0.50' },
    { code: 54, name: 'server-identifier', value: '10.0.0.1' },
    { code: 12, name: 'host-name', value: 'node-07' },
    { code: 55, name: 'parameter-request-list', value: [1, 3, 6, 15, 28, 42, 119, 121] },
    { code: 82, name: 'relay-agent-information', value: { 1: '657468312f312f37', 2: '001b21aabbcc' } }
  ])
  t.ok(JSON.stringify(d))
})

t.test('unknown and malformed options print raw as hex', async t => {
  const p = createPacket()
  p.options.set(224, Uint8Array.of(0xde, 0xad))
  p.options.set(54, Uint8Array.of(1, 2))
  t.same(describeOptions(p), [
    { code: 224, name: 'option-224', raw: 'dead' },
    { code: 54, name: 'server-identifier', raw: '0102' }
  ])
  const ipxe = describeOptions(decode(ipxeDiscover().bytes))
  t.same(ipxe.find(o => o.code === 77), { code: 77, name: 'user-class', value: { classes: ['iPXE'], rfc3004: false } })
})
