import t from 'tap'
import { type Codec, encodeValue, decodeValue, tryDecodeValue } from '../src/codec.js'
import { Reader } from '../src/reader.js'
import { Writer } from '../src/writer.js'
import { WireErrorCode } from '../src/errors.js'

// A small length-prefixed string codec to exercise the helpers.
const pstring: Codec<string> = {
  encodingLength: v => 1 + Buffer.byteLength(v),
  encode (v, w) {
    const b = Buffer.from(v)
    w.u8(b.length)
    w.bytes(b)
  },
  decode (r) {
    const n = r.u8('pstring.length')
    return Buffer.from(r.bytes(n, 'pstring')).toString()
  }
}

const throwing: Codec<number> = {
  encodingLength: () => 0,
  encode () {},
  decode (r: Reader) {
    throw r.fail('RB_TEST_BAD', 'x')
  }
}

const buggy: Codec<number> = {
  encodingLength: () => 0,
  encode () {},
  decode () {
    throw new TypeError('bug')
  }
}

t.test('encodeValue/decodeValue round trip', async t => {
  for (const v of ['', 'a', 'hello', 'x'.repeat(255)]) {
    const b = encodeValue(pstring, v)
    t.equal(b.length, pstring.encodingLength(v))
    t.equal(decodeValue(pstring, b), v)
    t.equal(tryDecodeValue(pstring, b), v)
    const big = new Uint8Array(b.length + 10)
    pstring.encode(v, new Writer(big, 7))
    t.equal(pstring.decode(new Reader(big, 7)), v)
  }
})

t.test('decodeValue failures', async t => {
  t.throws(() => decodeValue(pstring, Uint8Array.of(3, 0x61)), { code: WireErrorCode.Truncated, field: 'pstring', offset: 1 })
  t.throws(() => decodeValue(pstring, Uint8Array.of(1, 0x61, 0), 'name'), { code: WireErrorCode.TrailingBytes, field: 'name', offset: 2 })
  t.equal(tryDecodeValue(pstring, Uint8Array.of(3, 0x61)), undefined)
  t.equal(tryDecodeValue(pstring, Uint8Array.of(1, 0x61, 0)), undefined)
  t.equal(tryDecodeValue(throwing, new Uint8Array(0)), undefined)
  t.throws(() => tryDecodeValue(buggy, new Uint8Array(0)), TypeError, 'bugs are not swallowed')
})
