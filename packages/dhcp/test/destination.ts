import t from 'tap'
import { replyDestination, type Destination, type DestinationOptions } from '../src/destination.js'
import { createPacket, type DhcpPacket } from '../src/packet.js'
import { reply, withYiaddr } from '../src/reply.js'
import { messageType } from '../src/accessors.js'
import { MessageType } from '../src/message-type.js'

interface Case {
  name: string
  request: Partial<DhcpPacket>
  replyType: number
  yiaddr?: string
  options?: DestinationOptions
  want: Destination
}

const cases: Case[] = [
  {
    name: 'relayed DISCOVER → relay agent, server port',
    request: { giaddr: '10.20.0.1' },
    replyType: MessageType.Offer,
    want: { address: '10.20.0.1', port: 67, broadcast: false, rule: 'relay' }
  },
  {
    name: 'relayed with ciaddr → still the relay (giaddr wins)',
    request: { giaddr: '10.20.0.1', ciaddr: '10.20.0.50' },
    replyType: MessageType.Ack,
    want: { address: '10.20.0.1', port: 67, broadcast: false, rule: 'relay' }
  },
  {
    name: 'relayed NAK → relay agent (reply() sets the broadcast bit)',
    request: { giaddr: '10.20.0.1', ciaddr: '10.20.0.50' },
    replyType: MessageType.Nak,
    want: { address: '10.20.0.1', port: 67, broadcast: false, rule: 'relay' }
  },
  {
    name: 'renewing client with ciaddr → unicast ciaddr:68',
    request: { ciaddr: '10.0.0.50' },
    replyType: MessageType.Ack,
    want: { address: '10.0.0.50', port: 68, broadcast: false, rule: 'ciaddr' }
  },
  {
    name: 'ciaddr with broadcast bit → ciaddr rule comes first',
    request: { ciaddr: '10.0.0.50', flags: 0x8000 },
    replyType: MessageType.Ack,
    want: { address: '10.0.0.50', port: 68, broadcast: false, rule: 'ciaddr' }
  },
  {
    name: 'NAK to a client with ciaddr, no relay → broadcast',
    request: { ciaddr: '10.0.0.50' },
    replyType: MessageType.Nak,
    want: { address: '255.255.255.255', port: 68, broadcast: true, rule: 'nak-broadcast' }
  },
  {
    name: 'NAK, no addresses → broadcast',
    request: {},
    replyType: MessageType.Nak,
    want: { address: '255.255.255.255', port: 68, broadcast: true, rule: 'nak-broadcast' }
  },
  {
    name: 'broadcast bit (PXE ROMs set it) → broadcast',
    request: { flags: 0x8000 },
    replyType: MessageType.Offer,
    yiaddr: '10.0.0.50',
    want: { address: '255.255.255.255', port: 68, broadcast: true, rule: 'broadcast-flag' }
  },
  {
    name: 'no address, no broadcast bit → broadcast (no ARP entry from userspace)',
    request: {},
    replyType: MessageType.Offer,
    yiaddr: '10.0.0.50',
    want: { address: '255.255.255.255', port: 68, broadcast: true, rule: 'broadcast-no-arp' }
  },
  {
    name: 'no address, no broadcast bit, shell can unicast → yiaddr',
    request: {},
    replyType: MessageType.Offer,
    yiaddr: '10.0.0.50',
    options: { canUnicastWithoutArp: true },
    want: { address: '10.0.0.50', port: 68, broadcast: false, rule: 'yiaddr' }
  },
  {
    name: 'shell can unicast but yiaddr is 0 → broadcast',
    request: {},
    replyType: MessageType.Ack,
    options: { canUnicastWithoutArp: true },
    want: { address: '255.255.255.255', port: 68, broadcast: true, rule: 'broadcast-no-arp' }
  },
  {
    name: 'custom ports (tests, proxyDHCP on 4011)',
    request: { giaddr: '10.20.0.1' },
    replyType: MessageType.Offer,
    options: { serverPort: 1067, clientPort: 1068 },
    want: { address: '10.20.0.1', port: 1067, broadcast: false, rule: 'relay' }
  },
  {
    name: 'custom client port',
    request: { ciaddr: '10.0.0.50' },
    replyType: MessageType.Ack,
    options: { clientPort: 1068 },
    want: { address: '10.0.0.50', port: 1068, broadcast: false, rule: 'ciaddr' }
  }
]

t.test('RFC 2131 §4.1 reply destinations', async t => {
  for (const c of cases) {
    const req = createPacket(c.request)
    const rep = reply(req, messageType.with(c.replyType), withYiaddr(c.yiaddr ?? '0.0.0.0'))
    t.same(replyDestination(req, rep, c.options), c.want, c.name)
  }
})
