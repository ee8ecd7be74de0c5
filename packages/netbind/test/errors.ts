// Error codes and fd hygiene, with real sockets in a namespace the test creates: a missing
// interface, a port held by another socket, an errno without its own code, bad arguments,
// and (as nobody with every capability dropped) a privileged port. Every failing call must
// leave the process's fd count (/proc/self/fd) unchanged.
import t from 'tap'
import { isNetbindError, NetbindErrorCode, openBoundUdpSocket, interfaceIndex } from '@rackboot/netbind'
import { createNetns } from '../../../bench/netns.js'
import { netnsSkip, runFixture } from './helpers/fixture.js'

interface Case { ok: boolean, code?: string, message?: string, errno?: number, syscall?: string, interface?: string, value?: unknown, fdsBefore: number, fdsAfter: number, fdsDuring?: number, address?: unknown }
interface Report { mode: string, uid: number, capEff: string, capPrm: string, cases: Record<string, Case> }

t.test('arguments are checked before any system call', async t => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['empty interface name', () => openBoundUdpSocket('', 67), /interface name "" is not/],
    ['16-byte interface name', () => openBoundUdpSocket('abcdefghijklmnop', 67), /1 to 15 bytes/],
    ['NUL in interface name', () => openBoundUdpSocket('lo\0x', 67), /is not a Linux interface name/],
    ['port 65536', () => openBoundUdpSocket('lo', 65536), /port 65536 is not an integer/],
    ['port 1.5', () => openBoundUdpSocket('lo', 1.5), /port 1.5 is not an integer/],
    ['hostname as address', () => openBoundUdpSocket('lo', 67, 'dhcp.example.com'), /address "dhcp.example.com" is not an IPv4 address/],
    ['address not a string', () => openBoundUdpSocket('lo', 67, 7 as unknown as string), /address must be/],
    ['interfaceIndex of an empty name', () => interfaceIndex(''), /is not a Linux interface name/]
  ]
  for (const [name, fn, message] of bad) {
    t.throws(fn, { code: NetbindErrorCode.InvalidArgument, message }, name)
  }
  const err = (() => { try { openBoundUdpSocket('', 67) } catch (e) { return e } })()
  t.ok(isNetbindError(err), 'isNetbindError recognises our errors')
  t.notOk(isNetbindError(Object.assign(new Error('x'), { code: 'ENOENT' })), 'and not others')
  t.notOk(isNetbindError('RB_NETBIND_FAILED'), 'nor non-errors')
})

const skip = netnsSkip(t)

t.test('error codes, messages and no fd leak (root, in a namespace)', { skip }, async t => {
  const ns = await createNetns(t, 'err', { loopback: false })
  ns.ip('link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p')
  ns.ip('addr', 'add', '10.202.0.1/24', 'dev', 'lan0')
  ns.ip('link', 'set', 'lan0', 'up')
  const r = await runFixture(ns, 'errors.mjs', ['root'])
  t.equal(r.code, 0, `fixture ran (${r.stderr})`)
  const { cases } = JSON.parse(r.stdout.trim()) as Report

  const expect: Array<[string, string, RegExp, string | undefined]> = [
    ['noInterface', NetbindErrorCode.NoInterface, /network interface "rbn-nope0" does not exist \(ENODEV/, 'ENODEV'],
    ['noInterfaceAsync', NetbindErrorCode.NoInterface, /"rbn-nope0" does not exist/, 'ENODEV'],
    ['inUse', NetbindErrorCode.InUse, /UDP 0\.0\.0\.0:6701 on interface "lan0" is already in use/, 'EADDRINUSE'],
    ['inUseAsync', NetbindErrorCode.InUse, /already in use/, 'EADDRINUSE'],
    ['otherErrno', NetbindErrorCode.Failed, /opening UDP 10\.202\.9\.9:6702 on interface "lan0" failed: EADDRNOTAVAIL from bind/, 'EADDRNOTAVAIL'],
    ['badAddress', NetbindErrorCode.InvalidArgument, /address "not-an-ip" is not an IPv4 address/, undefined],
    ['badPort', NetbindErrorCode.InvalidArgument, /port 65536/, undefined],
    ['badName', NetbindErrorCode.InvalidArgument, /1 to 15 bytes/, undefined]
  ]
  for (const [name, code, message, errnoName] of expect) {
    const c = cases[name]
    t.match(c, { ok: false, code, message }, `${name}: ${code}`)
    if (errnoName !== undefined) t.ok(typeof c?.errno === 'number' && c.errno > 0 && c.syscall !== undefined, `${name}: errno and syscall attached (${errnoName})`)
    t.equal(c?.fdsAfter, c?.fdsBefore, `${name}: no fd left open`)
  }
  t.equal(cases.noInterface?.interface, 'rbn-nope0', 'the error names the interface')
  t.match(cases.reuse, { ok: true, value: { address: '0.0.0.0', port: 6703 } },
    'SO_REUSEADDR: a second bound socket and an unbound relay socket share the port')
  t.match(cases.success, { ok: true, address: { address: '10.202.0.1', port: 6704 } }, 'binding a unicast address works')
  t.equal(cases.success?.fdsDuring, (cases.success?.fdsBefore ?? 0) + 1, 'an open socket holds exactly one fd')
  t.equal(cases.success?.fdsAfter, cases.success?.fdsBefore, 'socket.close() releases the adopted fd')
})

t.test('lacking capabilities → RB_NETBIND_PERMISSION naming the capability', { skip }, async t => {
  const ns = await createNetns(t, 'perm', { loopback: false })
  ns.ip('link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0p')
  ns.ip('link', 'set', 'lan0', 'up')
  // The fixture loads the addon as root, then setuid()s to nobody, which empties its
  // permitted and effective capability sets.
  const r = await runFixture(ns, 'errors.mjs', ['unprivileged'])
  t.equal(r.code, 0, `fixture ran as nobody (${r.stderr})`)
  const report = JSON.parse(r.stdout.trim()) as Report
  t.equal(report.uid, 65534, 'ran as nobody')
  t.match(report, { capEff: /^0+$/, capPrm: /^0+$/ }, 'with no effective or permitted capabilities')
  for (const name of ['privilegedPort', 'privilegedPortAsync']) {
    const c = report.cases[name]
    t.match(c, {
      ok: false,
      code: NetbindErrorCode.Permission,
      message: /UDP 0\.0\.0\.0:67 on interface "lan0" needs CAP_NET_BIND_SERVICE/,
      syscall: 'bind'
    }, `${name}: port 67 needs CAP_NET_BIND_SERVICE`)
    t.equal(c?.fdsAfter, c?.fdsBefore, `${name}: no fd left open`)
  }
  // Linux >= 5.7 lets an unprivileged process bind a fresh socket to a device; older kernels
  // need CAP_NET_RAW, and the error must say so.
  const high = report.cases.highPort
  if (high?.ok === true) {
    t.pass('SO_BINDTODEVICE without CAP_NET_RAW is allowed by this kernel (Linux >= 5.7)')
  } else {
    t.match(high, { code: NetbindErrorCode.Permission, message: /needs CAP_NET_RAW/, syscall: 'setsockopt(SO_BINDTODEVICE)' },
      'SO_BINDTODEVICE without CAP_NET_RAW (Linux < 5.7)')
  }
  t.equal(high?.fdsAfter, high?.fdsBefore, 'highPort: no fd left open')
})
