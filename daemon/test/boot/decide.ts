// The boot decisions as tables: which script a machine gets, and when its token is live.
import t from 'tap'
import { attemptOver, scriptFor } from '../../src/boot/decide.js'
import type { Image } from '../../src/boot/images.js'
import type { MachineState } from '../../src/store/lifecycle.js'

const image = (name: string, ok: boolean): Image => ({ name, ok, problems: ok ? [] : ['kernel missing'] } as unknown as Image)
const images = new Map([['good', image('good', true)], ['broken', image('broken', false)], ['node', { ...image('node', true), kind: 'disk' } as Image]])
const m = (state: MachineState, netboot: boolean, img: string | null) => ({ hostname: 'n1', state, netboot, image: img })

t.test('scriptFor: machine and image → script kind, reason, transition', async t => {
  const cases: Array<[string, ReturnType<typeof m> | null, unknown]> = [
    ['unknown MAC', null, { kind: 'unknown' }],
    ['ready: netboots and begins provisioning', m('ready', true, 'good'), { kind: 'netboot', image: { name: 'good' }, begins: true }],
    ['provisioning (a retry, a reboot mid-install): netboots again, no transition', m('provisioning', true, 'good'), { kind: 'netboot', begins: false }],
    ['provisioned: disk', m('provisioned', true, 'good'), { kind: 'disk', why: 'is provisioned' }],
    ['netboot off: disk, whatever the state', m('ready', false, 'good'), { kind: 'disk', why: 'has netboot off' }],
    ['netboot off and failed: disk', m('failed', false, null), { kind: 'disk', why: 'has netboot off' }],
    ['no image: wait', m('ready', true, null), { kind: 'wait', why: 'n1 has no image assigned', event: null }],
    ['discovered: wait', m('discovered', true, 'good'), { kind: 'wait', why: 'n1 is discovered: mark it ready to provision', event: null }],
    ['failed: wait', m('failed', true, 'good'), { kind: 'wait', why: 'n1 is failed: reprovision it to netboot again', event: null }],
    ['image not installed: wait, with an event', m('ready', true, 'gone'), { kind: 'wait', why: 'image gone is not installed', event: { image: 'gone', problems: ['no such image'] } }],
    ['a disk image (the installer flow is not in this build): wait, not a boot loop', m('ready', true, 'node'), { kind: 'wait', why: 'image node is a disk image, which this rackboot cannot install yet', event: null }],
    ['broken image: wait, with its problems', m('provisioning', true, 'broken'), { kind: 'wait', why: 'image broken is broken (see rackboot images check)', event: { image: 'broken', problems: ['kernel missing'] } }]
  ]
  for (const [name, machine, want] of cases) t.match(scriptFor(machine, images), want, name)
})

t.test('attemptOver: a valid token is live only for its attempt, while provisioning', async t => {
  const token = (machineState: string, superseded: boolean) => ({ ok: true as const, machineId: 1, image: 'good', createdAt: 0, machineState, superseded })
  t.equal(attemptOver(token('provisioning', false)), null)
  t.equal(attemptOver(token('provisioning', true)), 'a newer boot of this machine has begun')
  for (const s of ['ready', 'provisioned', 'failed', 'discovered']) t.equal(attemptOver(token(s, false)), `the machine is ${s}, not provisioning`, s)
})
