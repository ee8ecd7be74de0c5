// rackboot's IPMI driver (Debian's ipmitool, lanplus) against a real BMC simulator nobody here
// wrote: OpenIPMI's ipmi_sim in a network namespace, whose chassis_control hook records what it
// was told. Power state and actions, the next boot device, a wrong password (a clear auth error,
// tried once), an unreachable BMC (given up within the bound), cipher suites 3 and 17, and the
// password never on a command line.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { IpmiDriver } from '../../daemon/src/bmc/ipmi.js'
import { BmcError } from '../../daemon/src/bmc/driver.js'
import { BmcQueue } from '../../daemon/src/bmc/queue.js'
import { ipmiSim, ipmiSimUnavailable } from '../helpers/ipmi-sim.js'
import { tempDir } from '../helpers/daemon.js'

/** Every process's command line right now, as text. */
function commandLines (): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc').filter(p => /^\d+$/.test(p))) {
    try { out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')) } catch { /* gone */ }
  }
  return out
}

t.test('IPMI against ipmi_sim', async t => {
  if (!requireOrSkip(t, netnsUnavailable() ?? ipmiSimUnavailable())) return
  const sim = await ipmiSim(t, tempDir(t))
  const bmc = (o: { password?: string; cipherSuite?: number; address?: string; timeoutS?: number; retries?: number } = {}) => new IpmiDriver({
    address: o.address ?? sim.address, username: sim.user, password: o.password ?? sim.password, cipherSuite: o.cipherSuite ?? 3,
    timeoutS: o.timeoutS ?? 1, retries: o.retries ?? 1, ipmitool: sim.ipmitool
  })
  const d = bmc()
  t.equal(await d.status(), 'off', 'power status reads the hook\'s state')
  await d.power('on')
  t.equal(sim.power(), '1', 'power on reached the chassis')
  t.equal(await d.status(), 'on')
  await d.bootDevice('pxe', { once: true, mode: 'uefi' })
  t.equal(sim.boot(), 'pxe', 'PXE for the next boot')
  await d.bootDevice('disk', { once: false, mode: 'bios' })
  t.not(sim.boot(), 'pxe', `disk: the override is gone (${sim.boot()})`)
  await d.power('reset')
  t.ok(sim.calls().some(c => c.startsWith('set reset')), 'reset reached the chassis')
  await d.power('off')
  t.equal(sim.power(), '0')
  t.equal(await d.status(), 'off')
  await d.power('cycle')
  t.ok(sim.calls().filter(c => /^set power/.test(c)).length >= 3, 'cycle reached the chassis')
  t.ok(d.argv(['chassis', 'power', 'status']).every(a => a !== sim.password), 'the password is not among ipmitool\'s arguments')

  const queue = new BmcQueue()
  // A wrong password: an authentication error, tried once (no retry storm to lock the account).
  const before = sim.calls().length
  const wrong = await queue.run('bmc', async () => await bmc({ password: 'wrong-password' }).status(), { attempts: 3, backoffMs: 100, deadlineMs: 20_000 }).catch((e: unknown) => e)
  t.ok(wrong instanceof BmcError, 'an error')
  t.match(wrong, { kind: 'auth', message: 'the BMC refused the user name or password', attempts: 1 })
  t.match((wrong as BmcError).detail, /RAKP 2 HMAC is invalid/)
  t.equal(sim.calls().length, before, 'nothing reached the chassis')

  // Cipher suite 17 (the default for real BMCs): this simulator has none; 3 works (above).
  const c17 = await bmc({ cipherSuite: 17 }).status().catch((e: unknown) => e)
  t.match(c17, { kind: 'unsupported', message: /cipher suite \(try 3/ })

  // An unreachable BMC: an address nobody answers on (a veth in the namespace whose peer has no address), given up
  // within the bound, its retries and backoff included; meanwhile no command line holds the password.
  sim.ns.sh('ip link add rbva type veth peer name rbvb && ip link set rbvb up && ip link set rbva up && ip addr add 10.98.0.1/24 dev rbva')
  const t0 = Date.now()
  let leaked = false
  const watch = setInterval(() => { if (commandLines().some(l => l.includes(sim.password))) leaked = true }, 50)
  const gone = await queue.run('gone', async () => await bmc({ address: '10.98.0.2', timeoutS: 1, retries: 1 }).status(), { attempts: 2, backoffMs: 200, deadlineMs: 30_000 }).catch((e: unknown) => e)
  clearInterval(watch)
  const took = Date.now() - t0
  t.match(gone, { kind: 'unreachable', attempts: 2 }, 'unreachable, after its two tries')
  t.ok(took < 30_000, `given up within the bound (${took} ms)`)
  t.notOk(leaked, 'no process\'s command line held the password meanwhile')
})
