// decide() as tables of named cases: a fake lookup (machines in a Map, leases in an AddressBook).
import t from 'tap'
import {
  createPacket, messageType, requestedIpAddress, serverIdentifier, parameterRequestList, userClass, clientSystemArchitecture,
  vendorClassIdentifier, leaseTime, routers, subnetMask, domainNameServers, hostName, ipxeEncapsulated, vendorSpecific,
  bootfileName, MessageType, Option, encode, decode
} from '@rackboot/dhcp'
import { macToBytes, tryParseIPv4 } from '@rackboot/wire'
import { decide, type Decision, type Lookup, type MachineView } from '../../src/dhcp/decide.js'
import { AddressBook } from '../../src/dhcp/address-book.js'
import { bookLookup } from '../../src/dhcp/lookup.js'
import { applyDecision, memoryLedger } from '../../src/dhcp/apply.js'
import { lanContext } from '../../src/dhcp/lan-context.js'
import { parseConfig } from '../../src/config/load.js'

const YAML = `
dataDir: /tmp/unused
boot: { http: 0.0.0.0:8080 }
lans:
  - name: prov
    interface: br0
    subnet: 10.77.0.0/24
    address: 10.77.0.1
    gateway: 10.77.0.254
    dns: [10.77.0.1, 10.77.0.2]
    domain: rack1.example
    pool: 10.77.0.100-10.77.0.102
    unknownMachines: discover
    leaseTime: 1h
    routes: [{ destination: 10.99.0.0/16, gateway: 10.77.0.253 }]
    options: [{ code: 252, text: "http://wpad/" }]
  - name: bmc
    interface: br1
    subnet: 10.78.0.0/24
    address: 10.78.0.1
    unknownMachines: ignore
  - name: misc
    interface: br2
    subnet: 10.79.0.0/24
    address: 10.79.0.1
    pool: 10.79.0.10-10.79.0.20
    unknownMachines: lease
`
const loaded = parseConfig(YAML, 'test.yaml')
const NOW = 1_700_000_000_000

const MACS = { reserved: '52:54:00:00:00:01', pooled: '52:54:00:00:00:02', bmcBox: '52:54:00:00:00:03', stranger: '52:54:00:00:00:99' }
const machines = new Map<string, MachineView>([
  [MACS.reserved, { id: 1, lan: 'prov', hostname: 'node-1.rack1', ipv4: '10.77.0.10', state: 'ready' }],
  [MACS.pooled, { id: 2, lan: 'prov', hostname: 'node-2', ipv4: null, state: 'ready' }],
  [MACS.bmcBox, { id: 3, lan: 'bmc', hostname: 'bmc-3', ipv4: '10.78.0.3', state: 'ready' }]
])

function world (lanName = 'prov', opts: { discoverFull?: boolean } = {}) {
  const lan = loaded.lans.get(lanName)
  if (lan === undefined) throw new Error(lanName)
  const book = new AddressBook(lan)
  const ctx = lanContext(lan, loaded)
  const none = () => false
  const lookup = bookLookup(book, NOW, mac => machines.get(mac) ?? null, none, () => opts.discoverFull === true)
  const run = (req: ReturnType<typeof createPacket>): Decision => {
    // every request goes through the codec first, and its decision is applied, as in the service
    const packet = decode(encode(req))
    const d = decide(packet, { lan: ctx, now: NOW, lookup, offerHoldMs: 30_000, quarantineMs: 600_000 })
    applyDecision(d, lanName, book, memoryLedger, NOW)
    return d
  }
  return { book, ctx, run }
}

let xid = 1
function request (type: number, mac: string, extra: (p: ReturnType<typeof createPacket>) => void = () => {}) {
  const p = createPacket({ xid: xid++, chaddr: macToBytes(mac) })
  messageType.set(p, type)
  parameterRequestList.set(p, [1, 3, 6, 12, 15, 28, 42, 51, 54, 66, 67, 119, 121, 175, 252])
  extra(p)
  return p
}
const discover = (mac: string, extra?: (p: ReturnType<typeof createPacket>) => void) => request(MessageType.Discover, mac, extra)
const select = (mac: string, ip: string, sid = '10.77.0.1') => request(MessageType.Request, mac, p => { serverIdentifier.set(p, sid); requestedIpAddress.set(p, ip) })

