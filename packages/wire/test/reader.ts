import t from 'tap'
import { Reader } from '../src/reader.js'
import { DecodeError, WireErrorCode } from '../src/errors.js'

t.test('reads big-endian integers, bytes and addresses', async t => {
  const buf = Uint8Array.of(0x01, 0x02, 0x03, 0xff, 0xfe, 0xfd, 0xfc, 10, 0, 0, 1, 9, 9)
  const r = new Reader(buf)
  t.equal(r.u8('a'), 1)
  t.equal(r.u16('b'), 0x0203)
  t.equal(r.u32('c'), 0xfffefdfc, 'u32 is unsigned')
  t.equal(r.ipv4('d'), '10.0.0.1')
  t.equal(r.remaining, 2)
  const rest = r.rest('e')
  t.same([...rest], [9, 9])
  t.equal(r.remaining, 0)
  t.ok(r.ok)
  r.check()
})

t.test('bytes() copies and view() aliases', async t => {
  const buf = Uint8Array.of(1, 2, 3, 4)
  const r = new Reader(buf)
  const copy = r.bytes(2, 'copy')
  const view = r.view(2, 'view')
  buf[0] = 99
  buf[2] = 77
  t.equal(copy[0], 1)
  t.equal(view[0], 77)
})

t.test('sticky error: first failure wins, later reads return zero', async t => {
  const r = new Reader(Uint8Array.of(1, 2, 3))
  t.equal(r.u16('first'), 0x0102)
  t.equal(r.u32('second'), 0, 'short read returns 0')
  t.equal(r.u8('third'), 0, 'reads after an error return 0 even if bytes remain')
  t.equal(r.bytes(1, 'fourth').length, 0)
  t.equal(r.ipv4('fifth'), '0.0.0.0')
  t.equal(r.remaining, 0)
  t.notOk(r.ok)
  const err = r.error
  t.ok(err instanceof DecodeError)
  t.equal(err?.code, WireErrorCode.Truncated)
  t.equal(err?.field, 'second')
  t.equal(err?.offset, 2)
  t.throws(() => r.check(), { code: 'RB_WIRE_TRUNCATED', field: 'second', offset: 2 })
})

t.test('hostile lengths are recorded, never thrown as RangeError', async t => {
  for (const n of [-1, 1.5, Number.NaN, Infinity, 2 ** 40]) {
    const r = new Reader(new Uint8Array(4))
    t.equal(r.bytes(n, 'len').length, 0)
    r.skip(n, 'skip')
    t.notOk(r.ok, `length ${n}`)
    t.equal(r.error?.field, 'len')
  }
  const r = new Reader(new Uint8Array(4))
  r.bytes(-1, 'neg')
  t.equal(r.error?.code, WireErrorCode.BadLength)
})

t.test('window bounds are clamped and offsets stay absolute', async t => {
  const buf = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7)
  const r = new Reader(buf, 2, 6)
  t.equal(r.offset, 2)
  t.equal(r.remaining, 4)
  t.equal(r.u8('x'), 2)
  const s = r.sub(2, 'sub')
  t.equal(s.start, 3)
  t.equal(s.end, 5)
  t.equal(s.u16('in-sub'), 0x0304)
  s.u8('past-sub')
  t.equal(s.error?.offset, 5, 'sub-reader errors point into the original buffer')
  t.ok(r.ok, 'a sub-reader failure does not touch the parent')
  t.equal(r.u8('y'), 5)
  r.sub(5, 'too-long')
  t.equal(r.error?.field, 'too-long')
  const clamped = new Reader(buf, -5, 100)
  t.equal(clamped.start, 0)
  t.equal(clamped.end, 8)
  const inverted = new Reader(buf, 6, 2)
  t.equal(inverted.remaining, 0)
  const nan = new Reader(buf, Number.NaN, Infinity)
  t.equal(nan.start, 0)
  t.equal(nan.end, 8)
})

t.test('a failed sub() returns an empty reader', async t => {
  const r = new Reader(Uint8Array.of(1))
  const s = r.sub(4, 'sub')
  t.equal(s.remaining, 0)
  t.equal(s.u8('x'), 0)
  t.equal(r.error?.field, 'sub')
})

t.test('fail() records only the first error; expectEnd()', async t => {
  const r = new Reader(Uint8Array.of(1, 2))
  r.fail('RB_TEST_ONE', 'one', 7)
  r.fail('RB_TEST_TWO', 'two')
  t.equal(r.error?.code, 'RB_TEST_ONE')
  t.equal(r.error?.offset, 7)
  t.match(r.error?.message, /one at offset 7/)

  const e = new Reader(Uint8Array.of(1, 2))
  e.u8('a')
  e.expectEnd('value')
  t.equal(e.error?.code, WireErrorCode.TrailingBytes)
  t.equal(e.error?.offset, 1)

  const done = new Reader(Uint8Array.of(1))
  done.u8('a')
  done.expectEnd('value')
  t.ok(done.ok)
})

t.test('bytes() copies even when the input is a Node Buffer', async t => {
  const buf = Buffer.from([1, 2, 3, 4])
  const r = new Reader(buf)
  const copy = r.bytes(2, 'copy')
  buf[0] = 99
  t.equal(copy[0], 1, 'Buffer.slice would have aliased')
  t.notOk(Buffer.isBuffer(copy), 'a plain Uint8Array')
})
