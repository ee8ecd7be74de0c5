// The test OS (images/testos) on its own, without PXE: QEMU boots its kernel and initrd
// directly on a lab bridge where rackboot serves DHCP; the image must load its NIC driver
// (virtio-net, then e1000), get a pool address, POST its phone-home body to the URL on its
// command line, print its markers and power off. The netboot end-to-end tests build on this.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dhcpLab } from '../helpers/dhcp-lab.js'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { directBoot, ensureTestos, phoneHomeServer, testosCmdline, TESTOS_DIR, vmUnavailable, type Testos } from '../helpers/vm.js'

const why = netnsUnavailable() ?? vmUnavailable('direct')
const PHONE_HOME = 'http://10.77.0.1:8099/phone-home?t=abc'

const inPool = (ip: string): boolean => {
  const m = /^10\.77\.0\.(\d+)$/.exec(ip)
  return m !== null && Number(m[1]) >= 100 && Number(m[1]) <= 150
}

t.test('image.yaml names the built files and their checksums', async t => {
  if (!requireOrSkip(t, why)) return
  let os: Testos
  try { os = await ensureTestos() } catch (err) { requireOrSkip(t, (err as Error).message); return }
  t.comment(`build.sh: ${os.ms} ms, ${os.log.trim().split('\n').pop() ?? ''}`)
  const yaml = readFileSync(join(TESTOS_DIR, 'image.yaml'), 'utf8')
  t.match(yaml, /^kernel: build\/vmlinuz$/m)
  t.match(yaml, /^initrds: \[build\/initrd\.img\]$/m)
  t.match(yaml, /^sha256sums: build\/SHA256SUMS\b/m)
  const sums = new Map(readFileSync(os.sums, 'utf8').trim().split('\n').map(l => { const [h, f] = l.split(/\s+\*?/); return [f, h] as const }))
  t.same([...sums.keys()].sort(), ['initrd.img', 'vmlinuz'])
  for (const [file, hex] of sums) {
    t.equal(createHash('sha256').update(readFileSync(join(os.dir, file ?? ''))).digest('hex'), hex, `${file} matches SHA256SUMS`)
  }
})

