// The DHCP conformance fixes, each as a packet exchange through the real codec: requests are
// encoded and decoded, decided and applied as in the service, and replies are encoded the way
// the service sends them (encodeFitted within the client's maximum size) and decoded again.
import t from 'tap'
import {
  createPacket, messageType, requestedIpAddress, serverIdentifier, parameterRequestList, maxMessageSize, leaseTime,
  renewalTime, rebindingTime, routers, subnetMask, vendorClassIdentifier, vendorSpecific, clientSystemArchitecture,
  relayAgentInformation, subnetSelection, replyDestination, maxReplySize, encodeFitted, MessageType, Option, encode, decode,
  RelayAgentSubOption, type DhcpPacket
} from '@rackboot/dhcp'
import { ipv4ToBytes, macToBytes } from '@rackboot/wire'
import { decide, REQUIRED_REPLY_OPTIONS, type Decision, type MachineView } from '../../src/dhcp/decide.js'
import { AddressBook } from '../../src/dhcp/address-book.js'
import { bookLookup } from '../../src/dhcp/lookup.js'
import { applyDecision, memoryLedger } from '../../src/dhcp/apply.js'
import { lanContext, relayedLan } from '../../src/dhcp/lan-context.js'
import { parseConfig } from '../../src/config/load.js'

const BIG = 'x'.repeat(120)
const loaded = parseConfig(`
dataDir: /tmp/unused
boot: { http: 0.0.0.0:8080 }
lans:
  - name: bymac
    interface: br0
    subnet: 10.77.0.0/24
    address: 10.77.0.1
    gateway: [10.77.0.254, 10.77.0.253]
    dns: [10.77.0.1]
    pool: 10.77.0.100-10.77.0.120
    unknownMachines: lease
    leaseTime: 1h
    renewalTime: 20m
    rebindingTime: 40m
    nextServer: 10.77.0.5
  - name: byid
    interface: br1
    subnet: 10.78.0.0/24
    address: 10.78.0.1
    gateway: 10.78.0.254
    pool: 10.78.0.100-10.78.0.120
    unknownMachines: lease
    leaseIdentity: client-id
  - name: fat
    interface: br2
    subnet: 10.79.0.0/24
    address: 10.79.0.1
    gateway: 10.79.0.254
    dns: [10.79.0.1, 10.79.0.2, 10.79.0.3]
    domain: rack.example
    domainSearch: [a.rack.example, b.rack.example, c.rack.example, d.rack.example]
    pool: 10.79.0.100-10.79.0.120
    unknownMachines: lease
    options:
      - { code: 224, text: "${BIG}" }
      - { code: 225, text: "${BIG}" }
      - { code: 226, text: "${BIG}" }
      - { code: 227, text: "${BIG}" }
  - name: far
    relay: true
    subnet: 10.90.0.0/24
    address: 10.80.0.1
    gateway: 10.90.0.1
    pool: 10.90.0.100-10.90.0.120
    unknownMachines: lease
  - name: farther
    relay: true
    subnet: 10.91.0.0/24
    address: 10.80.0.1
    gateway: 10.91.0.1
    pool: 10.91.0.100-10.91.0.120
    unknownMachines: lease
`, 'test.yaml')
const NOW = 1_700_000_000_000
const MAC = '52:54:00:00:00:02'
const machines = new Map<string, MachineView>([
  ['52:54:00:00:00:0a', { id: 10, lan: 'byid', hostname: 'node-10', ipv4: '10.78.0.10', state: 'ready' }]
])

function world (lanName: string) {
  const lan = loaded.lans.get(lanName)
  if (lan === undefined) throw new Error(lanName)
  const book = new AddressBook(lan)
  const ctx = lanContext(lan, loaded)
  const lookup = bookLookup(book, NOW, mac => machines.get(mac) ?? null, () => false)
  /** One exchange: the request through the codec, decided and applied; the reply as sent, decoded. */
  const run = (req: DhcpPacket): { d: Decision; sent: DhcpPacket | null; bytes: number; leftOut: number[] } => {
    const packet = decode(encode(req, { maxSize: 1500 }))
    const d = decide(packet, { lan: ctx, now: NOW, lookup, offerHoldMs: 30_000, quarantineMs: 600_000 })
    applyDecision(d, lanName, book, memoryLedger, NOW)
    if (d.kind !== 'reply') return { d, sent: null, bytes: 0, leftOut: [] }
    const fitted = encodeFitted(d.packet, { maxSize: maxReplySize(packet), required: REQUIRED_REPLY_OPTIONS })
    return { d, sent: decode(fitted.buf), bytes: fitted.buf.length, leftOut: fitted.dropped }
  }
  return { book, ctx, run }
}

