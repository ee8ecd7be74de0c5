// Real clients' DISCOVER and REQUEST (SELECTING), captured by test/fixtures/capture.ts (see
// test/fixtures/README.md for versions and how): decoded, snapshot-tested, checked field by
// field, re-encoded byte for byte, and truncated at every offset.
import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DecodeError, formatHardwareAddress } from '@rackboot/wire'
import {
  decode, encode, packetCodec, describePacket, isIpxe, clientArch, isBroadcastFlagSet, maxReplySize, MessageType, Option,
  optionName, messageType, parameterRequestList, maxMessageSize, vendorClassIdentifier, clientIdentifier,
  clientSystemArchitecture, clientNetworkInterface, clientMachineId, userClass, ipxeEncapsulated, hostName,
  requestedIpAddress, serverIdentifier, rapidCommit, FieldOffset, DhcpErrorCode, type DhcpPacket
} from '../src/index.js'
import { testCodec } from './helpers/round-trip.js'

const DIR = new URL('./fixtures/', import.meta.url)
t.snapshotFile = fileURLToPath(new URL('../tap-snapshots/test/fixtures.ts.test.cjs', import.meta.url))

function load (name: string): Uint8Array {
  return Uint8Array.from(Buffer.from(readFileSync(new URL(name, DIR), 'utf8').replace(/\s+/g, ''), 'hex'))
}
const hex = (b: Uint8Array | undefined): string | undefined => b === undefined ? undefined : Buffer.from(b).toString('hex')

/** What each captured packet must say. `order` is every option code in wire order (so absence is checked too). */
interface Facts {
  type: number
  mac: string
  broadcast: boolean
  order: number[]
  prl: number[]
  isIpxe: boolean
  clientArch: number | null
  maxReply: number
  opt57?: number
  opt60?: string
  /** `id` as hex, or a pattern for ids with a time in them (dhcpcd's DUID-LLT). */
  opt61?: { type: number, id: string | RegExp }
  opt93?: number[]
  opt94?: { type: number, major: number, minor: number }
  opt97?: { type: number, guid: string }
  opt77?: { classes: string[], rfc3004: boolean }
  opt175?: Record<string, string>
  opt12?: string
  opt80?: boolean
  /** REQUEST (SELECTING): option 50 and the daemon's option 54. */
  opt50?: string
  opt54?: string
}

const LAN = '10.79.0.1'
const UDHCPC_PRL = [1, 3, 6, 12, 15, 28, 42]
const DHCLIENT_PRL = [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]
const DHCPCD_PRL = [1, 121, 3, 6, 12, 15, 26, 28, 33, 51, 54, 58, 59, 119]
const IPXE_PRL = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]
const OVMF_PRL = [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]
// iPXE's feature list (include/ipxe/dhcp.h DHCP_EB_FEATURE_*): 16 PXE extensions v2, 17 iSCSI, 18 AoE,
// 19 HTTP, 21 TFTP, 23 DNS, 24 bzImage, 25 Multiboot, 33 PXE, 34 ELF, 39 menu, 41 NFS (no 20: no HTTPS
// in this 2019 ROM); 177 bus id (PCI 1af4:1000, virtio-net), 235 version 1.0.0.
const IPXE_175 = { 16: '02', 17: '01', 18: '01', 19: '01', 21: '01', 23: '01', 24: '01', 25: '01', 33: '01', 34: '01', 39: '01', 41: '01', 177: '011af41000', 235: '010000' }
const NIL_GUID = '00000000000000000000000000000000'
// RFC 4361: type 255, IAID (dhcpcd: the MAC's last 4 bytes) + DUID-LLT (type 1, hardware 1, time, MAC).
const DHCPCD_CLIENT_ID = { type: 255, id: new RegExp(/^00f10003 0001 0001 [0-9a-f]{8} 525400f10003$/.source.replace(/ /g, '')) }

