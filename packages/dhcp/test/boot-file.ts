import t from 'tap'
import {
  selectBootFile, isIpxe, clientArch, withBootSelection, ClientArch, BOOT_TABLE, DEFAULT_BOOT_FILES,
  type BootFileParams, type BootSelection
} from '../src/boot-file.js'
import { createPacket, decode, encode, type DhcpPacket } from '../src/packet.js'
import { clientSystemArchitecture, vendorClassIdentifier, userClass, bootfileName, messageType } from '../src/accessors.js'
import { Option } from '../src/option-table.js'
import { MessageType } from '../src/message-type.js'
import { reply } from '../src/reply.js'
import { pxeBiosDiscover, ipxeDiscover } from './helpers/packets.js'

const params: BootFileParams = {
  ...DEFAULT_BOOT_FILES,
  httpUrl: 'http://10.0.0.1:8080/ipxe/{file}',
  ipxeScriptUrl: 'http://10.0.0.1:8080/boot/ipxe?mac={mac}&arch={arch}'
}

function pxe (arch: number | null, extra: (p: DhcpPacket) => void = () => {}): DhcpPacket {
  const p = createPacket({ chaddr: Uint8Array.of(0x52, 0x54, 0, 1, 2, 3) })
  messageType.set(p, MessageType.Discover)
  if (arch !== null) clientSystemArchitecture.set(p, [arch])
  extra(p)
  return p
}

