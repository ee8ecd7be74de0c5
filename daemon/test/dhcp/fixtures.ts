// decide() on what real clients sent (packages/dhcp/test/fixtures/, captured by capture.ts there):
// the BIOS iPXE ROM gets its script URL, OVMF's PXE gets iPXE over TFTP, OS clients get an
// address and no boot file; every reply fits the size the client accepts. Same fake lookup as
// decide.ts: no machines registered, leases in an AddressBook, on a LAN shaped like the capture lab.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import {
  decode, encode, maxReplySize, replyDestination, messageType, serverIdentifier, vendorClassIdentifier, vendorSpecific,
  ipxeEncapsulated, bootfileName, leaseTime, subnetMask, routers, requestedIpAddress, clientHardwareAddress, MessageType, Option,
  type DhcpPacket
} from '@rackboot/dhcp'
import { decide, type Decision } from '../../src/dhcp/decide.js'
import { AddressBook } from '../../src/dhcp/address-book.js'
import { bookLookup } from '../../src/dhcp/lookup.js'
import { applyDecision, memoryLedger } from '../../src/dhcp/apply.js'
import { lanContext } from '../../src/dhcp/lan-context.js'
import { parseConfig } from '../../src/config/load.js'

const FIXTURES = new URL('../../../packages/dhcp/test/fixtures/', import.meta.url)
const load = (name: string): Uint8Array => Uint8Array.from(Buffer.from(readFileSync(new URL(name, FIXTURES), 'utf8').replace(/\s+/g, ''), 'hex'))

const LAN = '10.79.0.1'
const loaded = parseConfig(`
dataDir: /tmp/unused
boot: { http: 0.0.0.0:8080 }
lans:
  - name: cap
    interface: br-cap
    subnet: 10.79.0.0/24
    address: ${LAN}
    gateway: ${LAN}
    dns: [${LAN}]
    pool: 10.79.0.100-10.79.0.150
    unknownMachines: lease
    leaseTime: 1h
`, 'test.yaml')
const NOW = 1_700_000_000_000

function world () {
  const lan = loaded.lans.get('cap')
  if (lan === undefined) throw new Error('cap')
  const book = new AddressBook(lan)
  const ctx = lanContext(lan, loaded)
  const none = () => false
  const lookup = bookLookup(book, NOW, () => null, none)
  const run = (req: DhcpPacket): Decision => {
    const d = decide(req, { lan: ctx, now: NOW, lookup, offerHoldMs: 30_000, quarantineMs: 600_000 })
    applyDecision(d, 'cap', book, memoryLedger, NOW)
    return d
  }
  return { run }
}

type Reply = Extract<Decision, { kind: 'reply' }>
function replyOf (t: { fail (msg: string): unknown }, d: Decision): Reply {
  if (d.kind !== 'reply') { t.fail(`expected a reply, got ${JSON.stringify(d)}`); throw new Error('no reply') }
  return d
}

/** The reply goes through the codec as the service sends it: within maxReplySize(request). */
function encodesWithin (t: Test, req: DhcpPacket, d: Reply, name: string): DhcpPacket {
  const limit = maxReplySize(req)
  let bytes: Uint8Array
  try {
    bytes = encode(d.packet, { maxSize: limit })
  } catch (err) {
    t.fail(`${name}: the ${d.type} does not encode within ${limit} bytes: ${String(err)}`)
    throw err
  }
  t.ok(bytes.length <= limit, `${name}: ${d.type} is ${bytes.length} bytes, within maxReplySize ${limit}`)
  t.ok(bytes.length <= 548, `${name}: ${d.type} also fits the RFC 2131 minimum (548) whatever option 57 says`)
  return decode(bytes)
}

const IPXE_SCRIPT = `http://${LAN}:8080/boot/ipxe?mac=52:54:00:f1:00:04`

interface Case {
  client: string
  /** What the OFFER's (and ACK's) boot fields must be. */
  file: string
  siaddr: string
  opt60?: string
  opt43?: Map<number, Uint8Array>
  opt175?: Map<number, Uint8Array>
  opt67?: string
  rule: string
}