let xid = 1
function request (type: number, mac: string, extra: (p: DhcpPacket) => void = () => {}): DhcpPacket {
  const p = createPacket({ xid: xid++, chaddr: macToBytes(mac) })
  messageType.set(p, type)
  parameterRequestList.set(p, [1, 3, 6, 15, 51, 54, 58, 59])
  extra(p)
  return p
}
const withId = (hex: string) => (p: DhcpPacket) => { p.options.set(Option.ClientIdentifier, Uint8Array.from(Buffer.from(hex, 'hex'))) }
const id = (p: DhcpPacket | null) => p === null ? undefined : Buffer.from(p.options.get(Option.ClientIdentifier) ?? []).toString('hex')
function sentOf (t: { fail (m: string): unknown }, r: { d: Decision; sent: DhcpPacket | null }): DhcpPacket {
  if (r.sent === null) { t.fail(`expected a reply, got ${JSON.stringify(r.d)}`); throw new Error('no reply') }
  return r.sent
}

t.test('option 61: DISCOVER 61=00010203040506 → OFFER, REQUEST → ACK, wrong REQUEST → NAK, each echoing it unaltered', async t => {
  const w = world('bymac')
  const cid = withId('00010203040506')
  const offer = sentOf(t, w.run(request(MessageType.Discover, MAC, cid)))
  t.equal(messageType(offer), MessageType.Offer)
  t.equal(id(offer), '00010203040506', 'OFFER echoes 61')
  const ack = sentOf(t, w.run(request(MessageType.Request, MAC, p => { cid(p); serverIdentifier.set(p, '10.77.0.1'); requestedIpAddress.set(p, offer.yiaddr) })))
  t.equal(messageType(ack), MessageType.Ack)
  t.equal(id(ack), '00010203040506', 'ACK echoes 61')
  const nak = sentOf(t, w.run(request(MessageType.Request, MAC, p => { cid(p); requestedIpAddress.set(p, '10.77.0.200') })))
  t.equal(messageType(nak), MessageType.Nak)
  t.equal(id(nak), '00010203040506', 'NAK echoes 61')
  t.equal(id(sentOf(t, w.run(request(MessageType.Discover, '52:54:00:00:00:03')))), '', 'no 61 asked, none sent')
})

t.test('leaseIdentity mac (default): DISCOVER from one MAC under two client identifiers → one address', async t => {
  const w = world('bymac')
  const a = sentOf(t, w.run(request(MessageType.Discover, MAC, withId('01aa'))))
  w.run(request(MessageType.Request, MAC, p => { withId('01aa')(p); serverIdentifier.set(p, '10.77.0.1'); requestedIpAddress.set(p, a.yiaddr) }))
  const b = sentOf(t, w.run(request(MessageType.Discover, MAC, withId('ffbb'))))
  t.equal(b.yiaddr, a.yiaddr, 'firmware, iPXE and the OS of one machine keep one address')
  const rel = w.run(request(MessageType.Release, MAC, p => { withId('ffbb')(p); p.ciaddr = a.yiaddr }))
  t.match(rel.d, { kind: 'update', lease: { op: 'release' } }, 'the MAC releases it whatever its identifier')
})

