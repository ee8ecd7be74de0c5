import t from 'tap'
import { Reader, Writer, EncodeError } from '@rackboot/wire'
import {
  decode, encode, encodeInto, packetCodec, createPacket, maxReplySize, clientHardwareAddress, isBroadcastFlagSet,
  BOOTP_MIN_LENGTH, DEFAULT_MAX_REPLY_SIZE, type DhcpPacket
} from '../src/packet.js'
import { Option } from '../src/option-table.js'
import { MessageType } from '../src/message-type.js'
import { DhcpErrorCode } from '../src/errors.js'
import {
  messageType, maxMessageSize, clientSystemArchitecture, clientNetworkInterface, clientMachineId, parameterRequestList,
  vendorClassIdentifier, userClass, ipxeEncapsulated, clientIdentifier, requestedIpAddress, serverIdentifier, hostName,
  relayAgentInformation, domainName
} from '../src/accessors.js'
import { formatGuid } from '../src/option-values.js'
import { IpxeSubOption, RelayAgentSubOption } from '../src/sub-options.js'
import { pxeBiosDiscover, ipxeDiscover, relayedRequest, buildPacket, PXE_GUID } from './helpers/packets.js'
import { testCodec, ascii, hex } from './helpers/round-trip.js'

t.test('PXE BIOS DISCOVER, field by field', async t => {
  const { bytes } = pxeBiosDiscover()
  const p = decode(bytes)
  t.equal(p.op, 1)
  t.equal(p.htype, 1)
  t.equal(p.hlen, 6)
  t.equal(p.hops, 0)
  t.equal(p.xid, 0x1d2c3b4a)
  t.equal(p.secs, 4)
  t.equal(p.flags, 0x8000)
  t.ok(isBroadcastFlagSet(p))
  t.equal(p.ciaddr, '0.0.0.0')
  t.equal(p.yiaddr, '0.0.0.0')
  t.equal(p.siaddr, '0.0.0.0')
  t.equal(p.giaddr, '0.0.0.0')
  t.equal(clientHardwareAddress(p), '52:54:00:12:34:56')
  t.equal(p.chaddr.length, 6)
  t.equal(p.sname, '')
  t.equal(p.file, '')
  t.same([...p.options.keys()], [53, 57, 93, 94, 97, 55, 60], 'wire order kept')
  t.equal(messageType(p), MessageType.Discover)
  t.equal(maxMessageSize(p), 1260)
  t.same(clientSystemArchitecture(p), [0])
  t.same(clientNetworkInterface(p), { type: 1, major: 2, minor: 1 })
  const id = clientMachineId(p)
  t.equal(id?.type, 0)
  t.same([...(id?.guid ?? [])], PXE_GUID)
  t.equal(formatGuid(id?.guid ?? new Uint8Array(16)), '4c4c4544-004a-3810-8033-b3c04f4e3231')
  t.same(parameterRequestList(p)?.slice(0, 4), [1, 2, 3, 5])
  t.equal(vendorClassIdentifier(p), 'PXEClient:Arch:00000:UNDI:002001')
  t.equal(userClass(p), undefined)
  t.same([...encode(p)], [...bytes], 're-encoding gives the same bytes')
})

t.test('iPXE DISCOVER, field by field', async t => {
  const { bytes } = ipxeDiscover()
  const p = decode(bytes)
  t.equal(p.xid, 0x9e7a2b01)
  t.equal(p.flags, 0)
  t.equal(clientHardwareAddress(p), '52:54:00:ab:cd:ef')
  t.equal(messageType(p), MessageType.Discover)
  t.equal(maxMessageSize(p), 1472)
  t.same(userClass(p), { classes: ['iPXE'], rfc3004: false }, 'plain-string user class read leniently')
  const enc = ipxeEncapsulated(p)
  t.ok(enc)
  t.same([...(enc?.get(IpxeSubOption.FeatureHttp) ?? [])], [1])
  t.same([...(enc?.get(IpxeSubOption.Version) ?? [])], [1, 21, 1])
  t.same([...(enc?.get(IpxeSubOption.BusId) ?? [])], [1, 0x80, 0x86, 0x10, 0x0e])
  t.same(clientIdentifier(p), { type: 1, id: Uint8Array.of(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef) })
  t.same(clientSystemArchitecture(p), [7])
  t.same(clientNetworkInterface(p), { type: 1, major: 3, minor: 16 })
  t.equal(vendorClassIdentifier(p), 'PXEClient:Arch:00007:UNDI:003016')
  t.ok(parameterRequestList(p)?.includes(Option.IpxeEncapsulated))
  t.same([...encode(p, { maxSize: 1472 })], [...bytes])
})

