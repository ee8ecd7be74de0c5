// The BMC from the CLI, through a running daemon, to ipmi_sim: settings with the password from a
// file (never on a command line), power status/on/off and the next boot device; the daemon's
// log holds no password.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { ipmiSim, ipmiSimUnavailable } from '../helpers/ipmi-sim.js'
import { cli, freePort, LANS, serve, tempDir, writeConfig } from '../helpers/daemon.js'

t.test('machines power and bootdev', async t => {
  if (!requireOrSkip(t, netnsUnavailable() ?? ipmiSimUnavailable())) return
  const dir = tempDir(t)
  const sim = await ipmiSim(t, join(dir, 'sim'))
  const port = await freePort()
  // The daemon runs ipmitool through a wrapper that enters the simulator's namespace.
  const file = writeConfig(dir, port, `bmc: { ipmitool: ${sim.ipmitool}, timeout: 1s, attempts: 2 }\n${LANS}`)
  const token = (await cli(['token', 'create', '--name', 'admin', '--config', file])).stdout.trim()
  const d = await serve(t, file, port)
  const env = { RACKBOOT_API: d.url, RACKBOOT_TOKEN: token }
  const pw = join(dir, 'bmc.pw')
  writeFileSync(pw, `${sim.password}\n`, { mode: 0o600 })

  let r = await cli(['machines', 'add', '--hostname', 'node-1', '--mac', '52:54:00:00:70:01', '--lan', 'prov', '--bmc-driver', 'ipmi', '--bmc-address', sim.address, '--bmc-user', sim.user, '--bmc-password-file', pw, '--bmc-cipher-suite', '3'], env)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /bmc +ipmi 127\.0\.0\.1 user admin password set cipher suite 3/)
  t.notOk(r.stdout.includes(sim.password))
  r = await cli(['machines', 'power', 'status', 'node-1'], env)
  t.same([r.code, r.stdout], [0, 'node-1: power off\n'], r.stderr)
  r = await cli(['machines', 'power', 'on', 'node-1'], env)
  t.same([r.code, r.stdout], [0, 'node-1: power on done\n'], r.stderr)
  t.equal(sim.power(), '1')
  r = await cli(['machines', 'bootdev', 'pxe', 'node-1', '--mode', 'uefi'], env)
  t.same([r.code, r.stdout], [0, 'node-1: next boot from pxe (once), uefi\n'], r.stderr)
  t.equal(sim.boot(), 'pxe')
  r = await cli(['machines', 'power', 'off', 'node-1', '--json'], env)
  t.match(JSON.parse(r.stdout), { machine: 'node-1', state: 'off' })
  t.equal(sim.power(), '0')
  r = await cli(['machines', 'show', 'node-1'], env)
  t.match(r.stdout, /power +off \(at \d{4}-/)
  r = await cli(['machines', 'power', 'bounce', 'node-1'], env)
  t.equal(r.code, 2, 'an unknown action is a usage error')
  r = await cli(['machines', 'bootdev', 'pxe', 'node-1', '--once', '--persistent'], env)
  t.equal(r.code, 2)

  writeFileSync(pw, 'wrong-password\n')
  r = await cli(['machines', 'set', 'node-1', '--bmc-password-file', pw], env)
  t.equal(r.code, 0, r.stderr)
  r = await cli(['machines', 'power', 'on', 'node-1'], env)
  t.equal(r.code, 1)
  t.match(r.stderr, /^rackboot: RB_BMC_AUTH: node-1's BMC \(127\.0\.0\.1\): the BMC refused the user name or password/)
  r = await cli(['events', '--machine', '1', '--type', 'bmc.error', '--json'], env)
  t.match(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}'), { detail: { kind: 'auth', attempts: 1 } })
  const log = JSON.stringify(d.logs())
  t.ok(log.includes('BMC operation failed'), 'the failure is logged')
  t.notOk(log.includes(sim.password) || log.includes('wrong-password'), 'without any password')
})