function replyOf (t: { fail (msg: string): unknown }, d: Decision) {
  if (d.kind !== 'reply') { t.fail(`expected a reply, got ${JSON.stringify(d)}`); throw new Error('no reply') }
  return d
}

t.test('DORA for a machine with a reservation: its address, its LAN\'s options, its hostname', async t => {
  const w = world()
  const offer = replyOf(t, w.run(discover(MACS.reserved)))
  t.equal(offer.type, 'offer')
  t.equal(offer.packet.yiaddr, '10.77.0.10')
  t.equal(messageType(offer.packet), MessageType.Offer)
  t.equal(serverIdentifier(offer.packet), '10.77.0.1')
  t.equal(leaseTime(offer.packet), 3600)
  t.equal(subnetMask(offer.packet), '255.255.255.0')
  t.same(routers(offer.packet), ['10.77.0.254'])
  t.same(domainNameServers(offer.packet), ['10.77.0.1', '10.77.0.2'])
  t.equal(hostName(offer.packet), 'node-1', 'the inventory hostname, first label')
  t.same([...(offer.packet.options.get(252) ?? [])], [...Buffer.from('http://wpad/')], 'custom option by code')
  t.ok(offer.packet.options.has(Option.ClasslessStaticRoute), 'classless routes')
  t.equal(offer.lease?.op, 'offer')

  const ack = replyOf(t, w.run(select(MACS.reserved, '10.77.0.10')))
  t.equal(ack.type, 'ack')
  t.equal(ack.packet.yiaddr, '10.77.0.10')
  t.match(ack.lease, { op: 'bind', ip: '10.77.0.10', machineId: 1, expiresAt: NOW + 3600_000, discover: false })
  t.same(ack.events.map(e => e.type), ['lease.bound'])
  t.same(ack.observe, { machineId: 1, arch: null, uuid: null })
})

t.test('pool addresses: distinct per client, kept on rediscover, never given twice', async t => {
  const w = world()
  const a = replyOf(t, w.run(discover(MACS.pooled))).packet.yiaddr
  const b = replyOf(t, w.run(discover('52:54:00:00:10:01'))).packet.yiaddr
  t.not(a, b)
  t.equal(replyOf(t, w.run(discover(MACS.pooled))).packet.yiaddr, a, 'the held offer again')
  const c = replyOf(t, w.run(discover('52:54:00:00:10:02'))).packet.yiaddr
  t.same(new Set([a, b, c]).size, 3)
  const exhausted = w.run(discover('52:54:00:00:10:03'))
  t.match(exhausted, { kind: 'drop', reason: 'pool-exhausted' })
  t.same((exhausted as { events: Array<{ type: string }> }).events.map(e => e.type), ['dhcp.pool-exhausted'])
})

t.test('unknown machines follow the LAN policy', async t => {
  t.match(world('bmc').run(discover(MACS.stranger)), { kind: 'drop', reason: 'unknown-mac', events: [] }, 'ignore: silence, nothing allocated')
  const w = world('prov')
  w.run(discover(MACS.stranger))
  const ack = replyOf(t, w.run(select(MACS.stranger, '10.77.0.100')))
  t.match(ack.lease, { op: 'bind', machineId: null, discover: true }, 'discover: a discovered record at bind')
  const m = world('misc')
  const offer = replyOf(t, m.run(discover(MACS.stranger, p => { m.book; void p })))
  const bound = replyOf(t, world('misc').run(select(MACS.stranger, offer.packet.yiaddr, '10.79.0.1')))
  t.match(bound.lease, { op: 'bind', discover: false }, 'lease: an address and nothing else')
})

