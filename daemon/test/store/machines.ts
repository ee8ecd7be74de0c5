import t from 'tap'
import { migrations } from '../../src/store/db.js'
import { Store } from '../../src/store/index.js'
import { config, sqlite, tempDir, mac } from '../helpers/build.js'
import type { MachineInput } from '../../src/store/index.js'

function open (t: { teardown (fn: () => unknown): void }, dataDir?: string) {
  const loaded = config(t, undefined, dataDir)
  const store = new Store({ dataDir: loaded.config.dataDir, lans: () => loaded.lans })
  t.teardown(() => store.close())
  return Object.assign(store, { raw: () => sqlite(t, loaded.config.dataDir) })
}

const input = (n: number, extra: Partial<MachineInput> = {}): MachineInput => ({ hostname: `node-${n}`, macs: [mac(n)], lan: 'prov', ...extra })

t.test('MACs are stored normalised whatever the notation', async t => {
  const store = open(t)
  const m = store.write(() => store.machines.create({ hostname: 'A', macs: ['AA-BB-CC-DD-EE-01', 'aabb.ccdd.ee02', 'AABBCCDDEE03'], lan: 'prov' }, 'test'))
  t.same(m.macs, ['aa:bb:cc:dd:ee:01', 'aa:bb:cc:dd:ee:02', 'aa:bb:cc:dd:ee:03'])
  t.equal(m.hostname, 'a', 'hostnames are lowercased')
  t.equal(store.machines.getByMac('aa:bb:cc:dd:ee:02')?.id, m.id)
  t.equal(store.machines.getByMac('AABB.CCDD.EE03')?.id, m.id)
  t.equal(store.machines.getByMac('aa:bb:cc:dd:ee:04'), null)
})

t.test('uniqueness: each MAC once, hostname once, an IPv4 once per LAN', async t => {
  const store = open(t)
  store.write(() => store.machines.create(input(1, { ipv4: '10.77.0.10' }), 'test'))
  t.throws(() => store.write(() => store.machines.create(input(2, { macs: [mac(1)] }), 'test')), { code: 'RB_CONFLICT_MAC', field: 'macs[0]', message: 'macs[0] 52:54:00:00:00:01 already belongs to machine 1 (node-1)' })
  t.throws(() => store.write(() => store.machines.create(input(2, { hostname: 'NODE-1' }), 'test')), { code: 'RB_CONFLICT_HOSTNAME', field: 'hostname' })
  t.throws(() => store.write(() => store.machines.create(input(2, { ipv4: '10.77.0.10' }), 'test')), { code: 'RB_CONFLICT_IP', field: 'ipv4', message: /already reserved for machine 1 \(node-1\)/ })
  t.throws(() => store.write(() => store.machines.create(input(2, { macs: [mac(2), '52-54-00-00-00-02'] }), 'test')), { code: 'RB_VALIDATION', message: 'macs[1] 52:54:00:00:00:02 is listed twice' })
  t.equal(store.machines.count(), 1, 'nothing half-written')
  t.equal(store.events.list({ limit: 100 }).length, 1, 'no event for a failed write')
})