t.test('direct boot on a rackboot LAN: DHCP from the pool, phone-home POST, markers, poweroff', async t => {
  if (!requireOrSkip(t, why)) return
  let os: Testos
  try { os = await ensureTestos() } catch (err) { requireOrSkip(t, (err as Error).message); return }

  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br0', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.150\n    unknownMachines: lease\n' }])
  await lab.start()
  const home = await phoneHomeServer(t, lab.server, '10.77.0.1', 8099)

  // One VM at a time (the machine is shared): virtio-net first, the NIC every e2e test uses, then e1000.
  const cases = [
    { nic: 'virtio', mac: '52:54:00:7e:57:01', hostname: 'testos-virtio' },
    { nic: 'e1000', mac: '52:54:00:7e:57:02', hostname: 'testos-e1000' }
  ] as const
  for (const c of cases) {
    await t.test(`${c.nic}`, async t => {
      const consoleLog = join(lab.dir, `console-${c.nic}.log`)
      const vm = await directBoot(t, {
        ns: lab.server,
        bridge: 'br0',
        mac: c.mac,
        nic: c.nic,
        name: `testos-${c.nic}`,
        kernel: os.kernel,
        initrd: os.initrd,
        append: testosCmdline({ phone_home_url: PHONE_HOME, hostname: c.hostname }),
        consoleLog,
        timeoutMs: 180_000
      })
      t.comment(`${vm.name}: ${vm.accel.toUpperCase()}, ${vm.argv.join(' ')}`)
      try {
        const init = await vm.waitFor(/RACKBOOT-TESTOS: init ok kernel=(\S+) uptime=\S+\n/, 90_000)
        const initMs = Date.now() - vm.startedAt
        t.equal(init[1], readFileSync(join(os.dir, 'kernel-release'), 'utf8').trim(), 'the initramfs init runs on the packaged kernel')

        const dhcp = await vm.waitFor(/RACKBOOT-TESTOS: dhcp (ok|failed) (.*)\n/, 60_000)
        t.equal(dhcp[1], 'ok', `DHCP: ${dhcp[2] ?? ''}`)
        const lease = /mac=(\S+) ip=([\d.]+)\/(\d+) router=(\S+) uptime=/.exec(dhcp[2] ?? '')
        t.equal(lease?.[1], c.mac, 'the NIC has the MAC QEMU gave it')
        t.ok(inPool(lease?.[2] ?? ''), `${lease?.[2] ?? '?'} is from the LAN's pool`)
        t.equal(lease?.[3], '24')
        t.equal(lease?.[4], '10.77.0.1', 'default route via the LAN gateway')

        const ph = await vm.waitFor(/RACKBOOT-TESTOS: phone-home (ok|failed|skipped) (.*)\n/, 60_000)
        const phoneMs = Date.now() - vm.startedAt
        t.equal(ph[1], 'ok', `phone-home: ${ph[2] ?? ''}`)
        t.match(ph[2], new RegExp(`^ip=${(lease?.[2] ?? '').replace(/\./g, '\\.')} mac=${c.mac} hostname=${c.hostname}$`))

        const req = await home.waitFor(r => r.body.includes(c.mac), 5_000)
        t.equal(req.method, 'POST')
        t.equal(req.url, '/phone-home?t=abc', 'the URL from the command line, query included')
        t.equal(req.headers['content-type'], 'application/json')
        const body = JSON.parse(req.body) as Record<string, unknown>
        t.match(body, { hostname: c.hostname, mac: c.mac, ip: lease?.[2], kernel: init[1], marker: '' })
        t.type(body.uptime, 'number')

        await vm.waitFor(/RACKBOOT-TESTOS: poweroff uptime=\S+\n/, 30_000)
        let timer: NodeJS.Timeout | undefined
        const exit = await Promise.race([vm.exited, new Promise<null>(resolve => { timer = setTimeout(() => resolve(null), 30_000) })])
        clearTimeout(timer)
        t.same(exit === null ? null : { code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'QEMU exited by itself (the guest powered off)')

        const leases = lab.db(db => db.prepare('SELECT ipv4, mac FROM leases WHERE mac = ?').all(c.mac) as Array<{ ipv4: string; mac: string }>)
        t.same(leases.map(l => l.ipv4), [lease?.[2]], 'rackboot recorded the lease it gave')
        t.comment(vm.console().split('\n').filter(l => l.includes('RACKBOOT-TESTOS:')).join('\n'))
        t.comment(`${vm.name} (${vm.accel}): init at ${(initMs / 1000).toFixed(1)} s, phone-home at ${(phoneMs / 1000).toFixed(1)} s, QEMU exited at ${((exit?.ms ?? NaN) / 1000).toFixed(1)} s; guest uptime ${String(body.uptime)} s at phone-home`)
      } catch (err) {
        t.comment(`console of ${vm.name} (${consoleLog}):\n${vm.console()}`)
        throw err
      }
    })
  }
  t.equal(home.requests().length, cases.length, 'exactly one phone-home per boot')

  await t.test('nothing listening at the phone-home URL: a failed marker, and it still powers off', async t => {
    const vm = await directBoot(t, {
      ns: lab.server,
      bridge: 'br0',
      mac: '52:54:00:7e:57:03',
      name: 'testos-refused',
      kernel: os.kernel,
      initrd: os.initrd,
      append: testosCmdline({ phone_home_url: 'http://10.77.0.1:8098/nobody-home', hostname: 'testos-refused' }),
      timeoutMs: 120_000
    })
    const ph = await vm.waitFor(/RACKBOOT-TESTOS: phone-home (ok|failed|skipped) (.*)\n/, 90_000)
    t.equal(ph[1], 'failed')
    t.match(ph[2], /^reason=\S/, `the reason is given: ${ph[2] ?? ''}`)
    const exit = await vm.exited
    t.equal(exit.code, 0, 'QEMU exited by itself (the guest powered off)')
  })
})
