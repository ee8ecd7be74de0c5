// Redfish: a small test service shaped by the DMTF schemas (test/helpers/redfish-service.ts; no
// Redfish emulator is installable here), first checked with an independent client, Debian's
// redfishtool, then rackboot's driver on it: sessions (one login, reused, re-login after it
// expired, logout), links followed to a system at a non-standard path, ResetTypes chosen from
// what the system advertises (and a refusal classified), the boot override, TLS verification
// on (refused without a CA; a CA file or a pinned fingerprint accepted; a wrong pin refused
// before any credential is sent) and off, a wrong password.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { RedfishDriver, certFingerprint } from '../../daemon/src/bmc/redfish.js'
import { redfishService } from '../helpers/redfish-service.js'
import { tempDir } from '../helpers/daemon.js'

const USER = 'root'
const PASSWORD = 'Rf-pass-42'

t.test('the test service is a Redfish service to redfishtool', async t => {
  const has = spawnSync('sh', ['-c', 'command -v redfishtool']).status === 0
  if (!has) {
    if (process.env.CI === 'true') t.fail('redfishtool (Debian redfishtool) is missing in CI')
    else t.comment('skipping: redfishtool is not installed (apt-get install redfishtool)')
    return
  }
  const svc = await redfishService({ user: USER, password: PASSWORD, dir: tempDir(t) })
  t.teardown(svc.close)
  // Asynchronously: the service runs in this process's event loop.
  const tool = async (args: string[]) => await new Promise<{ status: number | null; stdout: string; stderr: string }>(resolve => {
    const p = spawn('redfishtool', ['-r', `127.0.0.1:${svc.port}`, '-u', USER, '-p', PASSWORD, '-S', 'Always', ...args])
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += String(d) })
    p.stderr.on('data', (d: Buffer) => { stderr += String(d) })
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.on('close', status => { clearTimeout(timer); resolve({ status, stdout, stderr }) })
  })
  let r = await tool(['Systems', '-1'])
  t.equal(r.status, 0, `redfishtool Systems get: ${r.stderr}`)
  t.match(JSON.parse(r.stdout), { Id: 'System.Embedded.1', PowerState: 'Off' })
  r = await tool(['-A', 'Session', 'Systems', '-1', 'reset', 'On'])
  t.equal(r.status, 0, `redfishtool Systems reset On (session auth): ${r.stderr}`)
  t.equal(svc.state.power, 'On', 'the reset reached the system')
  t.ok(svc.calls.some(c => c.startsWith('POST /redfish/v1/SessionService/Sessions')), 'redfishtool logged in with a session')
  r = await tool(['Systems', '-1', 'setBootOverride', 'Once', 'Pxe'])
  t.equal(r.status, 0, `redfishtool setBootOverride: ${r.stderr}`)
  t.match(svc.state.boot, { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' })
})

t.test('rackboot\'s Redfish driver', async t => {
  const dir = tempDir(t)
  const svc = await redfishService({ user: USER, password: PASSWORD, dir, refuse: ['PowerCycle'] })
  t.teardown(svc.close)
  const ca = join(dir, 'bmc.crt')
  const drv = (o: Partial<ConstructorParameters<typeof RedfishDriver>[0]> = {}) => new RedfishDriver({ address: '127.0.0.1', port: svc.port, username: USER, password: PASSWORD, caFile: ca, timeoutMs: 5000, ...o })

  // TLS: refused without a way to trust the self-signed certificate, before any login.
  let calls = svc.calls.length
  let e = await drv({ caFile: null }).status().catch((x: unknown) => x)
  t.match(e, { kind: 'auth', message: /TLS certificate is not trusted/ })
  t.equal(svc.calls.length, calls, 'nothing was sent to an untrusted server')
  const wrongPin = 'ab'.repeat(32)
  e = await drv({ caFile: null, fingerprint: wrongPin }).status().catch((x: unknown) => x)
  t.match(e, { kind: 'auth', message: /does not match the pinned fingerprint/ })
  t.equal(svc.calls.length, calls, 'a wrong pin: nothing sent either (no password to an impostor)')
  const pinned = drv({ caFile: null, fingerprint: certFingerprint(svc.cert).replace(/(..)(?!$)/g, '$1:') })
  t.equal(await pinned.status(), 'off', 'a pinned fingerprint (with colons) is trusted')
  await pinned.close()
  const noVerify = drv({ caFile: null, tlsVerify: false })
  t.equal(await noVerify.status(), 'off', 'verification off: accepted')
  await noVerify.close()

  // One session for several operations; links followed to the Dell-like system path.
  calls = svc.calls.length
  const d = drv()
  t.equal(await d.status(), 'off')
  await d.power('on')
  t.equal(svc.state.power, 'On')
  t.equal(await d.status(), 'on')
  await d.bootDevice('pxe', { once: true, mode: 'uefi' })
  t.same(svc.state.boot, { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' })
  await d.bootDevice('disk', { once: false, mode: 'bios' })
  t.same(svc.state.boot, { BootSourceOverrideTarget: 'Hdd', BootSourceOverrideEnabled: 'Continuous', BootSourceOverrideMode: 'Legacy' })
  await d.power('soft')
  await d.power('reset')
  t.same(svc.state.resets.slice(-3), ['On', 'GracefulShutdown', 'ForceRestart'], 'ResetTypes chosen from what the system advertises')
  const mine = svc.calls.slice(calls)
  t.equal(mine.filter(c => c.startsWith('POST /redfish/v1/SessionService/Sessions')).length, 1, 'one login for all of them')
  t.ok(mine.some(c => c === 'GET /redfish/v1/Systems [token]') && mine.some(c => c.startsWith('POST /redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset [token]')), 'the system found through the collection, with the session token')

  // An expired session: logged in again, the operation succeeds.
  svc.expireSessions()
  await d.power('on')
  t.equal(svc.calls.slice(calls).filter(c => c.startsWith('POST /redfish/v1/SessionService/Sessions')).length, 2, 'a second login after the session expired')

  // A ResetType the system advertises but refuses: unsupported, with its MessageId.
  e = await d.power('cycle').catch((x: unknown) => x)
  t.match(e, { kind: 'unsupported', detail: /ActionParameterNotSupported/ })
  await d.close()
  t.equal(svc.sessions(), 0, 'logged out: the session is gone')

  // A system that does not advertise what an action needs: refused before sending.
  mkdirSync(join(dir, 'small'))
  const small = await redfishService({ user: USER, password: PASSWORD, dir: join(dir, 'small'), resetTypes: ['On', 'ForceOff'] })
  t.teardown(small.close)
  const s = new RedfishDriver({ address: '127.0.0.1', port: small.port, username: USER, password: PASSWORD, tlsVerify: false })
  e = await s.power('soft').catch((x: unknown) => x)
  t.match(e, { kind: 'unsupported', message: /advertises no ResetType for soft \(it has On, ForceOff\)/ })
  t.notOk(small.calls.some(c => c.includes('ComputerSystem.Reset')), 'nothing sent')
  await s.close()

  // A wrong password.
  e = await drv({ password: 'nope' }).status().catch((x: unknown) => x)
  t.match(e, { kind: 'auth', message: 'the BMC refused the user name or password' })
})
