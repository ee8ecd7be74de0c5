import t from 'tap'
import { normalizeMac, parseCidr, parseIpv4, parseRange, formatIpv4, MAC_PATTERN } from '../../src/net/ipv4.js'

t.test('MAC notations normalise to lowercase colon form', async t => {
  const good: Array<[string, string]> = [
    ['aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:ff'],
    ['AA:BB:CC:DD:EE:FF', 'aa:bb:cc:dd:ee:ff'],
    ['aa-bb-cc-dd-ee-ff', 'aa:bb:cc:dd:ee:ff'],
    ['AABB.CCDD.EEFF', 'aa:bb:cc:dd:ee:ff'],
    ['aabbccddeeff', 'aa:bb:cc:dd:ee:ff'],
    ['52:54:00:12:34:56', '52:54:00:12:34:56']
  ]
  for (const [input, want] of good) {
    t.equal(normalizeMac(input), want, input)
    t.ok(new RegExp(MAC_PATTERN).test(input), `schema pattern accepts ${input}`)
  }
  for (const bad of ['aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb-cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff', 'aabb.ccdd.eef', 'aabbccddeef', '', 'aa:bb:cc:dd:ee:f']) {
    t.equal(normalizeMac(bad), null, `rejects ${JSON.stringify(bad)}`)
    t.notOk(new RegExp(MAC_PATTERN).test(bad), `schema pattern rejects ${JSON.stringify(bad)}`)
  }
})

t.test('IPv4, CIDR and ranges', async t => {
  t.equal(parseIpv4('10.77.0.1'), 0x0a4d0001)
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff)
  for (const bad of ['10.77.0', '10.77.0.256', '010.1.1.1', '1.2.3.4.5', 'a.b.c.d', '']) t.equal(parseIpv4(bad), null, bad)
  t.equal(formatIpv4(0xffffffff), '255.255.255.255')
  t.match(parseCidr('10.77.0.0/24'), { prefix: 24, first: 0x0a4d0000, last: 0x0a4d00ff, hostBits: false })
  t.match(parseCidr('10.77.0.5/24'), { network: 0x0a4d0000, hostBits: true })
  t.match(parseCidr('0.0.0.0/0'), { first: 0, last: 0xffffffff })
  t.match(parseCidr('10.0.0.1/32'), { first: 0x0a000001, last: 0x0a000001 })
  t.equal(parseCidr('10.0.0.0/33'), null)
  t.equal(parseCidr('10.0.0.0'), null)
  t.same(parseRange('10.0.0.1-10.0.0.9'), { start: 0x0a000001, end: 0x0a000009 })
  t.same(parseRange('10.0.0.7'), { start: 0x0a000007, end: 0x0a000007 })
  t.equal(parseRange('10.0.0.1-x'), null)
})
