import t from 'tap'
import { MAC_PATTERN, parseMac, tryParseMac, isMac, macToBytes, macFromBytes, formatHardwareAddress } from '../src/mac.js'
import { WireErrorCode } from '../src/errors.js'

t.test('accepted spellings normalise to lowercase colon form', async t => {
  const want = 'aa:bb:cc:0d:ee:ff'
  for (const text of ['aa:bb:cc:0d:ee:ff', 'AA:BB:CC:0D:EE:FF', 'aa-bb-cc-0d-ee-ff', 'Aa-Bb-cC-0d-EE-ff',
    'aabb.cc0d.eeff', 'AABB.CC0D.EEFF', 'aabbcc0deeff', 'AABBCC0DEEFF']) {
    t.equal(parseMac(text), want, text)
    t.equal(tryParseMac(text), want)
    t.ok(isMac(text))
    t.ok(new RegExp(MAC_PATTERN).test(text), `MAC_PATTERN accepts ${text}`)
  }
})

t.test('refused spellings', async t => {
  for (const text of ['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb-cc:dd:ee:ff', 'a:b:c:d:e:f',
    'aabb.ccdd.eef', 'gg:bb:cc:dd:ee:ff', 'aabbccddeef', ' aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff ',
    'aabb:ccdd:eeff', 'aa.bb.cc.dd.ee.ff', 'aabbccddeeff00']) {
    t.notOk(isMac(text), JSON.stringify(text))
    t.equal(tryParseMac(text), null)
    t.throws(() => parseMac(text, 'machines[3].mac'), { code: WireErrorCode.BadMac, field: 'machines[3].mac' })
    t.notOk(new RegExp(MAC_PATTERN).test(text), `MAC_PATTERN refuses ${JSON.stringify(text)}`)
  }
  t.notOk(isMac(null))
  t.equal(tryParseMac(5 as unknown as string), null)
})

t.test('bytes', async t => {
  t.same([...macToBytes('01-02-03-0a-0b-ff')], [1, 2, 3, 10, 11, 255])
  t.equal(macFromBytes(Uint8Array.of(9, 1, 2, 3, 10, 11, 255), 1), '01:02:03:0a:0b:ff')
  t.throws(() => macFromBytes(Uint8Array.of(1, 2, 3, 4, 5)), { code: WireErrorCode.BadMac })
  t.throws(() => macFromBytes(new Uint8Array(8), 3), { code: WireErrorCode.BadMac })
  t.throws(() => macToBytes('nope'), { code: WireErrorCode.BadMac })
  t.equal(formatHardwareAddress(new Uint8Array(0)), '')
  t.equal(formatHardwareAddress(Uint8Array.of(0, 0x20, 0xff)), '00:20:ff')
})
