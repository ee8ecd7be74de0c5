import t from 'tap'
import {
  parseIPv4, tryParseIPv4, isIPv4, formatIPv4, ipv4ToBytes, ipv4FromBytes, ipv4ToUint32, uint32ToIPv4,
  prefixToMask, maskToPrefix, parseCidr, formatCidr, cidrContains, cidrBroadcast, cidrOverlaps,
  ipv4InRange, ipv4RangeSize, ipv4Add, IPV4_ANY, IPV4_BROADCAST, tryParseSubnet, tryParseIPv4Range, rangesOverlap
} from '../src/ipv4.js'
import { DecodeError, WireErrorCode } from '../src/errors.js'

t.test('parse and format', async t => {
  const cases: Array<[string, number]> = [
    ['0.0.0.0', 0], ['255.255.255.255', 0xffffffff], ['10.0.0.1', 0x0a000001], ['192.168.1.254', 0xc0a801fe],
    ['1.2.3.4', 0x01020304]
  ]
  for (const [text, n] of cases) {
    t.equal(parseIPv4(text), n, text)
    t.equal(ipv4ToUint32(text), n)
    t.equal(formatIPv4(n), text)
    t.equal(uint32ToIPv4(n), text)
    t.ok(isIPv4(text))
    t.same([...ipv4ToBytes(text)], [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])
    t.same([...ipv4ToBytes(n)], [...ipv4ToBytes(text)])
    t.equal(ipv4FromBytes(ipv4ToBytes(text)), text)
  }
  t.equal(IPV4_ANY, '0.0.0.0')
  t.equal(IPV4_BROADCAST, '255.255.255.255')
})

t.test('strict validation with the failing character as offset', async t => {
  const bad: Array<[string, number]> = [
    ['', 0], ['1.2.3', 5], ['1.2.3.4.5', 7], ['256.0.0.1', 0], ['1.2.3.04', 6], ['01.2.3.4', 0],
    [' 1.2.3.4', 0], ['1.2.3.4 ', 7], ['1..3.4', 2], ['a.b.c.d', 0], ['1.2.3.-4', 6], ['1.2.3.4444', 6],
    ['1.2.3.4/24', 7], ['１.2.3.4', 0]
  ]
  for (const [text, offset] of bad) {
    t.notOk(isIPv4(text), JSON.stringify(text))
    t.equal(tryParseIPv4(text), null)
    t.throws(() => parseIPv4(text, 'lans[0].gateway'), { code: WireErrorCode.BadIpv4, field: 'lans[0].gateway', offset }, JSON.stringify(text))
  }
  t.notOk(isIPv4(42))
  t.notOk(isIPv4(undefined))
  t.equal(tryParseIPv4(7 as unknown as string), null)
  try {
    parseIPv4('10.0.0.300', 'pool.end')
  } catch (err) {
    t.ok(err instanceof DecodeError)
    t.equal((err as Error).message, 'pool.end ("10.0.0.300") is not an IPv4 address')
  }
})

t.test('formatIPv4/ipv4ToBytes reject non-uint32 as a bug', async t => {
  for (const v of [-1, 2 ** 32, 1.5, Number.NaN]) {
    t.throws(() => formatIPv4(v), TypeError)
    t.throws(() => ipv4ToBytes(v), TypeError)
  }
})

t.test('ipv4FromBytes bounds', async t => {
  const b = Uint8Array.of(9, 10, 0, 0, 1)
  t.equal(ipv4FromBytes(b, 1), '10.0.0.1')
  t.throws(() => ipv4FromBytes(b, 2), { code: WireErrorCode.Truncated })
  t.throws(() => ipv4FromBytes(b, -1), { code: WireErrorCode.Truncated })
})

t.test('masks and prefixes', async t => {
  t.equal(prefixToMask(0), 0)
  t.equal(prefixToMask(32), 0xffffffff)
  t.equal(formatIPv4(prefixToMask(24)), '255.255.255.0')
  t.equal(formatIPv4(prefixToMask(1)), '128.0.0.0')
  for (let p = 0; p <= 32; p++) t.equal(maskToPrefix(prefixToMask(p)), p)
  t.equal(maskToPrefix('255.255.255.0'), 24)
  t.equal(maskToPrefix('255.0.255.0'), null)
  t.equal(maskToPrefix('0.0.0.255'), null)
  t.equal(maskToPrefix('nope'), null)
  t.equal(maskToPrefix(-1), null)
  t.throws(() => prefixToMask(33), TypeError)
})