t.test('relayed REQUEST, field by field', async t => {
  const { bytes } = relayedRequest()
  const p = decode(bytes)
  t.equal(p.hops, 1)
  t.equal(p.giaddr, '10.20.0.1')
  t.equal(p.xid, 0x00c0ffee)
  t.equal(messageType(p), MessageType.Request)
  t.equal(requestedIpAddress(p), '10.20.0.50')
  t.equal(serverIdentifier(p), '10.0.0.1')
  t.equal(hostName(p), 'node-07')
  const relay = relayAgentInformation(p)
  t.equal(Buffer.from(relay?.get(RelayAgentSubOption.CircuitId) ?? []).toString(), 'eth1/1/7')
  t.same([...(relay?.get(RelayAgentSubOption.RemoteId) ?? [])], [0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc])
  t.equal(p.options.get(Option.RelayAgentInformation)?.length, 18, 'option 82 kept raw')
  t.same([...encode(p)], [...bytes])
})

t.test('packet codec round trip (generic helper, at offsets)', async t => {
  for (const make of [pxeBiosDiscover, ipxeDiscover, relayedRequest]) {
    const p = decode(make().bytes)
    testCodec(t, packetCodec, p, p, make.name)
  }
  const small = createPacket({ xid: 1, chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6), sname: 'boot', file: 'undionly.kpxe' })
  messageType.set(small, MessageType.Offer)
  small.op = 2
  testCodec(t, packetCodec, small, small, 'created')
})

t.test('BOOTP minimum: short messages are padded to 300 bytes with zeros', async t => {
  const p = createPacket({ xid: 7 })
  messageType.set(p, MessageType.Discover)
  const b = encode(p)
  t.equal(b.length, BOOTP_MIN_LENGTH)
  t.equal(packetCodec.encodingLength(p), 300)
  t.equal(b[240], 53)
  t.equal(b[243], 255, 'End right after the options')
  t.ok(b.subarray(244).every(x => x === 0), 'zero padding after End')
  t.same(decode(b), p)
})

t.test('a message over 300 bytes is not padded', async t => {
  const p = createPacket()
  p.options.set(224, new Uint8Array(100))
  t.equal(encode(p).length, 240 + 102 + 1)
})

t.test('encodeInto a caller-owned buffer at an offset', async t => {
  const p = decode(relayedRequest().bytes)
  const buf = new Uint8Array(400).fill(0xee)
  const n = encodeInto(p, buf, 50)
  t.equal(n, 304)
  t.equal(n, packetCodec.encodingLength(p))
  t.equal(buf[49], 0xee)
  t.equal(buf[50 + n], 0xee)
  t.same(packetCodec.decode(new Reader(buf, 50, 50 + n)), p)
  t.throws(() => encodeInto(p, new Uint8Array(303)), { code: 'RB_WIRE_OVERFLOW', field: 'packet' })
  t.throws(() => packetCodec.encode(p, new Writer(new Uint8Array(400), 101)), { code: 'RB_WIRE_OVERFLOW' })
})

t.test('decode errors at a non-zero offset point into the original buffer', async t => {
  const { bytes } = pxeBiosDiscover()
  const buf = new Uint8Array(bytes.length + 10)
  buf.set(bytes, 10)
  buf[10 + 236] = 0
  const r = new Reader(buf, 10)
  t.throws(() => packetCodec.decode(r), { code: DhcpErrorCode.BadCookie, field: 'magicCookie', offset: 246 })
})

