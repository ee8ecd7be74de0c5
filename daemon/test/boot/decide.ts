// The boot decisions as tables: which script a machine gets, and when its token is live.
import t from 'tap'
import { scriptFor, tokenRefusal, type TokenUse } from '../../src/boot/decide.js'
import type { TokenKind } from '../../src/store/boot-tokens.js'
import type { Image } from '../../src/boot/images.js'
import type { MachineState } from '../../src/store/lifecycle.js'

const image = (name: string, ok: boolean): Image => ({ name, ok, problems: ok ? [] : ['kernel missing'] } as unknown as Image)
const images = new Map([['good', image('good', true)], ['broken', image('broken', false)], ['node', { ...image('node', true), kind: 'disk' } as Image]])
const m = (state: MachineState, netboot: boolean, img: string | null, stateReason: string | null = null) => ({ hostname: 'n1', state, netboot, image: img, stateReason })

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
    ['a disk image, ready: netboots its installer and begins provisioning', m('ready', true, 'node'), { kind: 'netboot', image: { name: 'node', kind: 'disk' }, begins: true }],
    ['installed (the disk is written): disk, for its OS to phone home', m('installed', true, 'node'), { kind: 'disk', why: 'is installed: its OS finishes provisioning from the disk' }],
    ['failed install: waits saying why, no boot loop', m('failed', true, 'node', 'install failed: no-disk: no disk found'), { kind: 'wait', why: 'n1 is failed (install failed: no-disk: no disk found): reprovision it to netboot again', event: null }],
    ['broken image: wait, with its problems', m('provisioning', true, 'broken'), { kind: 'wait', why: 'image broken is broken (see rackboot images check)', event: { image: 'broken', problems: ['kernel missing'] } }]
  ]
  for (const [name, machine, want] of cases) t.match(scriptFor(machine, images), want, name)
})

t.test('tokenRefusal: each kind of token opens its own routes, only while its attempt is live', async t => {
  const token = (kind: TokenKind, machineState: string, superseded = false) => ({ ok: true as const, kind, machineId: 1, image: 'good', createdAt: 0, machineState, superseded })
  const uses: TokenUse[] = ['metadata', 'phone-home', 'install']
  const opens: Record<TokenKind, { uses: TokenUse[]; liveIn: string }> = {
    netboot: { uses: ['metadata', 'phone-home'], liveIn: 'provisioning' },
    install: { uses: ['install'], liveIn: 'provisioning' },
    seed: { uses: ['metadata', 'phone-home'], liveIn: 'installed' }
  }
  for (const [kind, rule] of Object.entries(opens) as Array<[TokenKind, typeof opens[TokenKind]]>) {
    for (const use of uses) {
      const got = tokenRefusal(token(kind, rule.liveIn), use)
      if (rule.uses.includes(use)) t.equal(got, null, `${kind} opens ${use} while ${rule.liveIn}`)
      else t.equal(got?.code, 'RB_BOOT_TOKEN_INVALID', `${kind} does not open ${use}`)
    }
    const use = rule.uses[0] as TokenUse
    t.match(tokenRefusal(token(kind, rule.liveIn, true), use), { code: 'RB_BOOT_TOKEN_STALE', message: /a newer boot of this machine has begun/ }, `${kind}: superseded`)
    for (const s of ['discovered', 'ready', 'provisioning', 'installed', 'provisioned', 'failed'].filter(s => s !== rule.liveIn)) {
      t.match(tokenRefusal(token(kind, s), use), { code: 'RB_BOOT_TOKEN_STALE', message: `the machine is ${s}, not ${rule.liveIn}` }, `${kind} while ${s}`)
    }
  }
})
