// Netboot end to end: real BIOS (QEMU's iPXE ROM) and UEFI (OVMF's own PXE) VMs boot the test
// OS from rackboot — DHCP, TFTP, the iPXE script, kernel and initrd over HTTP — phone home, and
// the inventory shows them provisioned with a timeline of every step.
import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab, labMetric, type Lab } from '../helpers/dhcp-lab.js'
import { bootVm, ensureTestos, vmUnavailable, type Firmware } from '../helpers/vm.js'

const IMAGES = fileURLToPath(new URL('../../images', import.meta.url))
const BOOT = `boot: { tftp: "0.0.0.0:69", http: "0.0.0.0:8080", imagesDir: ${IMAGES}, ipxeDir: /usr/lib/ipxe }`
const why = netnsUnavailable(['curl']) ?? vmUnavailable('uefi')

interface MachineJson { id: number; state: string; netboot: boolean; ipv4: string | null; hostname: string; lan: string; macs: string[] }

async function machine (lab: Lab, ref: string): Promise<MachineJson> {
  const r = await lab.cli(['machines', 'show', ref, '--json'])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as MachineJson
}

async function lab2 (t: Test, extraLan = ''): Promise<Lab> {
  const lab = await dhcpLab(t, [
    { name: 'prov', bridge: 'br0', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.150\n    unknownMachines: discover\n' },
    ...(extraLan === '' ? [] : [{ name: 'rack2', bridge: 'br1', cidr: '10.78.0.1/24', extra: '    pool: 10.78.0.100-10.78.0.150\n' }])
  ], 'dhcp: { ratePerMac: 100 }\n', { boot: BOOT })
  await lab.server.run('sh', ['-c', 'sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'])
  await lab.start()
  return lab
}

async function provision (t: Test, lab: Lab, firmware: Firmware, n: number, lan = 'prov', bridge = 'br0') {
  const mac = `52:54:00:be:0${firmware === 'bios' ? 1 : 2}:${n.toString(16).padStart(2, '0')}`
  const host = (firmware === 'bios' ? 20 : 40) + n
  const ip = lan === 'prov' ? `10.77.0.${host}` : `10.78.0.${host}`
  const add = await lab.cli(['machines', 'add', '--hostname', `${firmware}-${n}`, '--mac', mac, '--lan', lan, '--ip', ip, '--image', 'testos'])
  t.equal(add.code, 0, add.stderr)
  const vm = await bootVm(t, { ns: lab.server, bridge, mac, firmware, name: `${firmware}${n}`, consoleLog: `${lab.dir}/${firmware}${n}.console` })
  // The console timeline of iPXE's network configuration: from "initialising devices" to
  // "Configuring (net0 …)… ok", which waits for DHCP and for an IPv6 router advertisement.
  const at = (re: RegExp) => vm.waitFor(re, 240_000).then(() => Date.now(), () => null)
  const configuring = Promise.all([at(/iPXE initialising devices/), at(/Configuring \(net0 [^)]*\)\.* ok/)])
  const ok = await vm.waitFor(/RACKBOOT-TESTOS: phone-home ok ip=(\S+) /, firmware === 'uefi' ? 240_000 : 180_000)
  await vm.exited
  const [from, to] = await configuring
  return { mac, ip, vm, ok, configureMs: from === null || to === null ? null : to - from }
}