t.test('leaseIdentity client-id: two identifiers behind one MAC get separate leases; RELEASE/DECLINE under another identifier change nothing', async t => {
  const w = world('byid')
  const sel = (hex: string, ip: string) => request(MessageType.Request, MAC, p => { withId(hex)(p); serverIdentifier.set(p, '10.78.0.1'); requestedIpAddress.set(p, ip) })
  const a = sentOf(t, w.run(request(MessageType.Discover, MAC, withId('01aa'))))
  const ackA = w.run(sel('01aa', a.yiaddr))
  t.match(ackA.d, { kind: 'reply', type: 'ack', lease: { op: 'bind', key: 'id:01aa', mac: MAC } }, 'the lease belongs to the identifier')
  const b = sentOf(t, w.run(request(MessageType.Discover, MAC, withId('02bb'))))
  t.not(b.yiaddr, a.yiaddr, 'the second client does not get the first one\'s lease')
  t.match(w.run(sel('02bb', a.yiaddr)).d, { kind: 'reply', type: 'nak' }, 'nor can it REQUEST it')
  t.match(w.run(sel('02bb', b.yiaddr)).d, { kind: 'reply', type: 'ack' }, 'it gets its own')

  t.match(w.run(request(MessageType.Release, MAC, p => { withId('02bb')(p); p.ciaddr = a.yiaddr })).d, { kind: 'drop', reason: 'not-ours' }, 'RELEASE of a\'s address under b\'s identifier: nothing')
  t.match(w.run(request(MessageType.Decline, MAC, p => { withId('02bb')(p); serverIdentifier.set(p, '10.78.0.1'); requestedIpAddress.set(p, a.yiaddr) })).d, { kind: 'drop', reason: 'not-ours' }, 'DECLINE likewise')
  t.equal(w.book.leaseOf('id:01aa')?.state, 'bound', 'a\'s lease is untouched')
  const renewA = w.run(request(MessageType.Request, MAC, p => { withId('01aa')(p); p.ciaddr = a.yiaddr }))
  t.match(renewA.d, { kind: 'reply', type: 'ack' }, 'and a still renews it')
  t.match(w.run(request(MessageType.Release, MAC, p => { withId('01aa')(p); p.ciaddr = a.yiaddr })).d, { kind: 'update', lease: { op: 'release' } }, 'a itself can release it')

  const noId = sentOf(t, w.run(request(MessageType.Discover, MAC)))
  t.not(noId.yiaddr, b.yiaddr, 'a client without option 61 is keyed by its MAC, apart from both')
  const reserved = sentOf(t, w.run(request(MessageType.Discover, '52:54:00:00:00:0a', withId('03cc'))))
  t.equal(reserved.yiaddr, '10.78.0.10', 'a reservation follows the MAC whatever the identifier')
})

t.test('option 57 = 576 with a long option 55: OFFER and ACK within 548 bytes, required options kept, the rest by preference', async t => {
  const w = world('fat')
  const ask = (p: DhcpPacket) => { maxMessageSize.set(p, 576); parameterRequestList.set(p, [1, 3, 6, 15, 119, 224, 225, 226, 227, 51, 54, 58, 59]) }
  const r = w.run(request(MessageType.Discover, MAC, ask))
  const offer = sentOf(t, r)
  if (r.d.kind === 'reply') t.ok(encode(r.d.packet, { maxSize: 9000 }).length > 548, 'unfitted, the OFFER would not fit 548 bytes (before the fix: no answer)')
  t.ok(r.bytes <= 548, `OFFER is ${r.bytes} bytes`)
  t.equal(messageType(offer), MessageType.Offer, 'an answer, not silence')
  t.equal(serverIdentifier(offer), '10.79.0.1')
  t.equal(leaseTime(offer), 3600)
  t.equal(subnetMask(offer), '255.255.255.0')
  t.same(routers(offer), ['10.79.0.254'])
  t.ok(r.leftOut.length > 0, `left out (counted by the service): ${r.leftOut.join(', ')}`)
  t.ok(offer.options.has(224), 'the first custom option asked for is sent (overloaded into file/sname if need be)')
  // The custom options are the same size: what is sent of them is a prefix of the preference order.
  const sentCustom = [224, 225, 226, 227].filter(c => offer.options.has(c))
  t.same(sentCustom, [224, 225, 226, 227].slice(0, sentCustom.length), `a later preference never displaces an earlier one (sent ${sentCustom.join(', ')})`)
  t.same([...sentCustom, ...r.leftOut.filter(c => c >= 224)].sort(), [224, 225, 226, 227], 'each custom option is sent or counted as left out')
  const ack = w.run(request(MessageType.Request, MAC, p => { ask(p); serverIdentifier.set(p, '10.79.0.1'); requestedIpAddress.set(p, offer.yiaddr) }))
  t.equal(messageType(sentOf(t, ack)), MessageType.Ack)
  t.ok(ack.bytes <= 548, `ACK is ${ack.bytes} bytes`)

  const pxe = w.run(request(MessageType.Discover, '52:54:00:00:00:05', p => {
    ask(p); clientSystemArchitecture.set(p, [0]); vendorClassIdentifier.set(p, 'PXEClient:Arch:00000:UNDI:002001')
  }))
  const pxeOffer = sentOf(t, pxe)
  t.ok(pxe.bytes <= 548)
  t.equal(pxeOffer.file, 'undionly.kpxe', 'a PXE ROM keeps its boot file')
  t.equal(vendorClassIdentifier(pxeOffer), 'PXEClient', 'and option 60')
  t.ok(vendorSpecific(pxeOffer) !== undefined, 'and option 43')
})

