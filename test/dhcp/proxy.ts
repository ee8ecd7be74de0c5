// proxyDHCP beside another real DHCP server: Debian's dnsmasq (no boot options: a plain DHCP
// server, as a colo's or router's) hands out the addresses on the bridge, rackboot runs the
// LAN in `mode: proxy`. A BIOS VM (QEMU's iPXE ROM) and a UEFI VM (OVMF's own PXE client)
// netboot the test OS through rackboot and reach `provisioned` with dnsmasq's addresses;
// rackboot writes no lease; a client that is not PXE gets nothing from rackboot.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { clientLog, dhcpLab, labMetric, type Lab } from '../helpers/dhcp-lab.js'
import { bootVm, ensureTestos, vmUnavailable, type Firmware } from '../helpers/vm.js'

const IMAGES = fileURLToPath(new URL('../../images', import.meta.url))
const BOOT = `boot: { tftp: "0.0.0.0:69", http: "0.0.0.0:8080", imagesDir: ${IMAGES}, ipxeDir: /usr/lib/ipxe }`
const why = netnsUnavailable(['dnsmasq', 'busybox', 'tcpdump', 'curl']) ?? vmUnavailable('uefi')

interface Step { type: string; detail: Record<string, unknown> }

/** dnsmasq as the LAN's own DHCP server: addresses 10.80.0.100-150, no DNS, no boot options. */
async function otherServer (t: Test, lab: Lab) {
  const other = await lab.client('dnsmasq', 'br0', '52:54:00:0d:00:01')
  await other.run('ip', ['addr', 'add', '10.80.0.2/24', 'dev', other.ifname])
  const leases = join(lab.dir, 'dnsmasq.leases')
  writeFileSync(leases, '')
  const proc = other.spawn('dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${other.ifname}`, '--bind-interfaces',
    '--dhcp-range=10.80.0.100,10.80.0.150,255.255.255.0,1h', `--dhcp-leasefile=${leases}`, '--dhcp-authoritative', '--log-dhcp', `--pid-file=${join(lab.dir, 'dnsmasq.pid')}`])
  let log = ''
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => { log += d })
  t.teardown(() => { proc.kill('SIGTERM') })
  for (let i = 0; i < 50 && !/started, version/.test(log); i++) await new Promise(resolve => setTimeout(resolve, 100))
  return { leases: () => readFileSync(leases, 'utf8'), log: () => log }
}

