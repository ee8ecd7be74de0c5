import { DecodeError } from './errors.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'

/**
 * Every wire element is a codec (dns-packet's triple, without the mutable
 * `.bytes` side channel): size first, allocate once, write at an offset.
 */
export interface Codec<T> {
  encodingLength (value: T): number
  encode (value: T, w: Writer): void
  decode (r: Reader): T
}

/** Encode a value into a fresh buffer of exactly `encodingLength` bytes. */
export function encodeValue<T> (codec: Codec<T>, value: T): Uint8Array {
  const buf = new Uint8Array(codec.encodingLength(value))
  const w = new Writer(buf)
  codec.encode(value, w)
  return buf
}

/**
 * Decode a value that must fill `bytes` exactly. Throws the reader's single
 * `DecodeError` (truncation, trailing bytes, or whatever the codec recorded).
 */
export function decodeValue<T> (codec: Codec<T>, bytes: Uint8Array, field = 'value'): T {
  const r = new Reader(bytes)
  const value = codec.decode(r)
  r.expectEnd(field)
  r.check()
  return value
}

/** Like `decodeValue` but returns undefined for any decode failure. */
export function tryDecodeValue<T> (codec: Codec<T>, bytes: Uint8Array): T | undefined {
  const r = new Reader(bytes)
  try {
    const value = codec.decode(r)
    r.expectEnd('value')
    return r.ok ? value : undefined
  } catch (err) {
    // Codecs record failures on the reader; a DecodeError thrown here is a
    // codec that rejected the value outright. Either way the value reads as
    // absent. Anything else is a bug and propagates.
    if (err instanceof DecodeError) return undefined
    throw err
  }
}