t.test('relayed INFORM with ciaddr 0.0.0.0 → ACK to giaddr; a direct one stays refused', async t => {
  const w = world('far')
  const inform = request(MessageType.Inform, MAC, p => { p.giaddr = '10.90.0.1' })
  const r = w.run(inform)
  const ack = sentOf(t, r)
  t.equal(messageType(ack), MessageType.Ack)
  t.equal(ack.yiaddr, '0.0.0.0', 'no address')
  t.equal(leaseTime(ack), undefined, 'no lease time')
  t.same(routers(ack), ['10.90.0.1'])
  t.match(replyDestination(inform, ack), { address: '10.90.0.1', port: 67, rule: 'relay' }, 'through the relay')
  t.match(world('bymac').run(request(MessageType.Inform, MAC)).d, { kind: 'drop', reason: 'wrong-subnet' }, 'direct INFORM from 0.0.0.0: dropped')
})

t.test('relay link selection: giaddr outside every LAN, 82.5 (RFC 3527) or option 118 (RFC 3011) names the LAN', async t => {
  const states = [...loaded.lans.values()].map(lan => ({ ctx: lanContext(lan, loaded) }))
  const relayed = (extra: (p: DhcpPacket) => void) => {
    const p = request(MessageType.Discover, MAC, q => { q.giaddr = '10.80.0.2'; extra(q) })
    return relayedLan(decode(encode(p)), states)?.ctx.lan.name ?? null
  }
  const linkSel = (ip: string) => (p: DhcpPacket) => relayAgentInformation.set(p, new Map([[RelayAgentSubOption.LinkSelection, ipv4ToBytes(ip)]]))
  t.equal(relayed(() => {}), null, 'giaddr 10.80.0.2 alone is in no LAN: no answer')
  t.equal(relayed(linkSel('10.90.0.1')), 'far', '82.5 = 10.90.0.1 → far')
  t.equal(relayed(linkSel('10.91.0.1')), 'farther', '82.5 = 10.91.0.1 → farther')
  t.equal(relayed(p => subnetSelection.set(p, '10.91.0.0')), 'farther', '118 = 10.91.0.0 → farther')
  t.equal(relayed(p => { linkSel('10.90.0.1')(p); subnetSelection.set(p, '10.91.0.0') }), 'farther', '118 takes precedence over 82.5')
  t.equal(relayed(linkSel('10.99.0.1')), null, 'a link in no LAN: no answer')
  t.equal(relayedLan(decode(encode(request(MessageType.Discover, MAC))), states), undefined, 'not relayed: the socket decides')

  const w = world('far')
  const offer = sentOf(t, w.run(request(MessageType.Discover, MAC, p => { p.giaddr = '10.80.0.2'; linkSel('10.90.0.1')(p) })))
  t.match(offer.yiaddr, /^10\.90\.0\.1[0-2]\d$/, 'an address of the selected LAN')
  t.same(relayAgentInformation(offer)?.get(RelayAgentSubOption.LinkSelection), ipv4ToBytes('10.90.0.1'), 'option 82 echoed with it')
})

