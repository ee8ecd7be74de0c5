import t from 'tap'
import { encodeDomainList, decodeDomainList, domainListValue } from '../src/domain-name.js'
import { DhcpErrorCode } from '../src/errors.js'
import { createPacket, decode, encode } from '../src/packet.js'
import { domainSearch } from '../src/accessors.js'
import { Option } from '../src/option-table.js'
import { testCodec, hex, ascii } from './helpers/round-trip.js'

t.test('RFC 3397 §3 example: eng.apple.com, marketing.apple.com', async t => {
  const bytes = encodeDomainList(['eng.apple.com', 'marketing.apple.com'])
  t.same([...bytes], [3, ...ascii('eng'), 5, ...ascii('apple'), 3, ...ascii('com'), 0, 9, ...ascii('marketing'), 0xc0, 0x04])
  t.same(decodeDomainList(bytes), { ok: true, names: ['eng.apple.com', 'marketing.apple.com'] })
})

t.test('compression round trips', async t => {
  const lists = [
    ['example.com'],
    ['example.com', 'example.com'],
    ['a.b.c.d', 'b.c.d', 'x.c.d', 'd', 'e'],
    ['lab.example.com', 'example.com', 'ops.example.com', 'example.org', 'corp'],
    ['Example.COM', 'example.com'],
    ['']
  ]
  for (const names of lists) testCodec(t, domainListValue, names, names, names.join(','))
  t.same([...encodeDomainList(['example.com', 'example.com'])], [...hex('076578616d706c6503636f6d00 c000')], 'whole name as a pointer')
  t.same([...encodeDomainList(['Example.COM', 'example.com'])].length, 13 + 13, 'compression is case-sensitive, so case round-trips')
  t.same(decodeDomainList(encodeDomainList(['example.com.'])), { ok: true, names: ['example.com'] }, 'trailing dot dropped')
})

t.test('pointers are never emitted past 0x3fff', async t => {
  const names = Array.from({ length: 300 }, (_, i) => `${'x'.repeat(55)}${String(i).padStart(3, '0')}.example.com`)
  const bytes = encodeDomainList(names)
  t.ok(bytes.length > 0x3fff)
  t.same(decodeDomainList(bytes), { ok: true, names })
})

t.test('hostile compression is rejected, never loops', async t => {
  const cases: Array<[string, number[], number]> = [
    ['self pointer', [0xc0, 0x00], 0],
    ['pointer loop back to its own name', [1, 0x61, 0xc0, 0x00], 2],
    ['forward pointer', [0xc0, 0x02, 1, 0x61, 0], 0],
    ['forward pointer from a later name', [1, 0x61, 0, 0xc0, 0x05, 1, 0x62, 0], 3],
    ['two-step loop', [1, 0x61, 0, 1, 0x62, 0xc0, 0x07, 0xc0, 0x03], 5],
    ['truncated pointer', [1, 0x61, 0xc0], 2],
    ['label past the end', [5, 0x61, 0x62], 0],
    ['no terminator', [1, 0x61], 2],
    ['reserved label type 0x40', [0x41, 0x61], 0],
    ['reserved label type 0x80', [0x81, 0x61], 0],
    ['label with a dot', [3, 0x61, 0x2e, 0x62, 0], 0],
    ['name over 255 bytes', [...Array.from({ length: 5 }, () => [63, ...new Array<number>(63).fill(0x61)]).flat(), 0], 192]
  ]
  for (const [name, bytes, offset] of cases) {
    const r = decodeDomainList(Uint8Array.from(bytes))
    t.equal(r.ok, false, name)
    if (!r.ok) t.equal(r.offset, offset, `${name}: offset`)
  }
  // pointer chain that is legal: each pointer strictly backwards
  t.same(decodeDomainList(Uint8Array.from([1, 0x62, 0, 1, 0x63, 0xc0, 0x00, 0xc0, 0x03])), { ok: true, names: ['b', 'c.b', 'c.b'] })
})

t.test('hostile option 119 reads as absent, with the error offset inside the value', async t => {
  const p = createPacket()
  p.options.set(Option.DomainSearch, Uint8Array.of(1, 0x61, 0xc0, 0x00))
  t.equal(domainSearch(p), undefined)
  t.equal(domainSearch.decode(new Uint8Array(0)), undefined, 'empty list is invalid')
})

t.test('option 119 split over two instances (RFC 3396) decodes with pointers across the split', async t => {
  const value = encodeDomainList(['eng.apple.com', 'marketing.apple.com'])
  const bytes = new Uint8Array(300)
  bytes.set([1, 1, 6, 0], 0)
  bytes.set([99, 130, 83, 99, 53, 1, 1, 119, 10, ...value.subarray(0, 10), 119, value.length - 10, ...value.subarray(10), 255], 236)
  t.same(domainSearch(decode(bytes)), ['eng.apple.com', 'marketing.apple.com'])
})

t.test('encode errors', async t => {
  t.throws(() => encodeDomainList(['a..b']), { code: DhcpErrorCode.BadValue })
  t.throws(() => encodeDomainList(['x'.repeat(64) + '.com']), { code: DhcpErrorCode.BadValue })
  t.throws(() => encodeDomainList([Array.from({ length: 5 }, () => 'x'.repeat(63)).join('.')]), { code: DhcpErrorCode.BadValue })
  t.throws(() => encodeDomainList(['exämple→.com']), { code: DhcpErrorCode.BadField })
  t.throws(() => domainSearch.encode([]), { code: DhcpErrorCode.BadValue })
  const ok = createPacket()
  domainSearch.set(ok, ['lab.example.com'])
  t.same(domainSearch(decode(encode(ok))), ['lab.example.com'])
})
