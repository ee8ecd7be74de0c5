import t from 'tap'
import { decodeValue, tryDecodeValue } from '@rackboot/wire'
import {
  stringValue, userClassValue, clientMachineIdValue, clientIdentifierValue, formatGuid, i32Value, flagValue, bytesValue,
  u8Value, u16Value, latin1Bytes, latin1Text
} from '../src/option-values.js'
import { testCodec, ascii } from './helpers/round-trip.js'

t.test('strings drop trailing NULs (lenient: some clients NUL-terminate)', async t => {
  t.equal(decodeValue(stringValue, Uint8Array.from([...ascii('host'), 0, 0])), 'host')
  t.equal(decodeValue(stringValue, Uint8Array.from([...ascii('a'), 0, ...ascii('b')])), 'a\u0000b', 'inner NUL kept')
  t.equal(decodeValue(stringValue, new Uint8Array(0)), '')
  testCodec(t, stringValue, 'latin1 é ÿ')
  t.same([...latin1Bytes('é', 'x')], [0xe9])
  t.equal(latin1Text(Uint8Array.of(0xff)), 'ÿ')
})

t.test('user class: RFC 3004 when the lengths tile, else one plain string', async t => {
  const cases: Array<[number[], { classes: string[], rfc3004: boolean }]> = [
    [ascii('iPXE'), { classes: ['iPXE'], rfc3004: false }],
    [[4, ...ascii('iPXE')], { classes: ['iPXE'], rfc3004: true }],
    [[4, ...ascii('iPXE'), 3, ...ascii('foo')], { classes: ['iPXE', 'foo'], rfc3004: true }],
    [[4, ...ascii('iPXE'), 9, ...ascii('foo')], { classes: [String.fromCharCode(4) + 'iPXE' + String.fromCharCode(9) + 'foo'], rfc3004: false }],
    [[0, 1, 2], { classes: ['\u0000\u0001\u0002'], rfc3004: false }],
    [ascii('gPXE'), { classes: ['gPXE'], rfc3004: false }]
  ]
  for (const [bytes, want] of cases) t.same(decodeValue(userClassValue, Uint8Array.from(bytes)), want, JSON.stringify(bytes))
  testCodec(t, userClassValue, { classes: ['x'.repeat(255), 'y'], rfc3004: true })
})

t.test('client machine id (97): 17 bytes, or 16 without the type byte (lenient)', async t => {
  const guid = Uint8Array.from({ length: 16 }, (_, i) => 255 - i)
  t.same(decodeValue(clientMachineIdValue, Uint8Array.from([0, ...guid])), { type: 0, guid })
  t.same(decodeValue(clientMachineIdValue, guid), { type: 0, guid }, '16 bytes: firmware that omits the type')
  t.same(decodeValue(clientMachineIdValue, Uint8Array.from([3, ...guid])), { type: 3, guid }, 'unknown type kept')
  t.equal(tryDecodeValue(clientMachineIdValue, new Uint8Array(0)), undefined)
  t.equal(formatGuid(guid), 'fffefdfc-fbfa-f9f8-f7f6-f5f4f3f2f1f0')
})

t.test('client identifier (61)', async t => {
  testCodec(t, clientIdentifierValue, { type: 0, id: Uint8Array.of(0, 1, 0, 1, 0xaa) })
  t.equal(tryDecodeValue(clientIdentifierValue, Uint8Array.of(1)), undefined, 'RFC 2132 minimum length 2')
})

t.test('small scalar codecs', async t => {
  testCodec(t, i32Value, -1)
  testCodec(t, i32Value, 2147483647)
  testCodec(t, i32Value, -2147483648)
  testCodec(t, flagValue, true)
  testCodec(t, bytesValue, Uint8Array.of(1, 2, 3))
  testCodec(t, bytesValue, new Uint8Array(0))
  testCodec(t, u8Value, 255)
  testCodec(t, u16Value, 65535)
})