t.test('BIOS and UEFI VMs netboot once, phone home, and are provisioned', async t => {
  if (!requireOrSkip(t, why)) return
  await ensureTestos()
  const lab = await lab2(t)
  for (const firmware of ['bios', 'uefi'] as const) {
    const answersBefore = await labMetric(lab, /rackboot_ipv6_router_answers_total\{lan="prov"\} (\d+)/)
    const { mac, ip, ok, configureMs } = await provision(t, lab, firmware, 1)
    t.match(ok[0], /phone-home ok/, `${firmware}: the test OS booted and phoned home`)
    // No IPv6 wait: rackboot answered iPXE's router solicitation, so "Configuring … ok" came
    // with DHCP instead of after iPXE's ~16 s wait for a router that never advertises.
    t.ok(await labMetric(lab, /rackboot_ipv6_router_answers_total\{lan="prov"\} (\d+)/) > answersBefore, `${firmware}: rackboot answered a router solicitation`)
    t.ok(configureMs !== null && configureMs < 10_000, `${firmware}: iPXE configured its network in ${configureMs === null ? '?' : (configureMs / 1000).toFixed(1)} s of console time (no ~16 s wait for IPv6)`)
    const m = await machine(lab, mac)
    t.match(m, { state: 'provisioned', netboot: false, ipv4: ip }, `${firmware}: provisioned, netboot off`)
    const tl = await lab.cli(['machines', 'timeline', mac, '--json'])
    const attempt = (JSON.parse(tl.stdout) as { attempts: Array<{ outcome: string; steps: Array<{ type: string; detail: Record<string, unknown> }> }> }).attempts[0]
    t.equal(attempt?.outcome, 'provisioned')
    const steps = attempt?.steps.map(s => s.type === 'boot.script' || s.type === 'boot.file' ? `${s.type}:${String(s.detail.kind)}` : s.type) ?? []
    const want = ['dhcp.offer', 'dhcp.ack', ...(firmware === 'uefi' ? ['tftp.transfer'] : []), 'boot.script:netboot', 'boot.file:kernel', 'boot.file:initrd', 'boot.phone-home']
    for (const step of want) t.ok(steps.includes(step), `${firmware}: timeline has ${step}`)
    if (firmware === 'uefi') {
      // OVMF's own PXE: a tsize probe it refuses, then the whole of ipxe.efi over TFTP (the
      // download itself, not a refusal that UEFI HTTP boot would paper over).
      const tftp = attempt?.steps.filter(s => s.type === 'tftp.transfer').map(s => s.detail) ?? []
      t.ok(tftp.some(d => d.outcome === 'complete' && /ipxe\.efi|snponly\.efi/.test(String(d.file)) && Number(d.bytes) > 100_000), `uefi: ipxe.efi downloaded over TFTP (${JSON.stringify(tftp.map(d => [d.file, d.outcome]))})`)
    }
    const dhcpAck = attempt?.steps.find(s => s.type === 'dhcp.ack')
    t.match(dhcpAck?.detail, { arch: firmware === 'uefi' ? /^(7|9)$/ : '0' }, `${firmware}: the DHCP step records the architecture`)
    const next = await lab.server.run('curl', ['-s', `http://10.77.0.1:8080/boot/ipxe?mac=${mac}`])
    t.match(next.stdout, /\nexit 1\n$/, `${firmware}: the next script boots from disk`)
  }
  // the phone-home token was consumed: replaying it is refused and changes nothing
  const ev = await lab.cli(['events', '--type', 'boot.phone-home', '--json'])
  t.equal(ev.stdout.trim().split('\n').length, 2)
})

t.test('four VMs at once on two LANs, and a stranger on a discover LAN', async t => {
  if (!requireOrSkip(t, why)) return
  await ensureTestos()
  const lab = await lab2(t, 'two LANs')
  const stranger = '52:54:00:be:0f:01'
  const strangerVm = await bootVm(t, { ns: lab.server, bridge: 'br0', mac: stranger, firmware: 'bios', name: 'stranger' })
  const boots = await Promise.all([
    provision(t, lab, 'bios', 11, 'prov', 'br0'),
    provision(t, lab, 'bios', 12, 'prov', 'br0'),
    provision(t, lab, 'bios', 13, 'rack2', 'br1'),
    provision(t, lab, 'bios', 14, 'rack2', 'br1')
  ])
  for (const b of boots) {
    const m = await machine(lab, b.mac)
    t.match(m, { state: 'provisioned', netboot: false }, `${m.hostname} provisioned`)
    t.equal(b.ok[1], b.ip, `${m.hostname} booted with its own LAN's reserved address (${b.ok[0]})`)
  }
  // the stranger: discovered by DHCP, and kept waiting at the iPXE prompt for an image
  await strangerVm.waitFor(/has no image assigned/, 120_000)
  const s = await machine(lab, stranger)
  t.match(s, { state: 'discovered', lan: 'prov', hostname: 'discovered-525400be0f01' })
  strangerVm.kill()
})
