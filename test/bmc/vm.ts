// End to end through a BMC: a machine registered with its BMC (ipmi_sim in a namespace of its
// own), `reprovision` with power through the API → rackboot sets PXE and powers the machine on
// through ipmi_sim → the VM (started by the chassis when its power goes to 1) netboots the test
// OS from rackboot → provisioned → the power status reads on; `power off` stops the VM.
// The chassis is ipmi_sim's chassis_control hook, whose power file this test turns into a QEMU
// VM on the boot LAN: started when it becomes 1, stopped when it becomes 0.
import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsUnavailable, requireOrSkip } from '../../bench/netns.js'
import { dhcpLab } from '../helpers/dhcp-lab.js'
import { bootVm, ensureTestos, TESTOS_DIR, vmUnavailable, type Vm } from '../helpers/vm.js'
import { ipmiSim, ipmiSimUnavailable } from '../helpers/ipmi-sim.js'
import { tempDir } from '../helpers/daemon.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test('reprovision through ipmi_sim: PXE, power on, netboot, provisioned, power status on; power off stops the VM', async t => {
  if (!requireOrSkip(t, netnsUnavailable(['curl']) ?? vmUnavailable('bios') ?? ipmiSimUnavailable())) return
  await ensureTestos()
  const dir = tempDir(t)
  // The test OS, but staying up after it phoned home (a shell on its console instead of poweroff),
  // as a real node does: its power state is then the chassis's to read.
  const images = join(dir, 'images')
  mkdirSync(join(images, 'testos-up'), { recursive: true })
  symlinkSync(join(TESTOS_DIR, 'build'), join(images, 'testos-up', 'build'))
  writeFileSync(join(images, 'testos-up', 'image.yaml'), 'description: the test OS, staying up\narch: x86_64\nkernel: build/vmlinuz\ninitrds: [build/initrd.img]\nsha256sums: build/SHA256SUMS\ncmdline: "console=tty0 console=ttyS0 quiet panic=-1 rackboot.phone_home={{ phone_home_url }} rackboot.hostname={{ hostname }} rackboot.shell"\n')
  const sim = await ipmiSim(t, join(dir, 'sim'))
  const boot = `boot: { tftp: "0.0.0.0:69", http: "0.0.0.0:8080", imagesDir: ${images}, ipxeDir: /usr/lib/ipxe }`
  const lab = await dhcpLab(t, [{ name: 'prov', bridge: 'br0', cidr: '10.77.0.1/24', extra: '    pool: 10.77.0.100-10.77.0.150\n' }], `dhcp: { ratePerMac: 100 }\nbmc: { ipmitool: ${sim.ipmitool}, timeout: 1s }\n`, { boot })
  await lab.server.run('sh', ['-c', 'sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'])
  await lab.start()

  // The chassis: a VM runs while the hook's power file says 1.
  const mac = '52:54:00:be:31:01'
  let vm: Vm | null = null
  let starts = 0
  let running = true
  const chassis = (async () => {
    while (running) {
      const on = sim.power() === '1'
      if (on && vm === null) {
        starts++
        vm = await bootVm(t, { ns: lab.server, bridge: 'br0', mac, firmware: 'bios', name: `bmcvm${starts}`, consoleLog: join(lab.dir, `bmcvm${starts}.console`) })
      } else if (!on && vm !== null) {
        await vm.kill()
        vm = null
      }
      await sleep(200)
    }
  })()
  t.teardown(async () => { running = false; await chassis; await (vm as Vm | null)?.kill() })

  const pw = join(dir, 'bmc.pw')
  writeFileSync(pw, sim.password, { mode: 0o600 })
  let r = await lab.cli(['machines', 'add', '--hostname', 'bmc-1', '--mac', mac, '--lan', 'prov', '--ip', '10.77.0.31', '--image', 'testos-up', '--bmc-driver', 'ipmi', '--bmc-address', sim.address, '--bmc-user', sim.user, '--bmc-password-file', pw, '--bmc-cipher-suite', '3'])
  t.equal(r.code, 0, r.stderr)
  r = await lab.cli(['machines', 'power', 'status', 'bmc-1'])
  t.same([r.code, r.stdout], [0, 'bmc-1: power off\n'], r.stderr)
  t.equal(starts, 0, 'no VM yet')

  r = await lab.cli(['machines', 'reprovision', 'bmc-1', '--power', '--json'])
  t.equal(r.code, 0, r.stderr)
  t.equal(sim.boot(), 'pxe', 'rackboot set PXE for the next boot')
  t.equal(sim.power(), '1', 'and powered the machine on')
  let m = JSON.parse((await lab.cli(['machines', 'show', 'bmc-1', '--json'])).stdout)
  for (let i = 0; i < 120 && m.state !== 'provisioned'; i++) {
    await sleep(2000)
    m = JSON.parse((await lab.cli(['machines', 'show', 'bmc-1', '--json'])).stdout)
  }
  t.match(m, { state: 'provisioned', netboot: false, ipv4: '10.77.0.31' }, 'the VM netbooted from rackboot and phoned home')
  t.equal(starts, 1, 'one power-on, one VM')
  t.match((vm as Vm | null)?.console() ?? '', /RACKBOOT-TESTOS: phone-home ok ip=10\.77\.0\.31 /)
  r = await lab.cli(['machines', 'power', 'status', 'bmc-1'])
  t.same([r.code, r.stdout], [0, 'bmc-1: power on\n'], 'the power status reads on')

  const running1 = vm as Vm | null
  r = await lab.cli(['machines', 'power', 'off', 'bmc-1'])
  t.equal(r.code, 0, r.stderr)
  const exit = await Promise.race([running1?.exited.then(() => 'exited'), sleep(20_000).then(() => 'still running')])
  t.equal(exit, 'exited', 'power off stopped the VM')
  r = await lab.cli(['machines', 'power', 'status', 'bmc-1'])
  t.equal(r.stdout, 'bmc-1: power off\n')

  const tl = await lab.cli(['events', '--machine', String(m.id), '--limit', '100', '--json'])
  const types = tl.stdout.trim().split('\n').map(l => (JSON.parse(l) as { type: string }).type)
  for (const step of ['machine.reprovision', 'bmc.boot-device', 'bmc.power', 'boot.script', 'boot.phone-home', 'machine.power']) t.ok(types.includes(step), `the timeline has ${step}`)
})