t.test('a discover LAN holding maxDiscovered records answers no new unknown MAC', async t => {
  const full = world('prov', { discoverFull: true })
  for (const req of [discover(MACS.stranger), select(MACS.stranger, '10.77.0.100')]) {
    const d = full.run(req)
    t.match(d, { kind: 'drop', reason: 'discover-limit', detail: '1024 discovered machines on LAN prov' })
    t.same((d as { events: Array<{ type: string; detail: unknown }> }).events.map(e => [e.type, e.detail]), [['dhcp.discover-limit', { maxDiscovered: 1024 }]])
  }
  t.equal(replyOf(t, full.run(discover(MACS.pooled))).type, 'offer', 'registered machines are served as before')
  t.equal(replyOf(t, full.run(discover(MACS.reserved))).type, 'offer')
  const m = world('misc', { discoverFull: true })
  t.equal(replyOf(t, m.run(discover(MACS.stranger))).type, 'offer', 'the bound applies to discover LANs only')
})

t.test('a machine registered on another LAN gets nothing and raises wrong-lan', async t => {
  const d = world('prov').run(discover(MACS.bmcBox))
  t.match(d, { kind: 'drop', reason: 'wrong-lan' })
  t.match((d as { events: unknown[] }).events, [{ type: 'dhcp.wrong-lan', machineId: 3, lan: 'prov', mac: MACS.bmcBox, detail: { seenOn: 'prov', registeredOn: 'bmc' } }])
})

t.test('REQUEST states (RFC 2131 §4.3.2)', async t => {
  const cases: Array<{ name: string; setup?: (w: ReturnType<typeof world>) => void; req: () => ReturnType<typeof createPacket>; want: Record<string, unknown> }> = [
    { name: 'SELECTING for another server: silence', req: () => select(MACS.pooled, '10.77.0.100', '10.77.0.9'), want: { kind: 'drop', reason: 'other-server' } },
    { name: 'SELECTING without option 50: malformed', req: () => request(MessageType.Request, MACS.pooled, p => serverIdentifier.set(p, '10.77.0.1')), want: { kind: 'drop', reason: 'malformed' } },
    { name: 'SELECTING the wrong address for a reservation: NAK', req: () => select(MACS.reserved, '10.77.0.11'), want: { kind: 'reply', type: 'nak' } },
    { name: 'SELECTING a free pool address after a restart (no offer on record): ACK', req: () => select(MACS.pooled, '10.77.0.101'), want: { kind: 'reply', type: 'ack' } },
    { name: 'INIT-REBOOT on the wrong network: NAK', req: () => request(MessageType.Request, MACS.pooled, p => requestedIpAddress.set(p, '192.168.1.5')), want: { kind: 'reply', type: 'nak' } },
    { name: 'INIT-REBOOT with no record: silence', req: () => request(MessageType.Request, MACS.pooled, p => requestedIpAddress.set(p, '10.77.0.100')), want: { kind: 'drop', reason: 'no-record' } },
    {
      name: 'INIT-REBOOT for its own lease: ACK',
      setup: w => w.book.put({ ip: tryParseIPv4('10.77.0.100') as number, mac: MACS.pooled, key: MACS.pooled, state: 'bound', expiresAt: NOW + 1000, machineId: 2 }),
      req: () => request(MessageType.Request, MACS.pooled, p => requestedIpAddress.set(p, '10.77.0.100')),
      want: { kind: 'reply', type: 'ack' }
    },
    {
      name: 'INIT-REBOOT for an address another client holds: NAK',
      setup: w => w.book.put({ ip: tryParseIPv4('10.77.0.100') as number, mac: '52:54:00:00:77:77', key: '52:54:00:00:77:77', state: 'bound', expiresAt: NOW + 1000, machineId: null }),
      req: () => request(MessageType.Request, MACS.pooled, p => { requestedIpAddress.set(p, '10.77.0.100') }),
      want: { kind: 'drop', reason: 'no-record' }
    },
    { name: 'INIT-REBOOT of a reservation: ACK', req: () => request(MessageType.Request, MACS.reserved, p => requestedIpAddress.set(p, '10.77.0.10')), want: { kind: 'reply', type: 'ack' } },
    {
      name: 'RENEWING its lease: ACK, no new-binding event',
      setup: w => w.book.put({ ip: tryParseIPv4('10.77.0.101') as number, mac: MACS.pooled, key: MACS.pooled, state: 'bound', expiresAt: NOW + 1000, machineId: 2 }),
      req: () => request(MessageType.Request, MACS.pooled, p => { p.ciaddr = '10.77.0.101' }),
      want: { kind: 'reply', type: 'ack', events: [] }
    },
    {
      name: 'RENEWING an address someone else holds: NAK',
      setup: w => w.book.put({ ip: tryParseIPv4('10.77.0.101') as number, mac: '52:54:00:00:77:77', key: '52:54:00:00:77:77', state: 'bound', expiresAt: NOW + 1000, machineId: null }),
      req: () => request(MessageType.Request, MACS.pooled, p => { p.ciaddr = '10.77.0.101' }),
      want: { kind: 'reply', type: 'nak' }
    },
    { name: 'RENEWING from another subnet: silence', req: () => request(MessageType.Request, MACS.pooled, p => { p.ciaddr = '10.1.0.5' }), want: { kind: 'drop', reason: 'wrong-subnet' } },
    { name: 'REQUEST with nothing to go on: malformed', req: () => request(MessageType.Request, MACS.pooled), want: { kind: 'drop', reason: 'malformed' } }
  ]
  for (const c of cases) {
    const w = world()
    c.setup?.(w)
    t.match(w.run(c.req()), c.want, c.name)
  }
})