const table: Array<[string, DhcpPacket, BootSelection, Partial<BootFileParams>?]> = [
  ['x86 BIOS → undionly.kpxe', pxe(0), { kind: 'tftp', arch: 0, file: 'undionly.kpxe', vendorClass: 'PXEClient' }],
  ['x86 UEFI 32-bit → efiIa32 falls back to efiX64', pxe(6), { kind: 'tftp', arch: 6, file: 'ipxe.efi', vendorClass: 'PXEClient' }],
  ['x86 UEFI 32-bit with an i386 build', pxe(6), { kind: 'tftp', arch: 6, file: 'ipxe-i386.efi', vendorClass: 'PXEClient' }, { efiIa32: 'ipxe-i386.efi' }],
  ['x64 UEFI (7) → ipxe.efi', pxe(7), { kind: 'tftp', arch: 7, file: 'ipxe.efi', vendorClass: 'PXEClient' }],
  ['x64 UEFI (9, RFC 4578 numbering) → ipxe.efi', pxe(9), { kind: 'tftp', arch: 9, file: 'ipxe.efi', vendorClass: 'PXEClient' }],
  ['x64 UEFI with snponly.efi configured', pxe(7), { kind: 'tftp', arch: 7, file: 'snponly.efi', vendorClass: 'PXEClient' }, { efiX64: 'snponly.efi' }],
  ['arm64 UEFI (11) → ipxe-arm64.efi', pxe(11), { kind: 'tftp', arch: 11, file: 'ipxe-arm64.efi', vendorClass: 'PXEClient' }],
  ['x64 UEFI HTTP (16) → URL + HTTPClient', pxe(16), { kind: 'http', arch: 16, url: 'http://10.0.0.1:8080/ipxe/ipxe.efi', vendorClass: 'HTTPClient' }],
  ['arm64 UEFI HTTP (19) → URL + HTTPClient', pxe(19), { kind: 'http', arch: 19, url: 'http://10.0.0.1:8080/ipxe/ipxe-arm64.efi', vendorClass: 'HTTPClient' }],
  ['x86 UEFI HTTP (15)', pxe(15), { kind: 'http', arch: 15, url: 'http://10.0.0.1:8080/ipxe/ipxe.efi', vendorClass: 'HTTPClient' }],
  ['arm32 UEFI (10) is not served', pxe(10), { kind: 'unsupported', arch: 10 }],
  ['Itanium (2) is not served', pxe(2), { kind: 'unsupported', arch: 2 }],
  ['no option 93, no vendor class → not a netboot client', pxe(null), { kind: 'unsupported', arch: null }],
  ['no option 93, arch from vendor class', pxe(null, p => vendorClassIdentifier.set(p, 'PXEClient:Arch:00007:UNDI:003016')),
    { kind: 'tftp', arch: 7, file: 'ipxe.efi', vendorClass: 'PXEClient' }],
  ['HTTPClient vendor class without option 93', pxe(null, p => vendorClassIdentifier.set(p, 'HTTPClient:Arch:00016')),
    { kind: 'http', arch: 16, url: 'http://10.0.0.1:8080/ipxe/ipxe.efi', vendorClass: 'HTTPClient' }],
  ['iPXE (user class) → its script URL', pxe(7, p => userClass.set(p, { classes: ['iPXE'], rfc3004: false })),
    { kind: 'ipxe-script', url: 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:01:02:03&arch=7' }],
  ['iPXE (option 175 only) → its script URL', pxe(0, p => p.options.set(Option.IpxeEncapsulated, Uint8Array.of(176, 1, 1))),
    { kind: 'ipxe-script', url: 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:01:02:03&arch=0' }],
  ['iPXE without an architecture', pxe(null, p => userClass.set(p, { classes: ['x', 'iPXE'], rfc3004: true })),
    { kind: 'ipxe-script', url: 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:01:02:03&arch=' }]
]

t.test('boot file table', async t => {
  for (const [name, packet, want, override] of table) {
    t.same(selectBootFile(packet, { ...params, ...override }), want, name)
  }
})

t.test('hand-built ROM packets', async t => {
  t.same(selectBootFile(decode(pxeBiosDiscover().bytes), params), { kind: 'tftp', arch: 0, file: 'undionly.kpxe', vendorClass: 'PXEClient' })
  t.same(selectBootFile(decode(ipxeDiscover().bytes), params),
    { kind: 'ipxe-script', url: 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:ab:cd:ef&arch=7' })
})

t.test('isIpxe', async t => {
  t.ok(isIpxe(decode(ipxeDiscover().bytes)))
  t.notOk(isIpxe(decode(pxeBiosDiscover().bytes)))
  t.ok(isIpxe(pxe(0, p => userClass.set(p, { classes: ['iPXE'], rfc3004: true }))), 'RFC 3004 form')
  t.notOk(isIpxe(pxe(0, p => userClass.set(p, { classes: ['gPXE'], rfc3004: false }))))
  t.notOk(isIpxe(pxe(0, p => userClass.set(p, { classes: ['iPXE-like'], rfc3004: false }))), 'whole class, not a substring')
})

t.test('clientArch edge cases', async t => {
  t.equal(clientArch(pxe(null, p => vendorClassIdentifier.set(p, 'PXEClient:Arch:99999'))), null, 'out of uint16 range')
  t.equal(clientArch(pxe(null, p => vendorClassIdentifier.set(p, 'PXEClient'))), null)
  t.equal(clientArch(pxe(null, p => vendorClassIdentifier.set(p, 'PXEClient:Arch:0000'))), null)
  t.equal(clientArch(pxe(null, p => { p.options.set(Option.ClientSystemArchitecture, Uint8Array.of(0)) })), null, 'malformed 93')
  t.equal(ClientArch.Arm64UefiHttp, 19)
  t.equal(BOOT_TABLE.length, new Set(BOOT_TABLE.map(e => e.arch)).size, 'one entry per arch')
})

t.test('withBootSelection sets file, option 67, option 60, next server', async t => {
  const req = pxe(0)
  const tftp = reply(req, withBootSelection(selectBootFile(req, params), { nextServer: '10.0.0.1' }))
  t.equal(tftp.file, 'undionly.kpxe')
  t.equal(tftp.siaddr, '10.0.0.1')
  t.equal(vendorClassIdentifier(tftp), 'PXEClient')
  t.equal(bootfileName(tftp), undefined)

  const http = reply(pxe(16), withBootSelection(selectBootFile(pxe(16), params)))
  t.equal(http.file, 'http://10.0.0.1:8080/ipxe/ipxe.efi')
  t.equal(bootfileName(http), 'http://10.0.0.1:8080/ipxe/ipxe.efi')
  t.equal(vendorClassIdentifier(http), 'HTTPClient')
  t.equal(http.siaddr, '0.0.0.0')

  const ipxeReq = decode(ipxeDiscover().bytes)
  const script = reply(ipxeReq, withBootSelection(selectBootFile(ipxeReq, params)))
  t.equal(bootfileName(script), 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:ab:cd:ef&arch=7')
  t.equal(vendorClassIdentifier(script), undefined)

  const none = reply(pxe(null), withBootSelection({ kind: 'unsupported', arch: null }))
  t.equal(none.file, '')
  t.equal(none.options.size, 0)
  t.ok(encode(http).length >= 300)
})
