import t, { type Test } from 'tap'
import { DecodeError } from '@rackboot/wire'
import { decode, FieldOffset } from '../src/packet.js'
import { optionName } from '../src/option-table.js'
import { DhcpErrorCode } from '../src/errors.js'
import { pxeBiosDiscover, ipxeDiscover, relayedRequest, buildPacket, type HandPacket } from './helpers/packets.js'

interface Expected { code: string, field: string, offset: number }

function expectDecodeError (t: Test, bytes: Uint8Array, want: Expected, name: string): void {
  try {
    decode(bytes)
    t.fail(`${name}: decoded, expected ${want.code}`)
  } catch (err) {
    if (!(err instanceof DecodeError)) {
      t.fail(`${name}: threw ${String(err)}, not a DecodeError`)
      return
    }
    t.same({ code: err.code, field: err.field, offset: err.offset }, want, name)
  }
}

const HEADER_FIELDS = Object.entries(FieldOffset).filter(([name]) => name !== 'options').sort((a, b) => a[1] - b[1])

/** What decoding the first `cut` bytes of a hand-built packet must report (null: decodes fine). */
function truncationExpectation (p: HandPacket, cut: number): Expected | null {
  if (cut < 240) {
    let field = 'op'
    let offset = 0
    for (const [name, at] of HEADER_FIELDS) if (at <= cut) { field = name; offset = at }
    return { code: 'RB_WIRE_TRUNCATED', field, offset }
  }
  for (let i = 0; i < p.options.length; i++) {
    const at = p.optionOffsets[i] as number
    const o = p.options[i] as { code: number, data: number[] }
    const field = `options.${optionName(o.code)}`
    if (cut === at) return { code: DhcpErrorCode.MissingEnd, field: 'options', offset: cut }
    if (cut === at + 1) return { code: 'RB_WIRE_TRUNCATED', field, offset: at + 1 }
    if (cut < at + 2 + o.data.length) return { code: DhcpErrorCode.OptionOverrun, field, offset: at }
  }
  if (cut === p.endOffset) return { code: DhcpErrorCode.MissingEnd, field: 'options', offset: cut }
  return null
}

t.test('truncation at every offset of each hand-built packet', async t => {
  for (const make of [pxeBiosDiscover, ipxeDiscover, relayedRequest]) {
    const p = make()
    let checked = 0
    for (let cut = 0; cut < p.bytes.length; cut++) {
      const want = truncationExpectation(p, cut)
      const slice = p.bytes.subarray(0, cut)
      if (want === null) {
        t.doesNotThrow(() => decode(slice), `${make.name} cut at ${cut} (after End) decodes`)
      } else {
        expectDecodeError(t, slice, want, `${make.name} cut at ${cut}`)
      }
      checked++
    }
    t.equal(checked, p.bytes.length)
  }
})

t.test('bad magic cookie', async t => {
  for (const cookie of [[0, 0, 0, 0], [99, 130, 83, 98], [0x63, 0x53, 0x82, 0x63]]) {
    const p = buildPacket({ op: 1, xid: 1, chaddr: [1, 2, 3, 4, 5, 6], cookie }, [{ code: 53, data: [1] }])
    expectDecodeError(t, p.bytes, { code: DhcpErrorCode.BadCookie, field: 'magicCookie', offset: 236 }, `cookie ${cookie.join('.')}`)
  }
  // a BOOTP packet without a cookie (236 bytes) is truncated, not "bad cookie"
  expectDecodeError(t, new Uint8Array(236).fill(1, 0, 1), { code: 'RB_WIRE_TRUNCATED', field: 'magicCookie', offset: 236 }, 'no cookie')
})