t.test('NAK carries only what RFC 2131 Table 3 allows', async t => {
  const d = replyOf(t, world().run(select(MACS.reserved, '10.77.0.11')))
  t.equal(d.packet.yiaddr, '0.0.0.0')
  t.same([...d.packet.options.keys()].sort((a, b) => a - b), [Option.ServerIdentifier, Option.MessageType, Option.Message].sort((a, b) => a - b))
  t.equal(d.lease, null)
})

t.test('DECLINE quarantines the address; RELEASE frees only the client\'s own', async t => {
  const w = world()
  const offered = replyOf(t, w.run(discover(MACS.pooled))).packet.yiaddr
  w.run(select(MACS.pooled, offered))
  const declined = w.run(request(MessageType.Decline, MACS.pooled, p => { requestedIpAddress.set(p, offered); serverIdentifier.set(p, '10.77.0.1') }))
  t.match(declined, { kind: 'update', lease: { op: 'decline', ip: offered, expiresAt: NOW + 600_000 }, events: [{ type: 'dhcp.declined' }] })
  const next = replyOf(t, w.run(discover(MACS.pooled))).packet.yiaddr
  t.not(next, offered, 'the declined address is not offered again during quarantine')

  w.run(select(MACS.pooled, next))
  t.match(w.run(request(MessageType.Release, '52:54:00:00:77:77', p => { p.ciaddr = next })), { kind: 'drop', reason: 'not-ours' }, 'someone else cannot release it')
  t.match(w.run(request(MessageType.Release, MACS.pooled, p => { p.ciaddr = next })), { kind: 'update', lease: { op: 'release', ip: next }, events: [{ type: 'lease.released' }] })
  t.equal(w.book.holder(tryParseIPv4(next) as number, NOW), null, 'free again')
})

t.test('INFORM: an ACK with options, no lease, to ciaddr', async t => {
  const d = replyOf(t, world().run(request(MessageType.Inform, MACS.pooled, p => { p.ciaddr = '10.77.0.50' })))
  t.equal(d.type, 'ack')
  t.equal(d.packet.yiaddr, '0.0.0.0')
  t.equal(leaseTime(d.packet), undefined, 'no lease time in an INFORM ACK')
  t.same(domainNameServers(d.packet), ['10.77.0.1', '10.77.0.2'])
  t.equal(d.lease, null)
})