const FACTS: Record<string, Facts> = {
  'udhcpc-discover.hex': {
    type: MessageType.Discover, mac: '52:54:00:f1:00:01', broadcast: false, order: [53, 57, 55, 60, 61], prl: UDHCPC_PRL,
    isIpxe: false, clientArch: null, maxReply: 548, opt57: 576, opt60: 'udhcp 1.35.0', opt61: { type: 1, id: '525400f10001' }
  },
  'udhcpc-request.hex': {
    type: MessageType.Request, mac: '52:54:00:f1:00:01', broadcast: false, order: [53, 50, 54, 57, 55, 60, 61], prl: UDHCPC_PRL,
    isIpxe: false, clientArch: null, maxReply: 548, opt57: 576, opt60: 'udhcp 1.35.0', opt61: { type: 1, id: '525400f10001' }, opt50: '10.79.0.100', opt54: LAN
  },
  'dhclient-discover.hex': {
    type: MessageType.Discover, mac: '52:54:00:f1:00:02', broadcast: false, order: [53, 12, 55], prl: DHCLIENT_PRL,
    isIpxe: false, clientArch: null, maxReply: 548, opt12: 'fixture-host'
  },
  'dhclient-request.hex': {
    type: MessageType.Request, mac: '52:54:00:f1:00:02', broadcast: false, order: [53, 54, 50, 12, 55], prl: DHCLIENT_PRL,
    isIpxe: false, clientArch: null, maxReply: 548, opt12: 'fixture-host', opt50: '10.79.0.101', opt54: LAN
  },
  'dhcpcd-discover.hex': {
    type: MessageType.Discover, mac: '52:54:00:f1:00:03', broadcast: false, order: [53, 55, 57, 61, 80, 116, 145], prl: DHCPCD_PRL,
    isIpxe: false, clientArch: null, maxReply: 1444, opt57: 1472, opt61: DHCPCD_CLIENT_ID, opt80: true
  },
  'dhcpcd-request.hex': {
    type: MessageType.Request, mac: '52:54:00:f1:00:03', broadcast: false, order: [50, 53, 54, 55, 57, 61, 145], prl: DHCPCD_PRL,
    isIpxe: false, clientArch: null, maxReply: 1444, opt57: 1472, opt61: DHCPCD_CLIENT_ID, opt50: '10.79.0.102', opt54: LAN
  },
  'ipxe-rom-discover.hex': {
    type: MessageType.Discover, mac: '52:54:00:f1:00:04', broadcast: false, order: [53, 57, 93, 94, 60, 77, 55, 175, 61, 97], prl: IPXE_PRL,
    isIpxe: true, clientArch: 0, maxReply: 1444, opt57: 1472, opt60: 'PXEClient:Arch:00000:UNDI:002001', opt61: { type: 1, id: '525400f10004' },
    opt93: [0], opt94: { type: 1, major: 2, minor: 1 }, opt97: { type: 0, guid: NIL_GUID }, opt77: { classes: ['iPXE'], rfc3004: false }, opt175: IPXE_175
  },
  'ipxe-rom-request.hex': {
    type: MessageType.Request, mac: '52:54:00:f1:00:04', broadcast: false, order: [53, 57, 93, 94, 60, 77, 55, 175, 61, 97, 54, 50], prl: IPXE_PRL,
    isIpxe: true, clientArch: 0, maxReply: 1444, opt57: 1472, opt60: 'PXEClient:Arch:00000:UNDI:002001', opt61: { type: 1, id: '525400f10004' },
    opt93: [0], opt94: { type: 1, major: 2, minor: 1 }, opt97: { type: 0, guid: NIL_GUID }, opt77: { classes: ['iPXE'], rfc3004: false }, opt175: IPXE_175,
    opt50: '10.79.0.103', opt54: LAN
  },
  'ovmf-pxe-discover.hex': {
    type: MessageType.Discover, mac: '52:54:00:f1:00:05', broadcast: true, order: [53, 57, 55, 97, 94, 93, 60], prl: OVMF_PRL,
    isIpxe: false, clientArch: 7, maxReply: 1444, opt57: 1472, opt60: 'PXEClient:Arch:00007:UNDI:003000',
    opt93: [7], opt94: { type: 1, major: 3, minor: 0 }, opt97: { type: 0, guid: NIL_GUID }
  },
  'ovmf-pxe-request.hex': {
    // OVMF's REQUEST announces a 65280-byte maximum message (its DISCOVER said 1472): more than any
    // Ethernet frame, so maxReplySize() alone would allow a reply that has to be fragmented.
    type: MessageType.Request, mac: '52:54:00:f1:00:05', broadcast: true, order: [53, 54, 50, 57, 55, 97, 94, 93, 60], prl: OVMF_PRL,
    isIpxe: false, clientArch: 7, maxReply: 65252, opt57: 65280, opt60: 'PXEClient:Arch:00007:UNDI:003000',
    opt93: [7], opt94: { type: 1, major: 3, minor: 0 }, opt97: { type: 0, guid: NIL_GUID }, opt50: '10.79.0.104', opt54: LAN
  }
}

