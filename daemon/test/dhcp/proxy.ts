// decideProxy() (proxyDHCP, PXE 2.1) as named cases, and the config keys a proxy LAN refuses.
import t from 'tap'
import {
  createPacket, messageType, requestedIpAddress, serverIdentifier, userClass, clientSystemArchitecture, vendorClassIdentifier,
  vendorSpecific, bootfileName, routers, leaseTime, MessageType, Option, encode, decode
} from '@rackboot/dhcp'
import { macToBytes } from '@rackboot/wire'
import { type Decision, type MachineView } from '../../src/dhcp/decide.js'
import { decideProxy, isPxeClient } from '../../src/dhcp/proxy.js'
import { AddressBook } from '../../src/dhcp/address-book.js'
import { bookLookup } from '../../src/dhcp/lookup.js'
import { lanContext } from '../../src/dhcp/lan-context.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/config/errors.js'

const YAML = `
dataDir: /tmp/unused
boot: { http: 0.0.0.0:8080 }
lans:
  - name: colo
    interface: br0
    subnet: 10.80.0.0/24
    address: 10.80.0.1
    mode: proxy
  - name: prov
    interface: br1
    subnet: 10.77.0.0/24
    address: 10.77.0.1
`
const loaded = parseConfig(YAML, 'test.yaml')
const NOW = 1_700_000_000_000
const MACS = { colo: '52:54:00:0d:00:01', prov: '52:54:00:0d:00:02', stranger: '52:54:00:0d:00:99' }
const machines = new Map<string, MachineView>([
  [MACS.colo, { id: 1, lan: 'colo', hostname: 'c1', ipv4: null, state: 'ready' }],
  [MACS.prov, { id: 2, lan: 'prov', hostname: 'p1', ipv4: '10.77.0.10', state: 'ready' }]
])

function run (req: ReturnType<typeof createPacket>, port: 67 | 4011 = 67, from = { address: '0.0.0.0', port: 68 }): Decision {
  const lan = loaded.lans.get('colo')
  if (lan === undefined) throw new Error('colo')
  const book = new AddressBook(lan)
  const lookup = bookLookup(book, NOW, mac => machines.get(mac) ?? null, () => false, () => false)
  return decideProxy(decode(encode(req)), { lan: lanContext(lan, loaded), now: NOW, lookup, offerHoldMs: 30_000, quarantineMs: 600_000 }, port, from)
}

let xid = 1
function pxe (type: number, mac: string, arch: number, extra: (p: ReturnType<typeof createPacket>) => void = () => {}) {
  const p = createPacket({ xid: xid++, chaddr: macToBytes(mac) })
  messageType.set(p, type)
  vendorClassIdentifier.set(p, `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`)
  clientSystemArchitecture.set(p, [arch])
  p.options.set(Option.ClientMachineId, Uint8Array.from([0, ...Array.from({ length: 16 }, (_, i) => i + 1)]))
  extra(p)
  return p
}

function replyOf (t: { fail (msg: string): unknown }, d: Decision) {
  if (d.kind !== 'reply') { t.fail(`expected a reply, got ${JSON.stringify(d)}`); throw new Error('no reply') }
  return d
}

t.test('a PXE DISCOVER gets a proxy offer: no address, no lease, boot file and next server, PXEClient, UUID back', async t => {
  t.ok(isPxeClient(decode(encode(pxe(MessageType.Discover, MACS.colo, 0)))))
  const bios = replyOf(t, run(pxe(MessageType.Discover, MACS.colo, 0)))
  t.equal(bios.type, 'offer')
  t.equal(bios.packet.yiaddr, '0.0.0.0', 'no address: the other server gives it')
  t.equal(bios.lease, null, 'no lease')
  t.equal(bios.packet.siaddr, '10.80.0.1')
  t.equal(bios.packet.file, 'undionly.kpxe')
  t.equal(serverIdentifier(bios.packet), '10.80.0.1')
  t.equal(vendorClassIdentifier(bios.packet), 'PXEClient')
  t.notOk(bios.packet.options.has(Option.VendorSpecific), 'no option 43: PXE firmware asks port 4011 for its boot file')
  t.same([...(bios.packet.options.get(Option.ClientMachineId) ?? [])].slice(0, 3), [0, 1, 2], 'option 97 echoed')
  t.equal(leaseTime(bios.packet), undefined, 'no lease time')
  t.equal(routers(bios.packet), undefined, 'no router: the other server configures the network')
  t.equal(bios.to, undefined, 'broadcast by the usual rules')
  t.match(bios.events, [{ type: 'dhcp.offer', machineId: 1, detail: { proxy: true, ip: null, client: 'pxe', bootFile: 'undionly.kpxe', arch: '0' } }])
  t.equal(replyOf(t, run(pxe(MessageType.Discover, MACS.colo, 7))).packet.file, 'ipxe.efi', 'x64 UEFI: ipxe.efi')

  const ipxe = replyOf(t, run(pxe(MessageType.Discover, MACS.colo, 0, p => { userClass.set(p, { rfc3004: false, classes: ['iPXE'] }) })))
  t.equal(bootfileName(ipxe.packet), 'http://10.80.0.1:8080/boot/ipxe?mac=52:54:00:0d:00:01', 'iPXE: its script URL')
  t.notOk(ipxe.packet.options.has(Option.IpxeEncapsulated), 'no "skip proxyDHCP" option: this is the proxy')
})

