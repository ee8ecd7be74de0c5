// The in-memory address book: allocation, holds, expiry and quarantine.
import t from 'tap'
import { AddressBook } from '../../src/dhcp/address-book.js'
import { parseConfig } from '../../src/config/load.js'

const loaded = parseConfig('lans:\n  - name: p\n    interface: br0\n    subnet: 10.1.0.0/24\n    address: 10.1.0.1\n    pool: 10.1.0.10-10.1.0.12\n', 't.yaml')
const lan = loaded.lans.get('p')
if (lan === undefined) throw new Error('no lan')
const ip = (last: number) => (10 << 24 | 1 << 16 | last) >>> 0
const none = () => false
const NOW = 1_000_000

t.test('allocation walks the pool and never hands out a held address', async t => {
  const b = new AddressBook(lan)
  const a1 = b.allocate('m1', NOW, [], none)
  b.offer(a1 as number, 'm1', NOW + 30_000)
  const a2 = b.allocate('m2', NOW, [], none)
  b.put({ ip: a2 as number, mac: 'm2', key: 'm2', state: 'bound', expiresAt: NOW + 3600_000, machineId: null })
  const a3 = b.allocate('m3', NOW, [a1], none)
  t.same([a1, a2, a3], [ip(10), ip(11), ip(12)], 'a held offer is not given to another client')
  b.offer(a3 as number, 'm3', NOW + 30_000)
  t.equal(b.allocate('m4', NOW, [], none), null, 'exhausted')
  t.equal(b.allocate('m1', NOW, [a1], none), a1, 'the client that holds the offer gets it again')
  t.equal(b.allocate('m5', NOW, [], (x) => x === ip(10)), null, 'a reservation (e.g. after a pool change) is skipped')
  t.equal(b.poolUsed(NOW), 3)
})

t.test('an expired lease frees its address; the sweep lists it', async t => {
  const b = new AddressBook(lan)
  b.put({ ip: ip(10), mac: 'old', key: 'old', state: 'bound', expiresAt: NOW + 1000, machineId: null })
  t.equal(b.holder(ip(10), NOW), 'old')
  t.same(b.expired(NOW), [], 'not yet')
  const later = NOW + 2000
  t.equal(b.holder(ip(10), later), null, 'expired: held by nobody')
  t.same(b.expired(later).map(r => r.ip), [ip(10)])
  t.ok(b.freeFor(ip(10), 'new', later, none), 'free for another client')
  t.equal(b.poolUsed(later), 0)
})

t.test('a declined address stays out of the pool for its quarantine', async t => {
  const b = new AddressBook(lan)
  b.put({ ip: ip(11), mac: 'm1', key: 'm1', state: 'declined', expiresAt: NOW + 600_000, machineId: null })
  t.notOk(b.freeFor(ip(11), 'm1', NOW, none), 'not even for the client that declined it')
  t.ok(b.freeFor(ip(11), 'm1', NOW + 600_001, none), 'free after the quarantine')
})

t.test('a client moving to another address releases its old one', async t => {
  const b = new AddressBook(lan)
  b.put({ ip: ip(10), mac: 'm1', key: 'm1', state: 'bound', expiresAt: NOW + 3600_000, machineId: null })
  b.put({ ip: ip(12), mac: 'm1', key: 'm1', state: 'bound', expiresAt: NOW + 3600_000, machineId: null })
  t.equal(b.holder(ip(10), NOW), null)
  t.equal(b.leaseOf('m1')?.ip, ip(12))
})