const FILES = readdirSync(DIR).filter(f => f.endsWith('.hex')).sort()

t.test('every fixture has its facts, and every client both messages', async t => {
  t.same(FILES, Object.keys(FACTS).sort())
  for (const client of ['udhcpc', 'dhclient', 'dhcpcd', 'ipxe-rom', 'ovmf-pxe']) {
    const d = decode(load(`${client}-discover.hex`))
    const r = decode(load(`${client}-request.hex`))
    t.equal(r.xid, d.xid, `${client}: the REQUEST keeps the DISCOVER's xid`)
    t.same(r.chaddr, d.chaddr, `${client}: same chaddr`)
  }
})

function checkFacts (t: Test, p: DhcpPacket, f: Facts): void {
  t.equal(p.op, 1, 'op BOOTREQUEST')
  t.equal(p.htype, 1, 'htype Ethernet')
  t.equal(p.hlen, 6, 'hlen 6')
  t.equal(p.hops, 0, 'no relay hops')
  t.equal(formatHardwareAddress(p.chaddr), f.mac, 'chaddr')
  t.equal(p.ciaddr, '0.0.0.0', 'ciaddr 0 (no address yet: DISCOVER or SELECTING)')
  t.equal(p.yiaddr, '0.0.0.0')
  t.equal(p.siaddr, '0.0.0.0')
  t.equal(p.giaddr, '0.0.0.0')
  t.equal(p.sname, '')
  t.equal(p.file, '')
  t.equal(isBroadcastFlagSet(p), f.broadcast, 'broadcast flag')
  t.equal(p.flags & 0x7fff, 0, 'reserved flag bits zero')
  t.equal(messageType(p), f.type, 'option 53')
  t.same([...p.options.keys()], f.order, 'option codes in wire order')
  t.notOk(p.options.has(Option.Overload), 'no overload')
  const prl = parameterRequestList(p)
  t.ok(prl !== undefined && prl.length > 0, 'option 55 present and non-empty')
  t.same(prl, f.prl, 'option 55')
  t.equal(maxMessageSize(p), f.opt57, 'option 57')
  t.equal(maxReplySize(p), f.maxReply, 'maxReplySize')
  t.equal(vendorClassIdentifier(p), f.opt60, 'option 60')
  const cid = clientIdentifier(p)
  if (f.opt61 === undefined) t.equal(cid, undefined, 'option 61')
  else if (typeof f.opt61.id === 'string') t.same({ type: cid?.type, id: hex(cid?.id) }, f.opt61, 'option 61')
  else t.match({ type: cid?.type, id: hex(cid?.id) }, f.opt61, 'option 61')
  t.same(clientSystemArchitecture(p), f.opt93, 'option 93')
  t.same(clientNetworkInterface(p), f.opt94, 'option 94')
  const mid = clientMachineId(p)
  t.same(mid === undefined ? undefined : { type: mid.type, guid: hex(mid.guid) }, f.opt97, 'option 97')
  const uc = userClass(p)
  t.same(uc === undefined ? undefined : { classes: uc.classes, rfc3004: uc.rfc3004 }, f.opt77, 'option 77')
  const enc = ipxeEncapsulated(p)
  t.same(enc === undefined ? undefined : Object.fromEntries([...enc].map(([k, v]) => [String(k), hex(v)])), f.opt175, 'option 175')
  t.equal(hostName(p), f.opt12, 'option 12')
  t.equal(rapidCommit(p), f.opt80, 'option 80')
  t.equal(requestedIpAddress(p), f.opt50, 'option 50')
  t.equal(serverIdentifier(p), f.opt54, 'option 54')
  t.equal(isIpxe(p), f.isIpxe, 'isIpxe')
  t.equal(clientArch(p), f.clientArch, 'clientArch')
}