const CASES: Case[] = [
  { client: 'ipxe-rom', file: IPXE_SCRIPT, siaddr: LAN, opt175: new Map([[176, Uint8Array.of(1)]]), opt67: IPXE_SCRIPT, rule: 'broadcast-no-arp' },
  // OVMF asks for 43, 60, 66 and 67 (option 55) and sets the broadcast flag. The TFTP boot file
  // travels in `file` + `siaddr` only (no 66/67), which OVMF's PxeBcDxe uses ("NBP filename is
  // ipxe.efi" on its console during the capture).
  { client: 'ovmf-pxe', file: 'ipxe.efi', siaddr: LAN, opt60: 'PXEClient', opt43: new Map([[6, Uint8Array.of(8)]]), rule: 'broadcast-flag' },
  { client: 'udhcpc', file: '', siaddr: '0.0.0.0', rule: 'broadcast-no-arp' },
  { client: 'dhclient', file: '', siaddr: '0.0.0.0', rule: 'broadcast-no-arp' },
  { client: 'dhcpcd', file: '', siaddr: '0.0.0.0', rule: 'broadcast-no-arp' }
]

for (const c of CASES) {
  t.test(`${c.client}: captured DISCOVER → OFFER, captured REQUEST → ACK`, async t => {
    const w = world()
    const discover = decode(load(`${c.client}-discover.hex`))
    const offer = replyOf(t, w.run(discover))
    t.equal(offer.type, 'offer')
    t.match(offer.lease, { op: 'offer', mac: clientHardwareAddress(discover), expiresAt: NOW + 30_000 }, 'the offered address is held')
    const sent = encodesWithin(t, discover, offer, 'DISCOVER')
    t.equal(messageType(sent), MessageType.Offer)
    t.equal(sent.xid, discover.xid, 'xid echoed')
    t.same(sent.chaddr, discover.chaddr, 'chaddr echoed')
    t.equal(sent.flags, discover.flags, 'flags echoed')
    t.match(sent.yiaddr, /^10\.79\.0\.(1[0-4]\d|150)$/, 'a pool address')
    t.equal(serverIdentifier(sent), LAN)
    t.equal(leaseTime(sent), 3600)
    t.equal(subnetMask(sent), '255.255.255.0')
    t.same(routers(sent), [LAN])
    t.equal(sent.file, c.file, 'file')
    t.equal(sent.siaddr, c.siaddr, 'siaddr (next-server)')
    t.equal(vendorClassIdentifier(sent), c.opt60, 'option 60')
    t.same(vendorSpecific(sent), c.opt43, 'option 43')
    t.same(ipxeEncapsulated(sent), c.opt175, 'option 175')
    t.equal(bootfileName(sent), c.opt67, 'option 67')
    if (c.file === '') t.same(offer.events, [], 'an OS client: no boot event')
    t.equal(replyDestination(discover, sent).rule, c.rule, `destination rule ${c.rule}`)
    // Nothing the client did not ask for, beyond what is always sent.
    const asked = new Set([...(discover.options.get(Option.ParameterRequestList) ?? [])])
    const always = new Set<number>([53, 54, 51, 58, 59, 1, 3, 60, 43, 175, 61])
    t.same([...sent.options.keys()].filter(k => !asked.has(k) && !always.has(k)), [], 'only requested or always-sent options')
    t.same(sent.options.get(Option.ClientIdentifier), discover.options.get(Option.ClientIdentifier), 'option 61 echoed as sent, or absent as sent (RFC 6842)')

    // The captured REQUEST names the address the lab's daemon offered; a fresh world ACKs it as
    // a free pool address (no offer on record, as after a restart).
    const request = decode(load(`${c.client}-request.hex`))
    const ack = replyOf(t, world().run(request))
    t.equal(ack.type, 'ack')
    const acked = encodesWithin(t, request, ack, 'REQUEST')
    t.equal(messageType(acked), MessageType.Ack)
    t.equal(acked.yiaddr, requestedIpAddress(request), 'the requested address')
    t.match(ack.lease, { op: 'bind', ip: requestedIpAddress(request), mac: clientHardwareAddress(request) })
    t.equal(acked.file, c.file, 'ACK file')
    t.equal(acked.siaddr, c.siaddr, 'ACK siaddr')
    t.same(ipxeEncapsulated(acked), c.opt175, 'ACK option 175')
  })
}

t.test('OVMF\'s REQUEST asks for 65280-byte replies: maxReplySize follows it', async t => {
  const request = decode(load('ovmf-pxe-request.hex'))
  t.equal(maxReplySize(request), 65252, 'more than an Ethernet frame: a large reply would be fragmented')
})