t.test('proxyDHCP beside dnsmasq: BIOS and UEFI VMs boot through rackboot with dnsmasq\'s addresses', async t => {
  if (!requireOrSkip(t, why)) return
  await ensureTestos()
  const lab = await dhcpLab(t, [{ name: 'colo', bridge: 'br0', cidr: '10.80.0.1/24', bare: true, extra: '    mode: proxy\n' }], 'dhcp: { ratePerMac: 100 }\n', { boot: BOOT })
  await lab.server.run('sh', ['-c', 'sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'])
  const dnsmasq = await otherServer(t, lab)
  const d = await lab.start()
  t.ok(d.logs().some(l => l.msg?.startsWith('DHCP serving (proxyDHCP') === true && l.pxePort === 4011), 'rackboot serves proxyDHCP with a boot server on port 4011')

  for (const [firmware, mac] of [['bios', '52:54:00:0d:01:01'], ['uefi', '52:54:00:0d:02:01']] as Array<[Firmware, string]>) {
    const add = await lab.cli(['machines', 'add', '--hostname', `${firmware}-p`, '--mac', mac, '--lan', 'colo', '--image', 'testos'])
    t.equal(add.code, 0, add.stderr)
    const vm = await bootVm(t, { ns: lab.server, bridge: 'br0', mac, firmware, name: `p${firmware}`, consoleLog: join(lab.dir, `${firmware}.console`) })
    const ok = await vm.waitFor(/RACKBOOT-TESTOS: phone-home ok ip=(\S+) /, firmware === 'uefi' ? 240_000 : 180_000)
    await vm.exited
    const ip = ok[1] ?? ''
    t.match(ip, /^10\.80\.0\.(1[0-4]\d|150)$/, `${firmware}: the test OS has an address from dnsmasq's range (${ip})`)
    t.match(dnsmasq.leases(), new RegExp(`${mac} ${ip.replace(/\./g, '\\.')} `), `${firmware}: dnsmasq's lease file holds it`)
    const m = JSON.parse((await lab.cli(['machines', 'show', mac, '--json'])).stdout) as { state: string; netboot: boolean }
    t.match(m, { state: 'provisioned', netboot: false }, `${firmware}: provisioned`)
    const tl = JSON.parse((await lab.cli(['machines', 'timeline', mac, '--json'])).stdout) as { attempts: Array<{ outcome: string; steps: Step[] }> }
    const steps = tl.attempts[0]?.steps ?? []
    t.equal(tl.attempts[0]?.outcome, 'provisioned')
    const offers = steps.filter(s => s.type === 'dhcp.offer')
    t.ok(offers.length >= 1 && offers.every(s => s.detail.proxy === true && s.detail.ip === null), `${firmware}: proxy offers, no address in them`)
    // How each client learns its boot file: OVMF's PXE asks rackboot's boot server on port 4011
    // (the proxy offer has no PXE options, PXE 2.1 §2.2.5); iPXE takes it from the proxy offer.
    const acks = steps.filter(s => s.type === 'dhcp.ack')
    if (firmware === 'uefi') t.ok(acks.some(s => s.detail.proxy === true && s.detail.ip === ip && s.detail.client === 'pxe'), `uefi: OVMF asked port 4011 from ${ip} and got its boot file (${JSON.stringify(acks.map(s => [s.detail.client, s.detail.ip]))})`)
    const seen = steps.filter(s => s.type === 'dhcp.proxy-seen').map(s => s.detail.requested)
    t.ok(seen.includes(ip), `${firmware}: the address it asked dnsmasq for is on the timeline (${JSON.stringify(seen)})`)
    const script = steps.find(s => s.type === 'boot.script')
    t.equal(script?.detail.client, ip, `${firmware}: the iPXE script request came from dnsmasq's address, recorded on the timeline`)
    t.ok(steps.some(s => s.type === 'boot.phone-home'))
    if (firmware === 'uefi') {
      const tftp = steps.filter(s => s.type === 'tftp.transfer')
      t.ok(tftp.some(s => s.detail.outcome === 'complete' && /ipxe\.efi/.test(String(s.detail.file))), `uefi: ipxe.efi over TFTP from rackboot, on the machine's timeline (${JSON.stringify(tftp.map(s => [s.detail.file, s.detail.outcome]))})`)
    }
  }
  const leases = lab.db(db => (db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n)
  t.equal(leases, 0, 'rackboot wrote no lease')

  // A client that is not PXE (busybox udhcpc) gets its address from dnsmasq and nothing from rackboot.
  const offersBefore = await labMetric(lab, /rackboot_dhcp_sent_total\{lan="colo",type="offer"\} (\d+)/)
  const c = await lab.client('plain', 'br0', '52:54:00:0d:00:02')
  const plain = await c.run('busybox', ['udhcpc', '-i', c.ifname, '-n', '-q', '-t', '5', '-T', '1', '-s', lab.scripts.udhcpc], { timeoutMs: 20_000 })
  t.equal(plain.code, 0, plain.stderr)
  const bound = clientLog(lab, 'udhcpc').find(l => l.startsWith('bound ')) ?? ''
  t.match(bound, /ip=10\.80\.0\.1\d\d /, `udhcpc got dnsmasq's address (${bound})`)
  t.ok(await labMetric(lab, /rackboot_dhcp_dropped_total\{lan="colo",reason="not-pxe"\} (\d+)/) >= 1, 'rackboot counted it as not a PXE client')
  t.equal(await labMetric(lab, /rackboot_dhcp_sent_total\{lan="colo",type="offer"\} (\d+)/), offersBefore, 'and sent it nothing')
})