t.test('server identifier override (RFC 5107): OFFER and ACK carry 82.11 as option 54; REQUEST to it is ours', async t => {
  const w = world('far')
  const override = (p: DhcpPacket) => { p.giaddr = '10.90.0.1'; relayAgentInformation.set(p, new Map([[RelayAgentSubOption.ServerIdentifierOverride, ipv4ToBytes('10.90.0.1')]])) }
  const offer = sentOf(t, w.run(request(MessageType.Discover, MAC, override)))
  t.equal(serverIdentifier(offer), '10.90.0.1', 'OFFER: option 54 = the relay\'s override')
  const ack = sentOf(t, w.run(request(MessageType.Request, MAC, p => { override(p); serverIdentifier.set(p, '10.90.0.1'); requestedIpAddress.set(p, offer.yiaddr) })))
  t.equal(messageType(ack), MessageType.Ack, 'REQUEST with 54 = the override address is accepted')
  t.equal(serverIdentifier(ack), '10.90.0.1')
  t.match(w.run(request(MessageType.Request, MAC, p => { override(p); serverIdentifier.set(p, '10.90.0.77'); requestedIpAddress.set(p, offer.yiaddr) })).d, { kind: 'drop', reason: 'other-server' }, 'another server identifier is still another server')
  const plain = sentOf(t, w.run(request(MessageType.Discover, '52:54:00:00:00:06', p => { p.giaddr = '10.90.0.1' })))
  t.equal(serverIdentifier(plain), '10.80.0.1', 'without the sub-option: the LAN\'s address')
  t.match(w.run(request(MessageType.Request, MAC, p => { serverIdentifier.set(p, '10.90.0.1'); requestedIpAddress.set(p, offer.yiaddr) })).d, { kind: 'drop', reason: 'other-server' }, 'a direct REQUEST cannot claim the override')
})

t.test('small gaps: several routers, configured T1/T2, a per-LAN next server', async t => {
  const w = world('bymac')
  const offer = sentOf(t, w.run(request(MessageType.Discover, MAC)))
  t.same(routers(offer), ['10.77.0.254', '10.77.0.253'], 'option 3 carries both, in order')
  t.equal(renewalTime(offer), 1200, 'T1 = renewalTime 20m')
  t.equal(rebindingTime(offer), 2400, 'T2 = rebindingTime 40m')
  const pxe = sentOf(t, w.run(request(MessageType.Discover, '52:54:00:00:00:07', p => { clientSystemArchitecture.set(p, [0]); vendorClassIdentifier.set(p, 'PXEClient:Arch:00000:UNDI:002001') })))
  t.equal(pxe.siaddr, '10.77.0.5', 'siaddr = nextServer')
  t.equal(serverIdentifier(pxe), '10.77.0.1', 'option 54 stays rackboot')
  const dflt = sentOf(t, world('byid').run(request(MessageType.Discover, MAC)))
  t.equal(renewalTime(dflt), 1800, 'default T1: half of 1h')
  t.equal(rebindingTime(dflt), 3150, 'default T2: 7/8 of 1h')
})

t.test('config: T1 < T2 < lease, routers in the subnet and not twice, each problem naming its key', async t => {
  const problems = (lan: string): string[] => {
    try {
      parseConfig(`lans:\n  - name: a\n    interface: br0\n    subnet: 10.1.0.0/24\n    address: 10.1.0.1\n${lan}`, 'rb.yaml')
      return []
    } catch (err) { return (err as Error).message.split('\n').map(l => l.replace(/^rb\.yaml:\d+: /, '')) }
  }
  t.match(problems('    leaseTime: 1h\n    renewalTime: 50m\n    rebindingTime: 40m\n'), [/^lans\[0\]\.renewalTime: renewal time T1 \(3000s\) must be shorter than the rebinding time T2 \(2400s\)/])
  t.match(problems('    leaseTime: 1h\n    rebindingTime: 2h\n'), [/^lans\[0\]\.rebindingTime: rebinding time T2 \(7200s\) must be shorter than leaseTime \(3600s\)/])
  t.match(problems('    leaseTime: 1h\n    renewalTime: 55m\n'), [/^lans\[0\]\.renewalTime: .*7\/8 of leaseTime/])
  t.match(problems('    gateway: [10.1.0.254, 10.2.0.1]\n'), [/^lans\[0\]\.gateway\[1\]: 10\.2\.0\.1 is not a host address/])
  t.match(problems('    gateway: [10.1.0.254, 10.1.0.254]\n'), [/^lans\[0\]\.gateway\[1\]: 10\.1\.0\.254 is listed twice/])
  t.match(problems('    leaseIdentity: clientid\n'), [/^lans\[0\]\.leaseIdentity/])
  t.same(problems('    gateway: [10.1.0.254, 10.1.0.253]\n    renewalTime: 10m\n    rebindingTime: 20m\n    nextServer: 10.1.0.9\n    leaseIdentity: client-id\n'), [], 'a valid LAN')
})
