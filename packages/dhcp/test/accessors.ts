import t from 'tap'
import { EncodeError } from '@rackboot/wire'
import * as A from '../src/accessors.js'
import { Option } from '../src/option-table.js'
import { MessageType } from '../src/message-type.js'
import { createPacket, decode, encode } from '../src/packet.js'
import { DhcpErrorCode } from '../src/errors.js'
import { testCodec, ascii, hex } from './helpers/round-trip.js'

const guid = Uint8Array.from({ length: 16 }, (_, i) => i * 16 + i)

/** [accessor, value, expected bytes of the value] for every typed option. */
const cases: Array<[A.OptionAccessor<any>, unknown, Uint8Array]> = [
  [A.subnetMask, '255.255.255.0', hex('ffffff00')],
  [A.timeOffset, -3600, hex('fffff1f0')],
  [A.routers, ['10.0.0.1', '10.0.0.2'], hex('0a000001 0a000002')],
  [A.domainNameServers, ['1.1.1.1'], hex('01010101')],
  [A.hostName, 'node-07', Uint8Array.from(ascii('node-07'))],
  [A.domainName, 'lab.example.com', Uint8Array.from(ascii('lab.example.com'))],
  [A.rootPath, '/srv/root', Uint8Array.from(ascii('/srv/root'))],
  [A.interfaceMtu, 9000, hex('2328')],
  [A.broadcastAddress, '10.0.0.255', hex('0a0000ff')],
  [A.ntpServers, ['10.0.0.1', '10.0.0.3'], hex('0a000001 0a000003')],
  [A.vendorSpecific, new Map([[6, Uint8Array.of(8)]]), hex('060108 ff')],
  [A.requestedIpAddress, '10.0.0.50', hex('0a000032')],
  [A.leaseTime, 86400, hex('00015180')],
  [A.messageType, MessageType.Offer, hex('02')],
  [A.serverIdentifier, '10.0.0.1', hex('0a000001')],
  [A.parameterRequestList, [1, 3, 6, 67], hex('01030643')],
  [A.message, 'address in use', Uint8Array.from(ascii('address in use'))],
  [A.maxMessageSize, 1500, hex('05dc')],
  [A.renewalTime, 43200, hex('0000a8c0')],
  [A.rebindingTime, 75600, hex('00012750')],
  [A.vendorClassIdentifier, 'PXEClient', Uint8Array.from(ascii('PXEClient'))],
  [A.clientIdentifier, { type: 1, id: Uint8Array.of(1, 2, 3, 4, 5, 6) }, hex('01 010203040506')],
  [A.tftpServerName, '10.0.0.1', Uint8Array.from(ascii('10.0.0.1'))],
  [A.bootfileName, 'http://10.0.0.1/boot.ipxe', Uint8Array.from(ascii('http://10.0.0.1/boot.ipxe'))],
  [A.userClass, { classes: ['iPXE'], rfc3004: false }, Uint8Array.from(ascii('iPXE'))],
  [A.userClass, { classes: ['ab', 'c'], rfc3004: true }, hex('02 6162 01 63')],
  [A.rapidCommit, true, new Uint8Array(0)],
  [A.relayAgentInformation, new Map([[1, Uint8Array.of(0x41)], [2, Uint8Array.of(1, 2)]]), hex('010141 02020102')],
  [A.clientSystemArchitecture, [7, 0], hex('0007 0000')],
  [A.clientNetworkInterface, { type: 1, major: 3, minor: 16 }, hex('010310')],
  [A.clientMachineId, { type: 0, guid }, Uint8Array.from([0, ...guid])],
  [A.domainSearch, ['a.example.com', 'example.com'], hex('0161 076578616d706c65 03636f6d 00 c002')],
  [A.classlessStaticRoutes, [{ destination: '0.0.0.0/0', router: '10.0.0.1' }], hex('00 0a000001')],
  [A.ipxeEncapsulated, new Map([[176, Uint8Array.of(1)]]), hex('b00101')]
]

t.test('every typed option round-trips through the generic helper', async t => {
  for (const [acc, value, bytes] of cases) {
    const name = `option ${acc.code}`
    const encoded = testCodec(t, acc.codec, value, value, name)
    t.same([...encoded], [...bytes], `${name}: exact bytes`)
    t.same([...acc.encode(value)], [...bytes])
    t.same(acc.decode(bytes), value)
  }
})

