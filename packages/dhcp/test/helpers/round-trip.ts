import type { Test } from 'tap'
import { type Codec, Reader, Writer, encodeValue, decodeValue } from '@rackboot/wire'

/**
 * dns-packet's `testEncoder`, for any `Codec<T>`:
 * - decode(encode(v)) deep-equals v (or `expected` when decoding normalises);
 * - encode(v).length === encodingLength(v);
 * - encoding at a non-zero offset into a larger buffer writes the same bytes
 *   there and nothing around them, and decodes back from that window;
 * - re-encoding the decoded value gives the same bytes.
 */
export function testCodec<T> (t: Test, codec: Codec<T>, value: T, expected: T = value, name = ''): Uint8Array {
  const label = (what: string): string => name === '' ? what : `${name}: ${what}`
  const bytes = encodeValue(codec, value)
  t.equal(bytes.length, codec.encodingLength(value), label('encode(v).length === encodingLength(v)'))
  t.same(decodeValue(codec, bytes), expected, label('decode(encode(v)) equals v'))

  const before = 7
  const after = 5
  const big = new Uint8Array(before + bytes.length + after).fill(0xee)
  const w = new Writer(big, before)
  codec.encode(value, w)
  t.equal(w.offset, before + bytes.length, label('writer advanced by encodingLength'))
  t.same([...big.subarray(before, before + bytes.length)], [...bytes], label('same bytes at an offset'))
  t.ok(big.subarray(0, before).every(b => b === 0xee) && big.subarray(before + bytes.length).every(b => b === 0xee),
    label('bytes around the value untouched'))
  const r = new Reader(big, before, before + bytes.length)
  t.same(codec.decode(r), expected, label('decodes from an offset'))
  t.ok(r.ok, label('no decode error at an offset'))

  t.same([...encodeValue(codec, decodeValue(codec, bytes))], [...bytes], label('re-encoding the decoded value gives the same bytes'))
  return bytes
}

/** Hex helper for readable byte expectations: hex('0a 00 00 01'). */
export function hex (text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '')
  return Uint8Array.from(clean.match(/../g) ?? [], b => parseInt(b, 16))
}

export function ascii (text: string): number[] {
  return [...text].map(c => c.charCodeAt(0))
}