t.test('CIDR parse, contains, broadcast, overlap', async t => {
  const c = parseCidr('10.1.0.0/16')
  t.same(c, { network: 0x0a010000, prefix: 16, mask: 0xffff0000 })
  t.equal(formatCidr(c), '10.1.0.0/16')
  t.ok(cidrContains(c, '10.1.255.7'))
  t.ok(cidrContains('10.1.0.0/16', 0x0a010001))
  t.notOk(cidrContains(c, '10.2.0.1'))
  t.equal(formatIPv4(cidrBroadcast(c)), '10.1.255.255')
  t.ok(cidrContains('0.0.0.0/0', '8.8.8.8'))
  t.ok(cidrContains('10.0.0.5/32', '10.0.0.5'))
  t.notOk(cidrContains('10.0.0.5/32', '10.0.0.6'))
  t.equal(formatCidr(parseCidr('10.1.2.3/8', { strict: false })), '10.0.0.0/8')
  t.ok(cidrOverlaps(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16')))
  t.ok(cidrOverlaps(parseCidr('10.5.0.0/16'), parseCidr('10.0.0.0/8')))
  t.notOk(cidrOverlaps(parseCidr('10.0.0.0/24'), parseCidr('10.0.1.0/24')))
  const bad: Array<[string, number]> = [
    ['10.0.0.0', 8], ['10.0.0.0/33', 9], ['10.0.0.0/', 9], ['10.0.0.0/08', 9], ['10.0.0/8', 0],
    ['10.0.0.1/24', 0], ['10.0.0.0/2 4', 9]
  ]
  for (const [text, offset] of bad) {
    t.throws(() => parseCidr(text, { field: 'lans[1].subnet' }), { code: WireErrorCode.BadCidr, field: 'lans[1].subnet', offset }, text)
  }
  t.throws(() => parseCidr(undefined as unknown as string), { code: WireErrorCode.BadCidr, field: 'cidr' })
})

t.test('ranges', async t => {
  t.ok(ipv4InRange('10.0.0.5', '10.0.0.1', '10.0.0.9'))
  t.ok(ipv4InRange('10.0.0.1', '10.0.0.1', '10.0.0.9'))
  t.ok(ipv4InRange(0x0a000009, 0x0a000001, '10.0.0.9'))
  t.notOk(ipv4InRange('10.0.0.10', '10.0.0.1', '10.0.0.9'))
  t.equal(ipv4RangeSize('10.0.0.1', '10.0.0.9'), 9)
  t.equal(ipv4RangeSize(0, 0xffffffff), 2 ** 32)
  t.equal(ipv4RangeSize('10.0.0.9', '10.0.0.1'), 0)
  t.equal(ipv4Add('10.0.0.255', 1), '10.0.1.0')
  t.equal(ipv4Add(0, -1), null)
  t.equal(ipv4Add('255.255.255.255', 1), null)
})

t.test('subnets with host bits, and ranges', async t => {
  t.match(tryParseSubnet('10.77.0.0/24'), { network: 0x0a4d0000, prefix: 24, first: 0x0a4d0000, last: 0x0a4d00ff, hostBits: false })
  t.match(tryParseSubnet('10.77.0.5/24'), { network: 0x0a4d0000, hostBits: true })
  t.match(tryParseSubnet('0.0.0.0/0'), { first: 0, last: 0xffffffff })
  t.match(tryParseSubnet('10.0.0.1/32'), { first: 0x0a000001, last: 0x0a000001 })
  for (const bad of ['10.0.0.0/33', '10.0.0.0', 'x/8', '']) t.equal(tryParseSubnet(bad), null, bad)
  t.same(tryParseIPv4Range('10.0.0.1-10.0.0.9'), { start: 0x0a000001, end: 0x0a000009 })
  t.same(tryParseIPv4Range(' 10.0.0.1 - 10.0.0.9 '), { start: 0x0a000001, end: 0x0a000009 })
  t.same(tryParseIPv4Range('10.0.0.7'), { start: 0x0a000007, end: 0x0a000007 })
  t.same(tryParseIPv4Range('10.0.0.9-10.0.0.1'), { start: 0x0a000009, end: 0x0a000001 }, 'order is the caller\'s to judge')
  for (const bad of ['10.0.0.1-x', 'x', '', '10.0.0.256']) t.equal(tryParseIPv4Range(bad), null, bad)
  t.equal(tryParseIPv4Range(7 as unknown as string), null)
  t.ok(rangesOverlap({ start: 1, end: 5 }, { start: 5, end: 9 }))
  t.notOk(rangesOverlap({ start: 1, end: 4 }, { start: 5, end: 9 }))
})