t.test('maxSize: an oversize reply is an error, not a truncation', async t => {
  const request = decode(pxeBiosDiscover().bytes) // option 57 = 1260
  t.equal(maxReplySize(request), 1260 - 28)
  const bare = createPacket()
  t.equal(maxReplySize(bare), DEFAULT_MAX_REPLY_SIZE)
  t.equal(DEFAULT_MAX_REPLY_SIZE, 548)
  const low = createPacket()
  low.options.set(Option.MaxMessageSize, Uint8Array.of(0x01, 0x00)) // 256: illegal, reads as absent
  t.equal(maxReplySize(low), 548)

  const big = createPacket({ op: 2 })
  messageType.set(big, MessageType.Offer)
  domainName.set(big, 'x'.repeat(255))
  big.options.set(224, new Uint8Array(300))
  const length = packetCodec.encodingLength(big)
  t.ok(length > 548 && length < 1232)
  t.throws(() => encode(big), { code: DhcpErrorCode.TooLarge, field: 'packet' })
  t.throws(() => encode(big, { maxSize: maxReplySize(bare) }), EncodeError)
  t.equal(encode(big, { maxSize: maxReplySize(request) }).length, length)
  t.equal(encode(big, { maxSize: length }).length, length, 'exactly maxSize fits')
  t.throws(() => encode(big, { maxSize: length - 1 }), { code: DhcpErrorCode.TooLarge })
})

t.test('encode validates header fields', async t => {
  const p = createPacket()
  t.throws(() => encode({ ...p, hlen: 5 }), { code: DhcpErrorCode.BadHlen, field: 'chaddr' })
  t.throws(() => encode({ ...p, hlen: 17, chaddr: new Uint8Array(17) }), { code: DhcpErrorCode.BadHlen })
  t.throws(() => encode({ ...p, sname: 's'.repeat(65) }), { code: DhcpErrorCode.BadField, field: 'sname' })
  t.throws(() => encode({ ...p, file: 'f'.repeat(129) }), { code: DhcpErrorCode.BadField, field: 'file' })
  t.throws(() => encode({ ...p, file: 'bööt→' }), { code: DhcpErrorCode.BadField, field: 'file' })
  t.throws(() => encode({ ...p, xid: -1 }), { code: 'RB_WIRE_VALUE_RANGE', field: 'xid' })
  t.throws(() => encode({ ...p, giaddr: '10.0.0' }), { code: 'RB_WIRE_BAD_IPV4', field: 'giaddr' })
  for (const code of [Option.Pad, Option.End, Option.Overload, 256, -1]) {
    const q = createPacket()
    q.options.set(code, Uint8Array.of(1))
    t.throws(() => encode(q), { code: DhcpErrorCode.ReservedOption }, `option ${code}`)
  }
  // full-width sname/file (no NUL) are legal and round-trip
  const full = createPacket({ sname: 's'.repeat(64), file: 'f'.repeat(128) })
  t.same(decode(encode(full)), full)
  // hlen 16 (the whole field) and hlen 0 round-trip
  const wide = createPacket({ hlen: 16, htype: 32, chaddr: Uint8Array.from({ length: 16 }, (_, i) => i) })
  t.same(decode(encode(wide)), wide)
  const none = createPacket({ hlen: 0, chaddr: new Uint8Array(0) })
  t.same(decode(encode(none)), none)
})

t.test('createPacket defaults', async t => {
  const p = createPacket({ chaddr: new Uint8Array(8) })
  t.equal(p.hlen, 8)
  t.equal(p.op, 1)
  t.equal(p.htype, 1)
  t.equal(createPacket().hlen, 6)
})

t.test('RFC 3396: long options are split on encode and concatenated on decode', async t => {
  const value = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff)
  const p = createPacket()
  p.options.set(224, value)
  const b = encode(p, { maxSize: 2000 })
  t.same([b[240], b[241]], [224, 255])
  t.same([b[240 + 257], b[240 + 258]], [224, 255])
  t.same([b[240 + 514], b[240 + 515]], [224, 90])
  t.equal(b[240 + 516 + 90], 255, 'End')
  t.same([...(decode(b).options.get(224) ?? [])], [...value])
  // exactly 255 is one chunk; 256 is two
  const q = createPacket()
  q.options.set(224, new Uint8Array(255))
  t.equal(encode(q, { maxSize: 2000 }).length, 240 + 257 + 1)
  q.options.set(224, new Uint8Array(256))
  t.equal(encode(q, { maxSize: 2000 }).length, 240 + 260 + 1)
})