t.test('port 4011: the boot server ACK, unicast back to the source, with the boot item echoed', async t => {
  const req = pxe(MessageType.Request, MACS.colo, 7, p => {
    p.ciaddr = '10.80.0.117'
    vendorSpecific.set(p, new Map([[71, Uint8Array.of(0x80, 0x00, 0x00, 0x00)]]))
  })
  const ack = replyOf(t, run(req, 4011, { address: '10.80.0.117', port: 4011 }))
  t.equal(ack.type, 'ack')
  t.same(ack.to, { address: '10.80.0.117', port: 4011 })
  t.equal(ack.seen, '10.80.0.117', 'the client\'s address is noted')
  t.equal(ack.packet.file, 'ipxe.efi')
  t.equal(ack.packet.ciaddr, '10.80.0.117')
  const v = vendorSpecific(ack.packet)
  t.same([...(v?.get(6) ?? [])], [8], 'discovery control: use the boot file')
  t.same([...(v?.get(71) ?? [])], [0x80, 0, 0, 0], 'boot item echoed')
  t.match(ack.events, [{ type: 'dhcp.ack', detail: { proxy: true, ip: '10.80.0.117' } }])
  const inform = replyOf(t, run(pxe(MessageType.Inform, MACS.colo, 0, p => { p.ciaddr = '10.80.0.118' }), 4011, { address: '10.80.0.118', port: 68 }))
  t.same(inform.to, { address: '10.80.0.118', port: 68 })
  t.match(run(pxe(MessageType.Discover, MACS.colo, 0), 4011, { address: '10.80.0.118', port: 68 }), { kind: 'drop', reason: 'unsupported-type' }, 'no DISCOVER on 4011')
})

t.test('silence: not PXE, unknown, other LAN, requests to the other server (noted), no boot file', async t => {
  const plain = createPacket({ xid: xid++, chaddr: macToBytes(MACS.colo) })
  messageType.set(plain, MessageType.Discover)
  t.match(run(plain), { kind: 'drop', reason: 'not-pxe', events: [] }, 'an OS\'s DHCP client is the other server\'s')
  t.match(run(pxe(MessageType.Discover, MACS.stranger, 0)), { kind: 'drop', reason: 'unknown-mac', events: [] })
  t.match(run(pxe(MessageType.Discover, MACS.prov, 0)), { kind: 'drop', reason: 'wrong-lan', events: [{ type: 'dhcp.wrong-lan', detail: { registeredOn: 'prov', seenOn: 'colo' } }] })
  const toOther = run(pxe(MessageType.Request, MACS.colo, 0, p => { serverIdentifier.set(p, '10.80.0.2'); requestedIpAddress.set(p, '10.80.0.117') }))
  t.match(toOther, { kind: 'drop', reason: 'other-server', seen: '10.80.0.117', events: [{ type: 'dhcp.proxy-seen', machineId: 1, detail: { requested: '10.80.0.117', server: '10.80.0.2' } }] })
  t.match(run(pxe(MessageType.Request, MACS.colo, 0, p => { serverIdentifier.set(p, '10.80.0.1'); requestedIpAddress.set(p, '10.80.0.117') })), { kind: 'drop', reason: 'not-ours' })
  t.match(run(pxe(MessageType.Discover, MACS.colo, 33)), { kind: 'drop', reason: 'no-boot-file' })
  const reply = createPacket({ xid: xid++, chaddr: macToBytes(MACS.colo) })
  reply.op = 2
  messageType.set(reply, MessageType.Offer)
  vendorClassIdentifier.set(reply, 'PXEClient')
  t.match(run(reply), { kind: 'drop', reason: 'not-request' }, 'another server\'s offer')
})

t.test('a proxy LAN refuses the keys of a full DHCP server, naming each', async t => {
  const base = 'lans:\n  - name: colo\n    interface: br0\n    subnet: 10.80.0.0/24\n    address: 10.80.0.1\n    mode: proxy\n'
  const problems = (extra: string) => {
    try { parseConfig(base + extra, 'rb.yaml'); return [] } catch (err) { if (!(err instanceof ConfigError)) throw err; return err.problems.map(p => `${p.key}: ${p.message}`) }
  }
  t.same(problems(''), [], 'the bare proxy LAN is fine')
  for (const [key, value] of [['pool', '10.80.0.100-10.80.0.150'], ['leaseTime', '1h'], ['renewalTime', '10m'], ['leaseIdentity', 'mac'], ['gateway', '10.80.0.254'], ['dns', '[10.80.0.53]'], ['reserved', '[10.80.0.9]'], ['management', 'true']]) {
    const got = problems(`    ${key}: ${value}\n`)
    t.equal(got.length, 1, `${key}: one problem (${JSON.stringify(got)})`)
    t.match(got[0], new RegExp(`^lans\\[0\\]\\.${key}: is not allowed: .*proxy LAN \\(mode: proxy\\)`), `${key} refused by name`)
  }
  t.match(problems('    unknownMachines: discover\n'), [/^lans\[0\]\.unknownMachines: discover is not allowed on a proxy LAN/])
  t.ok(problems('    relay: true\n').some(p => /^lans\[0\]\.relay: is not allowed: proxyDHCP/.test(p)), 'relay refused')
})