t.test('option length overrun', async t => {
  const p = buildPacket({ op: 1, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, [{ code: 53, data: [1] }], 0)
  const bytes = Uint8Array.from([...p.bytes.subarray(0, 243), 12, 200, 0x41, 0x42, 255])
  expectDecodeError(t, bytes, { code: DhcpErrorCode.OptionOverrun, field: 'options.host-name', offset: 243 }, 'host-name 200 bytes declared')
  const unknown = Uint8Array.from([...p.bytes.subarray(0, 243), 250, 9, 1, 255])
  expectDecodeError(t, unknown, { code: DhcpErrorCode.OptionOverrun, field: 'options.option-250', offset: 243 }, 'unknown option overrun')
})

t.test('missing End', async t => {
  const p = buildPacket({ op: 1, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, [{ code: 53, data: [1] }])
  const noEnd = p.bytes.slice()
  noEnd[p.endOffset] = 0 // End → Pad: the area is all Pad to the end
  expectDecodeError(t, noEnd, { code: DhcpErrorCode.MissingEnd, field: 'options', offset: 300 }, 'pad to the end, no End')
  expectDecodeError(t, p.bytes.subarray(0, 240), { code: DhcpErrorCode.MissingEnd, field: 'options', offset: 240 }, 'empty options field')
})

t.test('hlen > 16', async t => {
  for (const hlen of [17, 255]) {
    const p = buildPacket({ op: 1, xid: 1, hlen, chaddr: [1, 2, 3, 4, 5, 6] }, [{ code: 53, data: [1] }])
    expectDecodeError(t, p.bytes, { code: DhcpErrorCode.BadHlen, field: 'hlen', offset: 2 }, `hlen ${hlen}`)
  }
  const ok = buildPacket({ op: 1, xid: 1, hlen: 16, chaddr: new Array<number>(16).fill(7) }, [{ code: 53, data: [1] }])
  t.equal(decode(ok.bytes).chaddr.length, 16)
})

t.test('bad op', async t => {
  for (const op of [0, 3, 255]) {
    const p = buildPacket({ op, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, [{ code: 53, data: [1] }])
    expectDecodeError(t, p.bytes, { code: DhcpErrorCode.BadOp, field: 'op', offset: 0 }, `op ${op}`)
  }
})

t.test('header errors are reported in field order: op before hlen before cookie', async t => {
  const p = buildPacket({ op: 9, xid: 1, hlen: 99, chaddr: [1, 2, 3, 4, 5, 6], cookie: [1, 2, 3, 4] }, [])
  expectDecodeError(t, p.bytes, { code: DhcpErrorCode.BadOp, field: 'op', offset: 0 }, 'op first')
  const q = buildPacket({ op: 1, xid: 1, hlen: 99, chaddr: [1, 2, 3, 4, 5, 6], cookie: [1, 2, 3, 4] }, [])
  expectDecodeError(t, q.bytes, { code: DhcpErrorCode.BadHlen, field: 'hlen', offset: 2 }, 'hlen second')
})

t.test('op / message type mismatch (strict, RFC 2131 types only)', async t => {
  const cases: Array<[number, number]> = [[2, 1], [2, 3], [2, 4], [2, 7], [2, 8], [1, 2], [1, 5], [1, 6]]
  for (const [op, type] of cases) {
    const p = buildPacket({ op, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, [{ code: 53, data: [type] }])
    expectDecodeError(t, p.bytes, { code: DhcpErrorCode.OpMismatch, field: 'op', offset: 0 }, `op ${op} with type ${type}`)
  }
  // not checked: other message types, malformed option 53, no option 53 (BOOTP)
  for (const opts of [[{ code: 53, data: [10] }], [{ code: 53, data: [1, 1] }], [{ code: 53, data: [] }], []]) {
    const p = buildPacket({ op: 2, xid: 1, chaddr: [1, 2, 3, 4, 5, 6] }, opts)
    t.doesNotThrow(() => decode(p.bytes), JSON.stringify(opts))
  }
})

function overloaded (value: number[], file: number[], sname: number[] = []): Uint8Array {
  const bytes = new Uint8Array(300)
  bytes.set([1, 1, 6, 0, 0, 0, 0, 9], 0)
  bytes.set(sname, 44)
  bytes.set(file, 108)
  bytes.set([99, 130, 83, 99, 53, 1, 1, 52, value.length, ...value, 255], 236)
  return bytes
}

t.test('option 52 overload errors', async t => {
  for (const value of [[0], [4], [1, 1], []]) {
    expectDecodeError(t, overloaded(value, [255]), { code: DhcpErrorCode.BadOverload, field: 'options.overload', offset: 240 }, `overload ${JSON.stringify(value)}`)
  }
  expectDecodeError(t, overloaded([1], [12, 1, 0x41]), { code: DhcpErrorCode.MissingEnd, field: 'file', offset: 236 }, 'file without End')
  expectDecodeError(t, overloaded([1], [12, 200, 0x41]), { code: DhcpErrorCode.OptionOverrun, field: 'file.host-name', offset: 108 }, 'file option overrun')
  expectDecodeError(t, overloaded([3], [255], [0, 15, 99]), { code: DhcpErrorCode.OptionOverrun, field: 'sname.domain-name', offset: 45 }, 'sname option overrun')
  expectDecodeError(t, overloaded([2], [], [15, 1, 0x41]), { code: DhcpErrorCode.MissingEnd, field: 'sname', offset: 108 }, 'sname without End')
  // a file-area error wins over a later sname-area error
  expectDecodeError(t, overloaded([3], [12, 1, 0x41], [15, 1, 0x41]), { code: DhcpErrorCode.MissingEnd, field: 'file', offset: 236 }, 'file checked before sname')
})

t.test('every error is a DecodeError with a stable RB_ code', async t => {
  for (const bytes of [new Uint8Array(0), new Uint8Array(1000), Uint8Array.of(1, 1, 6)]) {
    try {
      decode(bytes)
      t.fail('decoded')
    } catch (err) {
      t.ok(err instanceof DecodeError && /^RB_(WIRE|DHCP)_[A-Z0-9_]+$/.test(err.code), String(err))
    }
  }
})
