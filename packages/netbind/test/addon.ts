// The addon loads lazily: importing the package never throws, and a missing build (or a
// non-Linux platform) is reported as RB_NETBIND_UNAVAILABLE with what to run.
import t from 'tap'
import { NetbindErrorCode } from '../src/errors.js'

t.test('a missing build is RB_NETBIND_UNAVAILABLE, naming the command that builds it', async t => {
  const { native } = await t.mockImport<typeof import('../src/addon.js')>('../src/addon.js', {
    'node:fs': { existsSync: () => false }
  })
  t.throws(() => native(), {
    code: NetbindErrorCode.Unavailable,
    message: /native addon is not built \(.*build\/Release\/netbind\.node is missing\): run `pnpm --filter @rackboot\/netbind run build:native`/
  })
})

t.test('another platform is RB_NETBIND_UNAVAILABLE', async t => {
  const { native } = await t.mockImport<typeof import('../src/addon.js')>('../src/addon.js')
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')
  Object.defineProperty(process, 'platform', { value: 'darwin' })
  t.teardown(() => { if (platform !== undefined) Object.defineProperty(process, 'platform', platform) })
  t.throws(() => native(), { code: NetbindErrorCode.Unavailable, message: /needs Linux \(SO_BINDTODEVICE\); this is darwin/ })
})

t.test('the built addon loads once and exports its functions', { skip: process.platform !== 'linux' ? 'Linux only' : false }, async t => {
  const { native } = await t.mockImport<typeof import('../src/addon.js')>('../src/addon.js')
  const a = native()
  t.equal(native(), a, 'cached')
  t.same(Object.keys(a).sort(), ['RawSocket', 'UdpMux', 'interfaceIndex', 'localPort', 'openBoundUdpSocket', 'openConnectedUdp', 'openIcmp4', 'openIcmp6', 'openUdp', 'rawSend', 'sendGather', 'sendTo'])
})

t.test('the addon checks its own arguments (no socket is created)', { skip: process.platform !== 'linux' ? 'Linux only' : false }, async t => {
  const { native } = await t.mockImport<typeof import('../src/addon.js')>('../src/addon.js')
  const a = native() as unknown as Record<string, (...args: unknown[]) => unknown>
  const open = a.openBoundUdpSocket
  const index = a.interfaceIndex
  if (open === undefined || index === undefined) throw new Error('addon exports missing')
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['too few arguments', () => open('lo', 67), /needs three arguments/],
    ['name not a string', () => open(5, 67, '0.0.0.0'), /interface name must be a string/],
    ['empty name', () => open('', 67, '0.0.0.0'), /interface name must be 1 to 15 bytes long/],
    ['16-byte name', () => open('abcdefghijklmnop', 67, '0.0.0.0'), /1 to 15 bytes/],
    ['NUL in name', () => open('lo\0x', 67, '0.0.0.0'), /must not contain NUL/],
    ['port not a number', () => open('lo', '67', '0.0.0.0'), /port must be an integer from 0 to 65535/],
    ['port -1', () => open('lo', -1, '0.0.0.0'), /port must be an integer/],
    ['port 1.5', () => open('lo', 1.5, '0.0.0.0'), /port must be an integer/],
    ['bad address', () => open('lo', 67, '1.2.3'), /address "1\.2\.3" is not an IPv4 address/],
    ['interfaceIndex without a name', () => index(), /needs an interface name/]
  ]
  for (const [name, fn, message] of cases) {
    t.throws(fn, { code: NetbindErrorCode.InvalidArgument, message }, name)
  }
  t.throws(() => open('rbn-nope0', 67, '0.0.0.0'), { code: NetbindErrorCode.NoInterface, errno: 19, syscall: 'if_nametoindex', interface: 'rbn-nope0' },
    'a missing interface is found before any socket exists')
  t.equal(index('lo'), 1, 'interfaceIndex(lo)')
  t.equal(index('rbn-nope0'), null, 'interfaceIndex of a missing interface')
})