t.test('a reserved IPv4 lies in its LAN\'s subnet, outside its pool and reserved ranges', async t => {
  const store = open(t)
  const cases: Array<[string, string, RegExp]> = [
    ['10.78.0.10', 'prov', /outside LAN prov's subnet 10\.77\.0\.0\/24/],
    ['10.77.0.120', 'prov', /inside LAN prov's dynamic pool 10\.77\.0\.100-10\.77\.0\.150/],
    ['10.77.0.245', 'prov', /in LAN prov's reserved range 10\.77\.0\.240-10\.77\.0\.250/],
    ['10.77.0.1', 'prov', /rackboot's own address/],
    ['10.77.0.255', 'prov', /network or broadcast/],
    ['10.77.0.0', 'prov', /network or broadcast/]
  ]
  for (const [ip, lan, msg] of cases) {
    t.throws(() => store.write(() => store.machines.create(input(1, { ipv4: ip, lan }), 'test')), { code: 'RB_IP_INVALID', field: 'ipv4', message: msg }, ip)
  }
  t.throws(() => store.write(() => store.machines.create(input(1, { lan: 'nope' }), 'test')), { code: 'RB_LAN_UNKNOWN', message: 'lan "nope" is not configured (configured: prov, bmc)' })
  // the same address on another LAN's subnet is another address; the same last octet is fine
  store.write(() => store.machines.create(input(1, { ipv4: '10.77.0.10' }), 'test'))
  store.write(() => store.machines.create(input(2, { ipv4: '10.78.0.10', lan: 'bmc' }), 'test'))
  t.equal(store.machines.count(), 2)
})

t.test('updates re-check every rule and keep history', async t => {
  const store = open(t)
  const a = store.write(() => store.machines.create(input(1), 'test'))
  const b = store.write(() => store.machines.create(input(2), 'test'))
  t.throws(() => store.write(() => store.machines.update(b.id, { macs: [mac(3), mac(1)] }, 'test')), { code: 'RB_CONFLICT_MAC', field: 'macs[1]' })
  t.same(store.machines.get(b.id)?.macs, [mac(2)], 'failed update left the MACs alone')
  const moved = store.write(() => store.machines.update(a.id, { macs: [mac(9), mac(1)], labels: { rack: 'r1' }, ipv4: '10.77.0.20' }, 'alice'))
  t.same(moved.macs, [mac(9), mac(1)], 'order kept, boot NIC first')
  t.equal(store.machines.getByMac(mac(9))?.id, a.id)
  const cleared = store.write(() => store.machines.update(a.id, { ipv4: null }, 'alice'))
  t.equal(cleared.ipv4, null)
  t.throws(() => store.write(() => store.machines.update(999, { role: 'x' }, 'alice')), { code: 'RB_NOT_FOUND' })
  const ev = store.events.list({ machineId: a.id, limit: 10, order: 'asc' })
  t.same(ev.map(e => e.type), ['machine.created', 'machine.updated', 'machine.updated'])
  t.same(ev[1]?.detail.changed, ['macs', 'labels', 'ipv4'])
  t.equal(ev[1]?.actor, 'alice')
})

t.test('lifecycle transitions are checked', async t => {
  const store = open(t)
  const m = store.write(() => store.machines.create(input(1, { state: 'discovered' }), 'test'))
  t.throws(() => store.write(() => store.machines.update(m.id, { state: 'provisioned' }, 'test')), { code: 'RB_STATE_TRANSITION', message: `machine ${m.id} cannot go from discovered to provisioned` })
  t.equal(store.write(() => store.machines.update(m.id, { state: 'ready' }, 'test')).state, 'ready')
  t.equal(store.write(() => store.machines.update(m.id, { state: 'provisioning' }, 'test')).state, 'provisioning')
  const types = store.events.list({ machineId: m.id, type: 'machine.state', limit: 10, order: 'asc' }).map(e => e.detail)
  t.same(types, [{ from: 'discovered', to: 'ready' }, { from: 'ready', to: 'provisioning' }])
})

t.test('delete removes the MACs, keeps the events; events are append-only', async t => {
  const store = open(t)
  const m = store.write(() => store.machines.create(input(1), 'test'))
  store.write(() => store.machines.delete(m.id, 'test'))
  t.equal(store.machines.getByMac(mac(1)), null)
  t.equal(store.raw().prepare('SELECT count(*) FROM machine_macs').pluck().get(), 0)
  t.same(store.events.list({ machineId: m.id, limit: 10, order: 'asc' }).map(e => e.type), ['machine.created', 'machine.deleted'])
  t.throws(() => store.raw().prepare("UPDATE events SET type = 'x'").run(), /append-only/)
  // the MAC is free again
  t.equal(store.write(() => store.machines.create(input(5, { macs: [mac(1)] }), 'test')).macs[0], mac(1))
})

t.test('listing: filters, label selectors and cursor pages', async t => {
  const store = open(t)
  store.write(() => {
    for (let i = 1; i <= 25; i++) {
      store.machines.create(input(i, { lan: i % 5 === 0 ? 'bmc' : 'prov', labels: { rack: `r${i % 3}`, ...(i % 2 === 0 ? { gpu: 'yes' } : {}) }, state: i <= 3 ? 'discovered' : 'ready' }), 'test')
    }
  })
  t.equal(store.machines.list({ lan: 'bmc', limit: 100 }).length, 5)
  t.equal(store.machines.list({ state: 'discovered', limit: 100 }).length, 3)
  t.same(store.machines.list({ labels: [{ key: 'gpu', op: 'exists' }, { key: 'rack', op: '=', value: 'r0' }], limit: 100 }).map(m => m.id), [6, 12, 18, 24])
  t.equal(store.machines.list({ labels: [{ key: 'rack', op: '!=', value: 'r0' }], limit: 100 }).length, 17)
  const seen: number[] = []
  let after: number | undefined
  for (;;) {
    const page = store.machines.list({ limit: 10, ...(after === undefined ? {} : { after }) })
    seen.push(...page.map(m => m.id))
    if (page.length < 10) break
    after = page[page.length - 1]?.id
  }
  t.same(seen, Array.from({ length: 25 }, (_, i) => i + 1), 'every machine once, in order')
})

t.test('the inventory survives a restart', async t => {
  const dir = tempDir(t)
  const a = open(t, dir)
  const m = a.write(() => a.machines.create(input(1, { ipv4: '10.77.0.10', labels: { k: 'v' } }), 'test'))
  a.close()
  const b = open(t, dir)
  t.same(b.machines.get(m.id), m)
  t.equal(b.raw().pragma('journal_mode', { simple: true }), 'wal')
  t.equal(b.raw().pragma('user_version', { simple: true }), migrations().length, 'migrations ran once each')
})

t.test('tokens are stored hashed and can be read-only or revoked', async t => {
  const store = open(t)
  const { token, info } = store.tokens.create('ci', true)
  t.match(token, /^rbt_[A-Za-z0-9_-]{43}$/)
  t.equal(info.readOnly, true)
  const raw = JSON.stringify(store.raw().prepare('SELECT * FROM api_tokens').all())
  t.notOk(raw.includes(token), 'the secret is not in the database')
  t.same(store.tokens.verify(token), { id: info.id, name: 'ci', readOnly: true })
  t.equal(store.tokens.verify(token + 'x'), null)
  t.equal(store.tokens.verify('Bearer'), null)
  t.throws(() => store.tokens.create('ci', false), { code: 'RB_TOKEN_EXISTS' })
  t.equal(store.tokens.revoke('ci'), true)
  t.equal(store.tokens.verify(token), null, 'revoked')
  t.equal(store.tokens.revoke('ci'), false)
})

t.test('writeSoon: one failing job leaves the others, and close() commits what is still queued', async t => {
  const dir = tempDir(t)
  const a = open(t, dir)
  const ok = a.writeSoon(() => a.events.append({ actor: 'test', type: 'test.first' }))
  const bad = a.writeSoon(() => { a.events.append({ actor: 'test', type: 'test.rolled-back' }); throw new Error('boom') })
  await t.resolves(ok)
  await t.rejects(bad, { message: 'boom' })
  const queued = a.writeSoon(() => a.events.append({ actor: 'test', type: 'test.queued' }))
  a.close() // before the batch's turn of the event loop
  await t.resolves(queued)
  const b = open(t, dir)
  t.same(b.events.list({ limit: 10, order: 'asc' }).map(e => e.type).filter(x => x.startsWith('test.')), ['test.first', 'test.queued'])
})

t.test('migration 006 rebuilds the machines table and keeps every machine, MAC, lease and token', async t => {
  const dir = tempDir(t)
  const { default: Database } = await import('better-sqlite3')
  const { mkdirSync } = await import('node:fs')
  const { join } = await import('node:path')
  // A database as rackboot 005 left it: a machine with two MACs, a lease and a boot token.
  mkdirSync(dir, { recursive: true })
  const old = new Database(join(dir, 'rackboot.db'))
  old.pragma('foreign_keys = ON')
  for (const m of migrations().filter(m => m.version <= 5)) { old.exec(m.sql); old.pragma(`user_version = ${m.version}`) }
  old.prepare("INSERT INTO machines (id, hostname, lan, ipv4, image, labels, state, netboot, created_at, updated_at) VALUES (7, 'node-7', 'prov', '10.77.0.17', 'testos', '{\"rack\":\"r1\"}', 'provisioning', 1, 1, 2)").run()
  old.prepare("INSERT INTO machine_macs (mac, machine_id, position) VALUES ('52:54:00:00:00:07', 7, 0), ('52:54:00:00:00:08', 7, 1)").run()
  old.prepare("INSERT INTO leases (lan, ipv4, mac, machine_id, state, starts_at, expires_at, updated_at, client_key) VALUES ('prov', '10.77.0.17', '52:54:00:00:00:07', 7, 'bound', 1, 9e12, 1, '52:54:00:00:00:07')").run()
  old.prepare("INSERT INTO boot_tokens (id, hash, machine_id, image, created_at, expires_at) VALUES (1, x'00', 7, 'testos', 1, 9e12)").run()
  old.close()

  const store = open(t, dir)
  const m = store.machines.get(7)
  t.match(m, { hostname: 'node-7', macs: ['52:54:00:00:00:07', '52:54:00:00:00:08'], ipv4: '10.77.0.17', labels: { rack: 'r1' }, state: 'provisioning', stateReason: null, installDisk: null, network: null })
  const db = store.raw()
  t.equal(db.pragma('user_version', { simple: true }), migrations().length)
  t.equal(db.prepare('SELECT machine_id FROM leases').pluck().get(), 7, 'the lease still names its machine')
  t.equal(db.prepare('SELECT kind FROM boot_tokens').pluck().get(), 'netboot', 'old tokens are netboot tokens')
  t.same(db.pragma('foreign_key_check'), [])
  t.same(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'machines' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all(), ['machines_bmc_address', 'machines_bmc_mac', 'machines_cluster', 'machines_lan_state', 'machines_state'])
  t.match(m, { cluster: null, clusterStatus: null, clusterReason: null }, 'migration 007: no machine is in a cluster')
  // The foreign keys still work on the new table: deleting the machine takes its MACs and unlinks its lease.
  store.write(() => store.machines.update(7, { state: 'installed' }, 'test'))
  t.equal(store.machines.get(7)?.state, 'installed', 'the new state is accepted')
  store.write(() => store.machines.delete(7, 'test'))
  t.equal(db.prepare('SELECT count(*) FROM machine_macs').pluck().get(), 0)
  t.equal(db.prepare('SELECT machine_id FROM leases').pluck().get(), null)
})

t.test('stateReason belongs to its state; installDisk and network are checked', async t => {
  const store = open(t)
  const m = store.write(() => store.machines.create(input(1, { installDisk: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1', network: 'dhcp' }), 'test'))
  t.match(m, { installDisk: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1', network: 'dhcp', stateReason: null })
  const failed = store.write(() => store.machines.update(m.id, { state: 'failed', stateReason: 'install failed: no-disk: no disk found' }, 'test'))
  t.equal(failed.stateReason, 'install failed: no-disk: no disk found')
  t.equal(store.write(() => store.machines.update(m.id, { labels: { a: 'b' } }, 'test')).stateReason, 'install failed: no-disk: no disk found', 'kept while the state stays')
  t.equal(store.write(() => store.machines.update(m.id, { state: 'ready' }, 'test')).stateReason, null, 'cleared by the next state change')
  for (const ok of ['sda', 'nvme0n1', '/dev/vdb', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4']) {
    t.equal(store.write(() => store.machines.update(m.id, { installDisk: ok }, 'test')).installDisk, ok, ok)
  }
  for (const bad of ['sda; reboot', '/dev/../etc/passwd', 'rackboot.image=http://evil/', '/dev/disk/by-id/a b', 'SDA']) {
    t.throws(() => store.write(() => store.machines.update(m.id, { installDisk: bad }, 'test')), { code: 'RB_VALIDATION', field: 'installDisk' }, bad)
  }
})