t.test('RFC 3396: repeats anywhere in the options field concatenate in order', async t => {
  const { bytes } = buildPacket({ op: 1, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, [
    { code: 15, data: ascii('exa') },
    { code: 53, data: [1] },
    { code: 15, data: ascii('mple.com') }
  ])
  const p = decode(bytes)
  t.equal(domainName(p), 'example.com')
  t.same([...p.options.keys()], [15, 53], 'position of the first instance')
})

t.test('option 52 overload: options in file and sname, aggregated options → file → sname', async t => {
  const opts = [53, 1, 1, 52, 1, 3, 224, 2, 0xaa, 0xbb, 255]
  const file = [12, 4, ...ascii('node'), 224, 1, 0xcc, 255]
  const sname = [0, 0, 15, 4, ...ascii('corp'), 224, 1, 0xdd, 255]
  const bytes = new Uint8Array(300)
  bytes.set([1, 1, 6, 0, 0, 0, 0, 9], 0)
  bytes.set([1, 2, 3, 4, 5, 6], 28)
  bytes.set(sname, 44)
  bytes.set(file, 108)
  bytes.set([99, 130, 83, 99, ...opts], 236)
  const p = decode(bytes)
  t.equal(p.sname, '', 'sname consumed as options')
  t.equal(p.file, '', 'file consumed as options')
  t.equal(hostName(p), 'node')
  t.equal(domainName(p), 'corp')
  t.same([...(p.options.get(224) ?? [])], [0xaa, 0xbb, 0xcc, 0xdd], 'concatenated options → file → sname')
  t.notOk(p.options.has(Option.Overload), 'overload is framing and is consumed')
  t.same([...p.options.keys()], [53, 224, 12, 15])

  // overload = 1: only file
  const fileOnly = bytes.slice()
  fileOnly[236 + 4 + 5] = 1
  const q = decode(fileOnly)
  t.equal(q.file, '')
  t.equal(q.sname, '', 'sname starts with NUL so reads as empty text')
  t.equal(domainName(q), undefined)
  t.same([...(q.options.get(224) ?? [])], [0xaa, 0xbb, 0xcc])

  // overload = 2: only sname; file stays text
  const snameOnly = bytes.slice()
  snameOnly[236 + 4 + 5] = 2
  snameOnly.set([...ascii('pxelinux.0'), 0], 108)
  const s = decode(snameOnly)
  t.equal(s.file, 'pxelinux.0')
  t.equal(domainName(s), 'corp')
  t.equal(hostName(s), undefined)

  // re-encoding an overloaded packet writes everything in the options field
  const again = decode(encode(p, { maxSize: 1000 }))
  t.same(again, p)
})

t.test('sname and file text stop at the first NUL', async t => {
  const { bytes } = buildPacket({ op: 2, xid: 1, chaddr: [1, 2, 3, 4, 5, 6], sname: 'tftp.example', file: 'undionly.kpxe' }, [
    { code: 53, data: [2] }
  ])
  bytes[108 + 20] = 0x41 // junk after the NUL
  const p = decode(bytes)
  t.equal(p.sname, 'tftp.example')
  t.equal(p.file, 'undionly.kpxe')
})

t.test('decoded values never alias the input buffer', async t => {
  const { bytes } = relayedRequest()
  const p: DhcpPacket = decode(bytes)
  const relay = p.options.get(Option.RelayAgentInformation)
  bytes.fill(0)
  t.equal(relay?.[0], 1)
  t.equal(p.chaddr[0], 0x3c)
})

t.test('hex helper sanity', async t => {
  t.same([...hex('0a 00 ff')], [10, 0, 255])
})

t.test('decoding a Node Buffer (what dgram delivers) gives plain copies', async t => {
  const buf = Buffer.from(relayedRequest().bytes)
  const p = decode(buf)
  const relay = p.options.get(Option.RelayAgentInformation)
  const chaddr = p.chaddr
  buf.fill(0)
  t.equal(relay?.[0], 1)
  t.equal(chaddr[0], 0x3c)
  t.notOk(Buffer.isBuffer(chaddr))
  t.notOk(Buffer.isBuffer(relay))
  t.same(decode(encode(p)), p)
})
