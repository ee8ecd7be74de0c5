import t from 'tap'
import { Reader, Writer } from '@rackboot/wire'
import { OptionCollector, decodeOptionsArea, encodeOptions, optionsLength } from '../src/options.js'
import { DhcpErrorCode } from '../src/errors.js'
import { hex } from './helpers/round-trip.js'

function area (bytes: Uint8Array): { map: Map<number, Uint8Array>, reader: Reader } {
  const c = new OptionCollector()
  const reader = new Reader(bytes)
  decodeOptionsArea(reader, c, 'options')
  return { map: c.toMap(), reader }
}

t.test('declared length slices each option (no desync), Pad and End honoured', async t => {
  const { map, reader } = area(hex('00 00 3501 01 0c03 616263 00 e0 00 ff 1234'))
  t.ok(reader.ok)
  t.same([...map.keys()], [53, 12, 224])
  t.same([...(map.get(12) ?? [])], [0x61, 0x62, 0x63])
  t.same([...(map.get(224) ?? [])], [], 'zero-length option kept')
  t.equal(reader.offset, 14, 'stops right after End')
})

t.test('unknown options round-trip raw', async t => {
  const input = hex('fa03 010203 e000 ff')
  const { map } = area(input)
  t.equal(optionsLength(map), 7)
  const out = new Uint8Array(8)
  const w = new Writer(out)
  encodeOptions(map, w)
  w.u8(255)
  t.same([...out], [...input])
})

t.test('area errors', async t => {
  t.equal(area(hex('35')).reader.error?.code, 'RB_WIRE_TRUNCATED', 'length byte missing')
  t.equal(area(hex('35')).reader.error?.field, 'options.message-type')
  t.equal(area(hex('3501')).reader.error?.code, DhcpErrorCode.OptionOverrun, 'value missing')
  t.equal(area(hex('3505 01')).reader.error?.code, DhcpErrorCode.OptionOverrun)
  t.equal(area(hex('3501 01')).reader.error?.code, DhcpErrorCode.MissingEnd)
  t.equal(area(hex('')).reader.error?.offset, 0)
})

t.test('collector joins parts without sharing memory', async t => {
  const c = new OptionCollector()
  const a = Uint8Array.of(1)
  c.add(9, a)
  const single = c.get(9)
  a[0] = 2
  t.same([...(single ?? [])], [1], 'a single part is copied too')
  c.add(9, Uint8Array.of(3))
  t.same([...(c.get(9) ?? [])], [2, 3])
  c.delete(9)
  t.equal(c.get(9), undefined)
})