t.test('set/get through a packet and the wire', async t => {
  const p = createPacket({ op: 2 }) // message type OFFER travels as BOOTREPLY
  for (const [acc, value] of cases) acc.set(p, value)
  const back = decode(encode(p, { maxSize: 4000 }))
  for (const [acc, value] of cases) {
    if (acc === A.userClass) continue // set twice above; last one wins
    t.same(acc(back), value, `option ${acc.code}`)
  }
  t.same(A.userClass(back), { classes: ['ab', 'c'], rfc3004: true })
  t.equal(A.serverIdentifier(createPacket()), undefined, 'absent reads as undefined')
  A.serverIdentifier.delete(p)
  t.notOk(p.options.has(Option.ServerIdentifier))
})

t.test('.with() makes a modifier and fails early on bad values', async t => {
  const p = createPacket()
  const m = A.leaseTime.with(3600)
  m(p)
  t.equal(A.leaseTime(p), 3600)
  t.throws(() => A.leaseTime.with(-1), EncodeError)
  t.throws(() => A.routers.with([]), { code: DhcpErrorCode.BadValue })
  A.withOption(224, Uint8Array.of(9))(p)
  t.same([...(p.options.get(224) ?? [])], [9])
  A.withoutOption(224)(p)
  t.notOk(p.options.has(224))
  t.throws(() => A.withOption(Option.End, new Uint8Array(0)), { code: DhcpErrorCode.ReservedOption })
  t.throws(() => A.optionAccessor(Option.Pad, A.subnetMask.codec), { code: DhcpErrorCode.ReservedOption })
})

t.test('a bad value reads as absent', async t => {
  const bad: Array<[A.OptionAccessor<unknown>, number[]]> = [
    [A.subnetMask, [255, 255, 255]],
    [A.subnetMask, [255, 255, 255, 0, 0]],
    [A.routers, []],
    [A.routers, [10, 0, 0, 1, 10]],
    [A.interfaceMtu, [0, 67]],
    [A.maxMessageSize, [2, 63]],
    [A.leaseTime, [0, 0, 1]],
    [A.messageType, []],
    [A.messageType, [1, 1]],
    [A.parameterRequestList, []],
    [A.clientSystemArchitecture, [0]],
    [A.clientSystemArchitecture, []],
    [A.clientNetworkInterface, [1, 2]],
    [A.clientIdentifier, [1]],
    [A.clientMachineId, new Array<number>(15).fill(1)],
    [A.clientMachineId, new Array<number>(18).fill(1)],
    [A.userClass, []],
    [A.domainSearch, [0xc0, 0x00]],
    [A.classlessStaticRoutes, [33, 1, 2, 3, 4, 5]],
    [A.vendorSpecific, [6, 5, 1]],
    [A.relayAgentInformation, [1]]
  ]
  for (const [acc, bytes] of bad) {
    const p = createPacket()
    p.options.set(acc.code, Uint8Array.from(bytes))
    t.equal(acc(p), undefined, `option ${acc.code} ${JSON.stringify(bytes)}`)
  }
})

t.test('value codec encode errors', async t => {
  t.throws(() => A.interfaceMtu.encode(67), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.maxMessageSize.encode(575), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.timeOffset.encode(2 ** 31), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.parameterRequestList.encode([]), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.clientSystemArchitecture.encode([]), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.clientSystemArchitecture.encode([70000]), { code: 'RB_WIRE_VALUE_RANGE' })
  t.throws(() => A.clientIdentifier.encode({ type: 1, id: new Uint8Array(0) }), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.clientMachineId.encode({ type: 0, guid: new Uint8Array(15) }), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.userClass.encode({ classes: ['a', 'b'], rfc3004: false }), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.userClass.encode({ classes: [], rfc3004: true }), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.userClass.encode({ classes: [''], rfc3004: true }), { code: DhcpErrorCode.BadValue })
  t.throws(() => A.hostName.encode('nöde→'), { code: DhcpErrorCode.BadField })
  t.throws(() => A.serverIdentifier.encode('10.0.0'), { code: 'RB_WIRE_BAD_IPV4' })
  t.throws(() => A.vendorSpecific.encode(new Map([[255, Uint8Array.of(1)]])), { code: DhcpErrorCode.BadValue })
})
