import t from 'tap'
import { classlessRoutesValue } from '../src/classless-routes.js'
import { classlessStaticRoutes } from '../src/accessors.js'
import { DhcpErrorCode } from '../src/errors.js'
import { testCodec, hex } from './helpers/round-trip.js'

t.test('RFC 3442 §1 encodings', async t => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0/0', '00'],
    ['10.0.0.0/8', '08 0a'],
    ['10.17.0.0/16', '10 0a11'],
    ['10.27.129.0/24', '18 0a1b81'],
    ['10.229.0.128/25', '19 0ae50080'],
    ['10.198.122.47/32', '20 0ac67a2f']
  ]
  for (const [destination, prefix] of cases) {
    const route = { destination, router: '10.0.0.1' }
    const bytes = testCodec(t, classlessRoutesValue, [route], [route], destination)
    t.same([...bytes], [...hex(prefix + ' 0a000001')], `${destination}: bytes`)
  }
  const many = [
    { destination: '0.0.0.0/0', router: '10.0.0.1' },
    { destination: '192.168.0.0/16', router: '10.0.0.254' },
    { destination: '172.16.5.0/24', router: '10.0.0.253' }
  ]
  testCodec(t, classlessRoutesValue, many)
})

t.test('bad values read as absent', async t => {
  for (const bytes of ['', '21 0a000000 0a000001', '18 0a1b', '08 0a 0a00', '08 0b 0a000001 ff', '18 0a1b81ff 0a000001']) {
    t.equal(classlessStaticRoutes.decode(hex(bytes)), undefined, bytes)
  }
  t.equal(classlessStaticRoutes.decode(hex('10 0a11ff 0a000001')), undefined, 'one octet too many for /16 misaligns the rest')
  t.equal(classlessStaticRoutes.decode(hex('09 0a81 0a000001')), undefined, 'host bits set inside the significant octets')
})

t.test('encode errors', async t => {
  t.throws(() => classlessStaticRoutes.encode([]), { code: DhcpErrorCode.BadValue })
  t.throws(() => classlessStaticRoutes.encode([{ destination: '10.0.0.1/8', router: '10.0.0.1' }]), { code: DhcpErrorCode.BadValue })
  t.throws(() => classlessStaticRoutes.encode([{ destination: '10.0.0.0', router: '10.0.0.1' }]), { code: DhcpErrorCode.BadValue })
  t.throws(() => classlessStaticRoutes.encode([{ destination: '10.0.0.0/8', router: 'gw' }]), { code: DhcpErrorCode.BadValue })
})
