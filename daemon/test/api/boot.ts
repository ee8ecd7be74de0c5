// Images, lifecycle actions and timelines through the inventory API.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { Store } from '../../src/store/index.js'
import { Metrics } from '../../src/metrics.js'
import { buildApi } from '../../src/api/app.js'
import { loadImages } from '../../src/boot/images.js'
import { config, tempDir, mac, LANS_YAML } from '../helpers/build.js'

async function setup (t: { teardown (fn: () => unknown): void }) {
  const root = tempDir(t)
  mkdirSync(join(root, 'ok'))
  writeFileSync(join(root, 'ok', 'k'), 'K')
  writeFileSync(join(root, 'ok', 'image.yaml'), `description: fine\nkernel: { file: k, sha256: ${createHash('sha256').update('K').digest('hex')} }\ncmdline: "h={{ hostname }}"\n`)
  mkdirSync(join(root, 'bad'))
  writeFileSync(join(root, 'bad', 'image.yaml'), 'kernel: { file: k, sha256: "' + '0'.repeat(64) + '" }\n')
  writeFileSync(join(root, 'bad', 'k'), 'K')
  const images = await loadImages(root)
  const loaded = config(t, LANS_YAML)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  const app = await buildApi({ store, lans: () => loaded.lans, log: pino({ level: 'silent' }), metrics: new Metrics({ defaults: false }), images: () => images, imagesDir: () => root })
  t.teardown(async () => { await app.close(); store.close() })
  const auth = { authorization: `Bearer ${store.tokens.create('a', false).token}` }
  return { app, store, auth }
}

t.test('GET /api/v1/images shows what is servable and why not', async t => {
  const { app, auth } = await setup(t)
  const res = await app.inject({ url: '/api/v1/images', headers: auth })
  t.equal(res.statusCode, 200)
  const byName = Object.fromEntries((res.json().items as Array<{ name: string }>).map(i => [i.name, i]))
  t.match(byName.ok, { ok: true, problems: [], description: 'fine', kernel: { name: 'k', size: 1 }, cmdline: 'h={{ hostname }}' })
  t.match(byName.bad, { ok: false, problems: [/has sha256 .* expected 0{64}: not served/] })
  t.equal((await app.inject({ url: '/api/v1/images/ok', headers: auth })).json().name, 'ok')
  t.equal((await app.inject({ url: '/api/v1/images/zzz', headers: auth })).statusCode, 404)
})

t.test('reprovision and deprovision follow the lifecycle', async t => {
  const { app, store, auth } = await setup(t)
  const m = store.write(() => store.machines.create({ hostname: 'n1', macs: [mac(1)], lan: 'prov', image: 'ok', state: 'provisioned', netboot: false }, 't'))
  let res = await app.inject({ method: 'POST', url: `/api/v1/machines/${m.id}/reprovision`, headers: auth })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { state: 'ready', netboot: true })
  res = await app.inject({ method: 'POST', url: `/api/v1/machines/${m.id}/deprovision`, headers: auth })
  t.match(res.json(), { state: 'ready', netboot: false })
  const d = store.write(() => store.machines.create({ hostname: 'n2', macs: [mac(2)], lan: 'prov', state: 'discovered' }, 't'))
  res = await app.inject({ method: 'POST', url: `/api/v1/machines/${d.id}/reprovision`, headers: auth })
  t.same([res.statusCode, res.json().code], [409, 'RB_STATE_TRANSITION'])
  res = await app.inject({ method: 'POST', url: '/api/v1/machines/999/reprovision', headers: auth })
  t.equal(res.statusCode, 404)
  const types = store.events.list({ machineId: m.id, limit: 20, order: 'asc' }).map(e => e.type)
  t.same(types.filter(x => x.startsWith('machine.re') || x.startsWith('machine.de')), ['machine.reprovision', 'machine.deprovision'])
})

t.test('every illegal state change is a 409, every legal one works', async t => {
  const { app, store, auth } = await setup(t)
  const { TRANSITIONS, MACHINE_STATES: states } = await import('../../src/store/lifecycle.js')
  let n = 10
  const change = async (from: typeof states[number], to: typeof states[number]) => {
    const m = store.write(() => store.machines.create({ hostname: `m${n}`, macs: [mac(n++)], lan: 'prov', state: from }, 't'))
    const res = await app.inject({ method: 'PATCH', url: `/api/v1/machines/${m.id}`, headers: auth, payload: { state: to } })
    return res.statusCode
  }
  for (const from of states) {
    for (const to of states) {
      const legal = from === to || TRANSITIONS[from].includes(to)
      t.equal(await change(from, to), legal ? 200 : 409, `${from} → ${to}`)
    }
  }
  // The install step, spelt out: only a provisioning machine becomes installed, and installed
  // goes on to provisioned, back to ready, or to failed.
  t.equal(await change('ready', 'installed'), 409, 'ready → installed is refused')
  t.equal(await change('provisioned', 'installed'), 409, 'provisioned → installed is refused')
  t.equal(await change('installed', 'provisioning'), 409, 'installed → provisioning is refused')
  t.equal(await change('provisioning', 'installed'), 200)
  for (const to of ['provisioned', 'ready', 'failed'] as const) t.equal(await change('installed', to), 200, `installed → ${to}`)
})

t.test('timeline of a machine', async t => {
  const { app, store, auth } = await setup(t)
  const m = store.write(() => store.machines.create({ hostname: 'n1', macs: [mac(1)], lan: 'prov', image: 'ok' }, 't'))
  store.write(() => {
    store.events.append({ actor: 'dhcp', type: 'dhcp.ack', machineId: m.id, detail: { client: 'ipxe' } })
    store.events.append({ actor: 'boot', type: 'boot.script', machineId: m.id, detail: { kind: 'netboot' } })
    store.events.append({ actor: 'boot', type: 'boot.phone-home', machineId: m.id, detail: {} })
  })
  const res = await app.inject({ url: `/api/v1/machines/${m.id}/timeline`, headers: auth })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { machineId: m.id, attempts: [{ outcome: 'provisioned', steps: [{ type: 'dhcp.ack' }, { type: 'boot.script' }, { type: 'boot.phone-home' }] }] })
})
