import t from 'tap'
import { Writer } from '../src/writer.js'
import { EncodeError, WireErrorCode } from '../src/errors.js'

t.test('writes big-endian at an offset into a caller buffer', async t => {
  const buf = new Uint8Array(20).fill(0xaa)
  const w = new Writer(buf, 3)
  w.u8(1)
  w.u16(0x0203)
  w.u32(0xfffefdfc)
  w.ipv4('10.0.0.1')
  w.ipv4(0x7f000001)
  t.equal(w.offset, 3 + 1 + 2 + 4 + 4 + 4)
  t.equal(w.remaining, 2)
  t.same([...buf.subarray(0, 3)], [0xaa, 0xaa, 0xaa], 'bytes before the offset untouched')
  t.same([...buf.subarray(3, 20)], [1, 2, 3, 0xff, 0xfe, 0xfd, 0xfc, 10, 0, 0, 1, 0x7f, 0, 0, 1, 0xaa, 0xaa])
})

t.test('bytes and zeros', async t => {
  const buf = new Uint8Array(6).fill(9)
  const w = new Writer(buf)
  w.bytes(Uint8Array.of(1, 2))
  w.zeros(3)
  t.same([...buf], [1, 2, 0, 0, 0, 9])
  t.throws(() => w.zeros(-1), { code: WireErrorCode.ValueRange })
})

t.test('overflow throws EncodeError before writing', async t => {
  const buf = new Uint8Array(3)
  const w = new Writer(buf)
  w.u16(0xffff)
  t.throws(() => w.u16(1, 'port'), { code: WireErrorCode.Overflow, field: 'port' })
  t.equal(buf[2], 0, 'nothing written past the check')
  t.equal(w.offset, 2)
  t.throws(() => w.bytes(new Uint8Array(2), 'blob'), { code: WireErrorCode.Overflow, field: 'blob' })
  t.throws(() => w.zeros(2), EncodeError)
})

t.test('out-of-range values throw RB_WIRE_VALUE_RANGE, never wrap', async t => {
  const w = new Writer(new Uint8Array(8))
  for (const [fn, v] of [['u8', 256], ['u8', -1], ['u16', 65536], ['u32', 2 ** 32], ['u32', 1.5], ['u8', Number.NaN]] as const) {
    t.throws(() => w[fn](v, 'f'), { code: WireErrorCode.ValueRange, field: 'f' }, `${fn}(${v})`)
  }
  t.throws(() => w.ipv4('10.0.0.256', 'ip'), { code: WireErrorCode.BadIpv4, field: 'ip' })
  t.equal(w.offset, 0)
})

t.test('bad start offset', async t => {
  t.throws(() => new Writer(new Uint8Array(2), 3), { code: WireErrorCode.Overflow })
  t.throws(() => new Writer(new Uint8Array(2), -1), { code: WireErrorCode.Overflow })
  const w = new Writer(new Uint8Array(8), 0, 2)
  t.equal(w.remaining, 2)
  t.throws(() => w.u32(1), { code: WireErrorCode.Overflow })
})
