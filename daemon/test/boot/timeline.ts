import t from 'tap'
import { timeline } from '../../src/boot/timeline.js'
import type { RbEvent } from '../../src/store/events.js'

let id = 0
const at = (sec: number, type: string, detail: Record<string, unknown> = {}): RbEvent =>
  ({ id: ++id, ts: new Date(1_700_000_000_000 + sec * 1000).toISOString(), actor: 'x', type, machineId: 1, lan: 'prov', mac: null, detail })

t.test('boot attempts from events', async t => {
  const events = [
    at(0, 'machine.state', { from: 'discovered', to: 'ready' }), // before any boot: not an attempt
    // UEFI: firmware DHCP, TFTP, iPXE DHCP, script, files, phone-home
    at(10, 'dhcp.offer', { client: 'pxe' }), at(11, 'dhcp.ack', { client: 'pxe' }), at(12, 'tftp.transfer'), at(13, 'tftp.transfer'),
    at(20, 'dhcp.offer', { client: 'ipxe' }), at(21, 'dhcp.ack', { client: 'ipxe' }), at(22, 'boot.script', { kind: 'netboot' }), at(22, 'machine.state', { to: 'provisioning' }),
    at(23, 'boot.file', { kind: 'kernel' }), at(25, 'boot.file', { kind: 'initrd' }), at(40, 'boot.phone-home'), at(40, 'machine.state', { to: 'provisioned' }),
    // next power-on: to disk
    at(100, 'dhcp.offer', { client: 'ipxe' }), at(101, 'dhcp.ack', { client: 'ipxe' }), at(102, 'boot.script', { kind: 'disk' }),
    // an hour later: waiting at the prompt
    at(3700, 'dhcp.ack', { client: 'ipxe' }), at(3701, 'boot.script', { kind: 'wait' }), at(3711, 'boot.script', { kind: 'wait' })
  ]
  const attempts = timeline(events)
  t.same(attempts.map(a => a.outcome), ['waiting', 'disk', 'provisioned'], 'newest first')
  t.same(attempts[2]?.steps.map(e => e.type), ['dhcp.offer', 'dhcp.ack', 'tftp.transfer', 'tftp.transfer', 'dhcp.offer', 'dhcp.ack', 'boot.script', 'machine.state', 'boot.file', 'boot.file', 'boot.phone-home', 'machine.state'])
  t.equal(attempts[2]?.startedAt, events[1]?.ts)
  t.equal(timeline(events, 1).length, 1)
  t.same(timeline([]), [])
  t.same(timeline([at(0, 'dhcp.ack'), at(5, 'boot.file')]).map(a => a.outcome), ['in-progress'])
})
