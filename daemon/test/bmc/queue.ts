// The per-BMC queue: one operation at a time per BMC, BMCs in parallel, retries with backoff
// only for what may pass, and a deadline on the whole.
import t from 'tap'
import { BmcQueue } from '../../src/bmc/queue.js'
import { BmcError } from '../../src/bmc/driver.js'
import { classifyIpmitool } from '../../src/bmc/ipmi.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test('one at a time per BMC, in parallel across BMCs', async t => {
  const q = new BmcQueue()
  const log: string[] = []
  const op = (name: string, ms: number) => async () => { log.push(`${name}+`); await sleep(ms); log.push(`${name}-`); return name }
  const results = await Promise.all([q.run('a', op('a1', 30)), q.run('a', op('a2', 5)), q.run('b', op('b1', 10))])
  t.same(results.map(r => r.value), ['a1', 'a2', 'b1'])
  t.equal(log.indexOf('a2+') > log.indexOf('a1-'), true, 'a2 starts after a1 ended')
  t.equal(log.indexOf('b1+') < log.indexOf('a1-'), true, 'b runs beside a')
  t.equal(q.busy, 0, 'nothing left queued')
  // A failing operation does not block the next one.
  await t.rejects(q.run('a', async () => { throw new BmcError('failed', 'x') }))
  t.same((await q.run('a', async () => 1)).value, 1)
})

t.test('retries: unreachable and busy with backoff; auth and unsupported never', async t => {
  const q = new BmcQueue()
  let n = 0
  const flaky = async () => { n++; if (n < 3) throw new BmcError('unreachable', 'no answer'); return 'ok' }
  const t0 = Date.now()
  const r = await q.run('x', flaky, { attempts: 3, backoffMs: 20, deadlineMs: 5000 })
  t.same(r, { value: 'ok', attempts: 3 })
  t.ok(Date.now() - t0 >= 60, 'waited 20 + 40 ms between tries')
  for (const kind of ['auth', 'unsupported', 'failed'] as const) {
    let calls = 0
    const e = await q.run('y', async () => { calls++; throw new BmcError(kind, kind) }, { attempts: 5, backoffMs: 1, deadlineMs: 5000 }).catch((err: unknown) => err)
    t.match(e, { kind, attempts: 1 }, `${kind}: tried once`)
    t.equal(calls, 1)
  }
  let calls = 0
  const e = await q.run('z', async () => { calls++; throw new BmcError('busy', 'busy') }, { attempts: 10, backoffMs: 100, deadlineMs: 250 }).catch((err: unknown) => err)
  t.match(e, { kind: 'busy' })
  t.ok(calls <= 2, `the deadline stops the retries (${calls} tries within 250 ms)`)
})

t.test('ipmitool messages classified', async t => {
  t.match(classifyIpmitool('Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n', false), { kind: 'auth', detail: '> RAKP 2 HMAC is invalid; Error: Unable to establish IPMI v2 / RMCP+ session' })
  t.match(classifyIpmitool('RAKP 2 message indicates an error : unauthorized name\n', false), { kind: 'auth' })
  t.match(classifyIpmitool('Error in open session response message : invalid authentication algorithm\n', false), { kind: 'unsupported' })
  t.match(classifyIpmitool('Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\n', false), { kind: 'unreachable' })
  t.match(classifyIpmitool('', true), { kind: 'unreachable', message: /within the timeout/ })
  t.match(classifyIpmitool('Set Chassis Power Control to Cycle failed: Node busy\n', false), { kind: 'busy' })
  t.match(classifyIpmitool('something else\n', false), { kind: 'failed', detail: 'something else' })
})
