import t from 'tap'
import { DecodeError, EncodeError, tryDecodeValue } from '@rackboot/wire'
import { decode, encode } from '../src/packet.js'
import { OPTION_CODECS } from '../src/accessors.js'
import { describePacket } from '../src/describe.js'
import { pxeBiosDiscover, ipxeDiscover, relayedRequest } from './helpers/packets.js'

/** mulberry32: small, seeded, reproducible. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = 0x5eed2026

/** decode() returns or throws DecodeError; a decoded packet can be described and re-encoded (or EncodeError). */
function probe (bytes: Uint8Array): 'ok' | 'decode-error' | string {
  let p
  try {
    p = decode(bytes)
  } catch (err) {
    return err instanceof DecodeError ? 'decode-error' : `decode threw ${String(err)}`
  }
  try {
    describePacket(p) // every typed accessor over whatever bytes came in
  } catch (err) {
    return `describe threw ${String(err)}`
  }
  try {
    const again = decode(encode(p, { maxSize: Infinity }))
    if (again.xid !== p.xid || again.options.size !== p.options.size) return 're-encode changed the packet'
  } catch (err) {
    if (!(err instanceof EncodeError)) return `re-encode threw ${String(err)}`
  }
  return 'ok'
}

t.test('random buffers: decode returns or throws DecodeError, nothing else', async t => {
  const rand = prng(SEED)
  const valid = pxeBiosDiscover().bytes
  const counts = { ok: 0, 'decode-error': 0 }
  const failures: string[] = []
  for (let i = 0; i < 20000; i++) {
    const length = Math.floor(rand() * 600)
    const bytes = new Uint8Array(length)
    for (let j = 0; j < length; j++) bytes[j] = Math.floor(rand() * 256)
    // Half the buffers get a plausible header so the option parser is reached.
    if (i % 2 === 0 && length >= 240) {
      bytes.set(valid.subarray(0, 240))
      bytes[2] = Math.floor(rand() * 17)
    }
    const r = probe(bytes)
    if (r === 'ok' || r === 'decode-error') counts[r]++
    else if (failures.length < 5) failures.push(`seed ${SEED} case ${i}: ${r}`)
  }
  t.same(failures, [])
  t.ok(counts['decode-error'] > 0)
  t.comment(`random buffers: ${counts.ok} decoded, ${counts['decode-error']} DecodeError`)
})

t.test('mutations of valid packets: decode returns or throws DecodeError', async t => {
  const rand = prng(SEED + 1)
  const seeds = [pxeBiosDiscover().bytes, ipxeDiscover().bytes, relayedRequest().bytes]
  const counts = { ok: 0, 'decode-error': 0 }
  const failures: string[] = []
  for (let i = 0; i < 10000; i++) {
    const base = seeds[i % seeds.length] as Uint8Array
    let bytes = base.slice()
    const kind = Math.floor(rand() * 4)
    if (kind === 0) {
      // flip 1..4 random bytes, biased to the options area
      const n = 1 + Math.floor(rand() * 4)
      for (let k = 0; k < n; k++) {
        const at = rand() < 0.8 ? 240 + Math.floor(rand() * (bytes.length - 240)) : Math.floor(rand() * bytes.length)
        bytes[at] = Math.floor(rand() * 256)
      }
    } else if (kind === 1) {
      bytes = bytes.subarray(0, Math.floor(rand() * bytes.length))
    } else if (kind === 2) {
      // overwrite an option length byte
      const at = 241 + Math.floor(rand() * 40)
      bytes[at] = Math.floor(rand() * 256)
    } else {
      // splice random bytes into the options area
      const at = 240 + Math.floor(rand() * (bytes.length - 240))
      const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * 256))
      bytes = Uint8Array.from([...bytes.subarray(0, at), ...junk, ...bytes.subarray(at)])
    }
    const r = probe(bytes)
    if (r === 'ok' || r === 'decode-error') counts[r]++
    else if (failures.length < 5) failures.push(`seed ${SEED + 1} case ${i}: ${r}`)
  }
  t.same(failures, [])
  t.ok(counts.ok > 0 && counts['decode-error'] > 0)
  t.comment(`mutations: ${counts.ok} decoded, ${counts['decode-error']} DecodeError`)
})

t.test('typed option codecs never throw on random value bytes', async t => {
  const rand = prng(SEED + 2)
  const failures: string[] = []
  for (const [code, codec] of OPTION_CODECS) {
    for (let i = 0; i < 300; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))
      try {
        tryDecodeValue(codec, bytes)
      } catch (err) {
        if (failures.length < 5) failures.push(`option ${code}: ${String(err)}`)
      }
    }
  }
  t.same(failures, [])
})