t.test('netboot: PXE firmware gets iPXE over TFTP by architecture, iPXE gets its script URL', async t => {
  const pxe = (arch: number) => discover(MACS.reserved, p => { clientSystemArchitecture.set(p, [arch]); vendorClassIdentifier.set(p, `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`) })
  const cases: Array<[string, number, string]> = [['BIOS', 0, 'undionly.kpxe'], ['x64 UEFI', 7, 'ipxe.efi'], ['x64 UEFI (9)', 9, 'ipxe.efi'], ['arm64 UEFI', 11, 'ipxe-arm64.efi']]
  for (const [name, arch, file] of cases) {
    const d = replyOf(t, world().run(pxe(arch)))
    t.equal(d.packet.file, file, name)
    t.equal(d.packet.siaddr, '10.77.0.1', `${name}: next-server is the LAN's address`)
    t.equal(vendorClassIdentifier(d.packet), 'PXEClient')
    t.same(vendorSpecific(d.packet)?.get(6), Uint8Array.of(8), `${name}: PXE discovery control: use the boot file`)
    t.match(d.events, [{ type: 'dhcp.offer', detail: { arch: String(arch), client: 'pxe', bootFile: file } }])
  }
  const http = replyOf(t, world().run(discover(MACS.reserved, p => { clientSystemArchitecture.set(p, [16]); vendorClassIdentifier.set(p, 'HTTPClient:Arch:00016') })))
  t.equal(http.packet.file, 'http://10.77.0.1:8080/ipxe/ipxe.efi', 'UEFI HTTP boot gets a URL')
  t.equal(vendorClassIdentifier(http.packet), 'HTTPClient')

  const ipxe = replyOf(t, world().run(discover(MACS.reserved, p => { userClass.set(p, { format: 'plain', classes: ['iPXE'] } as never); clientSystemArchitecture.set(p, [7]) })))
  t.equal(ipxe.packet.file, `http://10.77.0.1:8080/boot/ipxe?mac=${MACS.reserved}`)
  t.equal(bootfileName(ipxe.packet), `http://10.77.0.1:8080/boot/ipxe?mac=${MACS.reserved}`)
  t.same(ipxeEncapsulated(ipxe.packet)?.get(176), Uint8Array.of(1), 'iPXE told not to wait for proxyDHCP')

  const plain = replyOf(t, world().run(discover(MACS.reserved)))
  t.equal(plain.packet.file, '', 'an OS client gets no boot file')
  t.same(plain.events, [], 'and no boot event')
})

t.test('non-DHCP input is dropped with a reason', async t => {
  const bootp = createPacket({ chaddr: macToBytes(MACS.pooled) })
  t.match(decide(bootp, { lan: world().ctx, now: NOW, lookup: {} as Lookup, offerHoldMs: 1, quarantineMs: 1 }), { kind: 'drop', reason: 'not-dhcp' })
  const ib = request(MessageType.Discover, MACS.pooled, p => { p.htype = 32; p.hlen = 6 })
  t.match(world().run(ib), { kind: 'drop', reason: 'not-ethernet' })
  t.match(world().run(request(MessageType.Offer, MACS.pooled, p => { p.op = 2 })), { kind: 'drop', reason: 'not-request' }, 'another server\'s OFFER')
})

t.test('conflict check: only a pool address the client does not hold yet is probed', async t => {
  const w = world()
  t.notOk(replyOf(t, w.run(discover(MACS.reserved))).probe, 'a reservation is never probed')
  const first = replyOf(t, w.run(discover(MACS.pooled)))
  t.equal(first.probe, true, 'a fresh pool offer is probed')
  t.notOk(replyOf(t, w.run(discover(MACS.pooled))).probe, 'the offer it holds is not probed again')
  replyOf(t, w.run(select(MACS.pooled, first.packet.yiaddr)))
  t.notOk(replyOf(t, w.run(discover(MACS.pooled))).probe, 'nor the address it has bound')
})