for (const file of FILES) {
  t.test(file, async t => {
    const bytes = load(file)
    const p = decode(bytes)
    t.matchSnapshot(describePacket(p), 'describePacket')
    const f = FACTS[file]
    if (f === undefined) { t.fail(`no facts for ${file}`); return }
    t.test('facts', async t => { checkFacts(t, p, f) })

    t.test('re-encoding', async t => {
      // Every client here ends its options with End and pads with zeros (to 300 bytes when
      // shorter; OVMF and iPXE send longer messages unpadded), which is exactly what the
      // encoder does, so re-encoding is byte-exact.
      t.same([...encode(p, { maxSize: bytes.length })], [...bytes], 'encode(decode(bytes)) === bytes')
      t.same(decode(encode(decode(bytes))), p, 'decode(encode(decode(bytes))) deep-equals decode(bytes)')
      testCodec(t, packetCodec, p, p, file)
    })

    t.test('truncation at every offset', async t => {
      const end = endOffset(bytes)
      let threw = 0
      for (let cut = 0; cut < bytes.length; cut++) {
        const want = truncationExpectation(bytes, cut)
        const slice = bytes.subarray(0, cut)
        if (want === null) {
          // Only the zero padding after End is gone: the same packet.
          t.same(decode(slice), p, `cut at ${cut} (after End at ${end}) decodes to the same packet`)
          continue
        }
        try {
          decode(slice)
          t.fail(`cut at ${cut}: decoded, expected ${want.code}`)
        } catch (err) {
          if (!(err instanceof DecodeError)) { t.fail(`cut at ${cut}: threw ${String(err)}, not a DecodeError`); continue }
          t.same({ code: err.code, field: err.field, offset: err.offset }, want, `cut at ${cut}`)
          threw++
        }
      }
      t.equal(threw, end + 1, 'every cut up to and including End throws a DecodeError')
    })
  })
}

const HEADER_FIELDS = Object.entries(FieldOffset).filter(([name]) => name !== 'options').sort((a, b) => a[1] - b[1])

/** Offset of the End option, walking the options area independently of the codec. */
function endOffset (bytes: Uint8Array): number {
  let at = 240
  while (at < bytes.length && bytes[at] !== 255) at += bytes[at] === 0 ? 1 : 2 + (bytes[at + 1] ?? 0)
  return at
}

/** The error decoding the first `cut` bytes must report (null: the cut only drops padding after End). */
function truncationExpectation (bytes: Uint8Array, cut: number): { code: string, field: string, offset: number } | null {
  if (cut < 240) {
    let field = 'op'
    let offset = 0
    for (const [name, at] of HEADER_FIELDS) if (at <= cut) { field = name; offset = at }
    return { code: 'RB_WIRE_TRUNCATED', field, offset }
  }
  let at = 240
  for (;;) {
    if (cut === at) return { code: DhcpErrorCode.MissingEnd, field: 'options', offset: cut }
    const code = bytes[at] as number
    if (code === 255) return null
    if (code === 0) { at += 1; continue }
    const field = `options.${optionName(code)}`
    if (cut === at + 1) return { code: 'RB_WIRE_TRUNCATED', field, offset: at + 1 }
    const len = bytes[at + 1] as number
    if (cut < at + 2 + len) return { code: DhcpErrorCode.OptionOverrun, field, offset: at }
    at += 2 + len
  }
}
