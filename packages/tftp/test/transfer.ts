import t, { type Test } from 'tap'
import { Opcode, type RequestPacket, type TftpPacket } from '../src/packet.js'
import {
  bytesAcked, defaultTransferConfig, start, step,
  type Send, type StepResult, type TransferConfig, type TransferEvent, type TransferState
} from '../src/transfer.js'

// Sends are compared as short strings: 'OACK tsize=10', 'DATA 3 @1024+512', 'DATA 3 @1024+512 re', 'ERROR 2'.
function show (s: Send): string {
  if (s.kind === 'data') return `DATA ${s.block} @${s.offset}+${s.length}${s.retransmit ? ' re' : ''}`
  const p = s.packet
  if (p.opcode === Opcode.OACK) return `OACK ${p.options.map((o) => `${o.name}=${o.value}`).join(' ')}`
  if (p.opcode === Opcode.ERROR) return `ERROR ${p.errorCode}`
  return `opcode ${p.opcode}`
}

const rrq = (options = '', filename = 'f', mode = 'octet'): RequestPacket => ({
  opcode: Opcode.RRQ,
  filename,
  mode,
  options: options === '' ? [] : options.split(' ').map((kv) => { const [name = '', value = ''] = kv.split('='); return { name, value } })
})

// Events in the tables: [time, event] in a compact notation.
type Ev =
  | ['ack', number, number] // [kind, now, block]
  | ['error', number, number] // [kind, now, code]
  | ['timeout', number]
  | ['abort', number]
  | ['packet', number, TftpPacket]
  | ['open-failed', number, number]

function toEvent (e: Ev): TransferEvent {
  switch (e[0]) {
    case 'ack': return { type: 'packet', now: e[1], packet: { opcode: Opcode.ACK, block: e[2] } }
    case 'error': return { type: 'packet', now: e[1], packet: { opcode: Opcode.ERROR, errorCode: e[2], message: 'x' } }
    case 'timeout': return { type: 'timeout', now: e[1] }
    case 'abort': return { type: 'abort', now: e[1], message: 'Server shutting down' }
    case 'packet': return { type: 'packet', now: e[1], packet: e[2] }
    case 'open-failed': return { type: 'open-failed', now: e[1], tftpCode: e[2], message: 'File not found: f' }
  }
}

interface Expect { send?: string[], timer?: number | null, done?: string, error?: string }
interface Case {
  name: string
  request?: RequestPacket
  size?: number
  config?: Partial<TransferConfig>
  /** Expected result of opening the file at time 0. */
  opened: Expect
  steps?: Array<[Ev, Expect]>
}

function check (t: Tap, r: StepResult, e: Expect, label: string): void {
  t.same((r.send ?? []).map(show), e.send ?? [], `${label}: sends`)
  if (e.timer !== undefined) t.equal(r.timer ?? null, e.timer, `${label}: timer`)
  t.equal(r.done, e.done, `${label}: done`)
  t.equal(r.error?.code, e.error, `${label}: error code`)
}
type Tap = Test

function run (t: Tap, c: Case): TransferState {
  const config = { ...defaultTransferConfig, ...c.config }
  const first = start(c.request ?? rrq(), config, 0)
  t.equal(first.open, (c.request ?? rrq()).filename, 'start asks to open the file')
  let r = c.opened.error === 'RB_TFTP_OPEN_FAILED'
    ? step(first.state, toEvent(['open-failed', 0, 1]))
    : step(first.state, { type: 'opened', now: 0, size: c.size ?? 1000 })
  check(t, r, c.opened, 'opened')
  for (const [i, [ev, e]] of (c.steps ?? []).entries()) {
    r = step(r.state, toEvent(ev))
    check(t, r, e, `step ${i + 1} ${ev[0]} ${ev.length > 2 ? String(ev[2]) : ''}@${ev[1]}`)
  }
  return r.state
}

const cases: Case[] = [
  {
    name: 'no options: DATA 1 at once, lockstep to the short final block',
    size: 1030,
    opened: { send: ['DATA 1 @0+512'], timer: 1000 },
    steps: [
      [['ack', 10, 1], { send: ['DATA 2 @512+512'], timer: 1010 }],
      [['ack', 20, 2], { send: ['DATA 3 @1024+6'], timer: 1020 }],
      [['ack', 30, 3], { done: 'complete', timer: null }]
    ]
  },
  {
    name: 'size a multiple of blksize ends with a 0-byte block',
    size: 1024,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [
      [['ack', 1, 1], { send: ['DATA 2 @512+512'] }],
      [['ack', 2, 2], { send: ['DATA 3 @1024+0'] }],
      [['ack', 3, 3], { done: 'complete' }]
    ]
  },
  {
    name: 'empty file is one 0-byte block',
    size: 0,
    opened: { send: ['DATA 1 @0+0'] },
    steps: [[['ack', 1, 1], { done: 'complete' }]]
  },
  {
    name: 'OACK waits for ACK 0, then DATA 1 with the negotiated blksize',
    request: rrq('tsize=0 blksize=1024'),
    size: 2000,
    opened: { send: ['OACK tsize=2000 blksize=1024'], timer: 1000 },
    steps: [
      [['ack', 5, 1], { send: [], timer: 1000 }],
      [['ack', 6, 0], { send: ['DATA 1 @0+1024'], timer: 1006 }],
      [['ack', 7, 0], { send: [] }],
      [['ack', 8, 1], { send: ['DATA 2 @1024+976'] }],
      [['ack', 9, 2], { done: 'complete' }]
    ]
  },
  {
    name: 'option names are case-insensitive',
    request: rrq('BLKSIZE=1000 TSize=0 WindowSize=2'),
    size: 2500,
    opened: { send: ['OACK BLKSIZE=1000 TSize=2500 WindowSize=2'] },
    steps: [
      [['ack', 1, 0], { send: ['DATA 1 @0+1000', 'DATA 2 @1000+1000'] }],
      [['ack', 2, 2], { send: ['DATA 3 @2000+500'] }],
      [['ack', 3, 3], { done: 'complete' }]
    ]
  },
  {
    name: 'only unknown options: no OACK, plain RFC 1350 transfer',
    request: rrq('multicast= x=y'),
    size: 10,
    opened: { send: ['DATA 1 @0+10'] },
    steps: [[['ack', 1, 1], { done: 'complete' }]]
  },
  {
    name: 'invalid values only: no OACK',
    request: rrq('blksize=2 windowsize=0 timeout=300'),
    size: 10,
    opened: { send: ['DATA 1 @0+10'] }
  },
  {
    name: 'blksize and windowsize clamped to the configuration',
    request: rrq('blksize=65464 windowsize=1000'),
    config: { maxBlksize: 1468, maxWindowsize: 4 },
    size: 1468 * 10,
    opened: { send: ['OACK blksize=1468 windowsize=4'] },
    steps: [[['ack', 1, 0], { send: ['DATA 1 @0+1468', 'DATA 2 @1468+1468', 'DATA 3 @2936+1468', 'DATA 4 @4404+1468'] }]]
  },
  {
    name: 'duplicate ACKs never re-burst (Sorcerer\'s Apprentice)',
    size: 2000,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [
      [['ack', 1, 1], { send: ['DATA 2 @512+512'], timer: 1001 }],
      [['ack', 2, 1], { send: [], timer: 1001 }],
      [['ack', 3, 1], { send: [], timer: 1001 }],
      [['ack', 4, 2], { send: ['DATA 3 @1024+512'] }],
      [['ack', 5, 2], { send: [] }],
      [['ack', 6, 9], { send: [] }] // never sent: stale
    ]
  },
  {
    name: 'windowed: an ACK inside the window resends from n+1, once per ACK value',
    request: rrq('windowsize=4'),
    size: 512 * 12,
    opened: { send: ['OACK windowsize=4'] },
    steps: [
      [['ack', 1, 0], { send: ['DATA 1 @0+512', 'DATA 2 @512+512', 'DATA 3 @1024+512', 'DATA 4 @1536+512'] }],
      [['ack', 2, 2], { send: ['DATA 3 @1024+512', 'DATA 4 @1536+512', 'DATA 5 @2048+512', 'DATA 6 @2560+512'] }],
      [['ack', 3, 2], { send: [] }],
      [['ack', 4, 1], { send: [] }],
      [['ack', 5, 6], { send: ['DATA 7 @3072+512', 'DATA 8 @3584+512', 'DATA 9 @4096+512', 'DATA 10 @4608+512'] }],
      [['ack', 6, 10], { send: ['DATA 11 @5120+512', 'DATA 12 @5632+512', 'DATA 13 @6144+0'] }],
      [['ack', 7, 13], { done: 'complete' }]
    ]
  },
  {
    name: 'timeout: retransmit with exponential backoff, capped, then give up at the deadline',
    size: 2000,
    config: { retransmitMs: 1000, maxRetransmitMs: 4000, deadlineMs: 12000 },
    opened: { send: ['DATA 1 @0+512'], timer: 1000 },
    steps: [
      [['timeout', 999], { send: [], timer: 1000 }], // early: ignored
      [['timeout', 1000], { send: ['DATA 1 @0+512 re'], timer: 3000 }],
      [['ack', 1500, 0], { send: [], timer: 3000 }], // stale ACK: nothing
      [['timeout', 3000], { send: ['DATA 1 @0+512 re'], timer: 7000 }],
      [['timeout', 7000], { send: ['DATA 1 @0+512 re'], timer: 11000 }], // capped at 4000
      [['timeout', 11000], { send: ['DATA 1 @0+512 re'], timer: 12000 }], // clipped to the deadline
      [['timeout', 12000], { send: ['ERROR 0'], done: 'timeout', error: 'RB_TFTP_TIMEOUT', timer: null }]
    ]
  },
  {
    name: 'progress resets backoff and deadline',
    size: 2000,
    config: { retransmitMs: 1000, maxRetransmitMs: 8000, deadlineMs: 5000 },
    opened: { send: ['DATA 1 @0+512'], timer: 1000 },
    steps: [
      [['timeout', 1000], { send: ['DATA 1 @0+512 re'], timer: 3000 }],
      [['timeout', 3000], { send: ['DATA 1 @0+512 re'], timer: 5000 }],
      [['ack', 4000, 1], { send: ['DATA 2 @512+512'], timer: 5000 }],
      [['timeout', 5000], { send: ['DATA 2 @512+512 re'], timer: 7000 }],
      [['timeout', 7000], { send: ['DATA 2 @512+512 re'], timer: 9000 }],
      [['timeout', 9000], { send: ['ERROR 0'], done: 'timeout', error: 'RB_TFTP_TIMEOUT' }]
    ]
  },
  {
    name: 'windowed timeout resends the whole unacknowledged window',
    request: rrq('windowsize=3'),
    size: 512 * 5,
    opened: { send: ['OACK windowsize=3'], timer: 1000 },
    steps: [
      [['timeout', 1000], { send: ['OACK windowsize=3'], timer: 3000 }],
      [['ack', 1100, 0], { send: ['DATA 1 @0+512', 'DATA 2 @512+512', 'DATA 3 @1024+512'], timer: 2100 }],
      [['ack', 1200, 1], { send: ['DATA 2 @512+512', 'DATA 3 @1024+512', 'DATA 4 @1536+512'], timer: 2200 }],
      [['timeout', 2200], { send: ['DATA 2 @512+512 re', 'DATA 3 @1024+512 re', 'DATA 4 @1536+512 re'], timer: 4200 }]
    ]
  },
  {
    name: 'negotiated timeout sets the retransmission interval',
    request: rrq('timeout=5'),
    size: 10,
    opened: { send: ['OACK timeout=5'], timer: 5000 },
    steps: [
      [['ack', 100, 0], { send: ['DATA 1 @0+10'], timer: 5100 }],
      [['timeout', 5100], { send: ['DATA 1 @0+10 re'], timer: 13100 }] // doubles, cap raised to at least the negotiated value
    ]
  },
  {
    name: 'a long negotiated timeout still gets a retransmission before the deadline',
    request: rrq('timeout=20'),
    size: 10,
    config: { deadlineMs: 30000 },
    opened: { send: ['OACK timeout=20'], timer: 20000 },
    steps: [
      [['timeout', 20000], { send: ['OACK timeout=20'], timer: 40000 }],
      [['timeout', 40000], { send: ['ERROR 0'], done: 'timeout', error: 'RB_TFTP_TIMEOUT' }]
    ]
  },
  {
    name: 'OVMF probe: ERROR 8 after the OACK ends quietly',
    request: rrq('tsize=0'),
    size: 5000,
    opened: { send: ['OACK tsize=5000'] },
    steps: [[['error', 10, 8], { send: [], done: 'options-refused', error: undefined, timer: null }]]
  },
  {
    name: 'ERROR 8 during data is a client error',
    size: 5000,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [[['error', 10, 8], { send: [], done: 'client-error', error: 'RB_TFTP_CLIENT_ERROR' }]]
  },
  {
    name: 'client ERROR ends the transfer without a reply',
    size: 5000,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [[['error', 10, 0], { send: [], done: 'client-error', error: 'RB_TFTP_CLIENT_ERROR' }]]
  },
  {
    name: 'DATA from the client is an illegal operation',
    size: 5000,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [[['packet', 10, { opcode: Opcode.DATA, block: 1, data: Buffer.alloc(1) }], { send: ['ERROR 4'], done: 'protocol-error', error: 'RB_TFTP_ILLEGAL_PACKET' }]]
  },
  {
    name: 'abort sends ERROR 0',
    size: 5000,
    opened: { send: ['DATA 1 @0+512'] },
    steps: [
      [['abort', 10], { send: ['ERROR 0'], done: 'aborted', error: 'RB_TFTP_ABORTED' }],
      [['ack', 11, 1], { send: [], done: undefined }] // events after the end are ignored
    ]
  },
  {
    name: 'open failure is sent with its TFTP code',
    opened: { send: ['ERROR 1'], done: 'rejected', error: 'RB_TFTP_OPEN_FAILED' }
  }
]

for (const c of cases) t.test(c.name, async (t) => { run(t, c) })

t.test('requests refused by start', async (t) => {
  const table: Array<[string, RequestPacket, string, string]> = [
    ['WRQ is refused with access violation', { ...rrq(), opcode: Opcode.WRQ }, 'ERROR 2', 'RB_TFTP_WRITE_REFUSED'],
    ['netascii is refused', rrq('', 'f', 'netascii'), 'ERROR 4', 'RB_TFTP_BAD_MODE'],
    ['mail is refused', rrq('', 'f', 'mail'), 'ERROR 4', 'RB_TFTP_BAD_MODE']
  ]
  for (const [name, req, send, code] of table) {
    const r = start(req, defaultTransferConfig, 0)
    t.same((r.send ?? []).map(show), [send], `${name}: sends`)
    t.equal(r.done, 'rejected', `${name}: rejected`)
    t.equal(r.error?.code, code, `${name}: error code`)
    t.equal(r.open, undefined, `${name}: nothing to open`)
  }
  t.equal(start(rrq('', 'f', 'OcTeT'), defaultTransferConfig, 0).open, 'f', 'mode is case-insensitive')
})

t.test('packets and timeouts before the file is open are ignored', async (t) => {
  const { state } = start(rrq(), defaultTransferConfig, 0)
  t.same(step(state, toEvent(['ack', 1, 0])), { state })
  t.same(step(state, toEvent(['timeout', 5000])), { state })
})

t.test('opened/open-failed after the start are ignored', async (t) => {
  const { state } = start(rrq(), defaultTransferConfig, 0)
  const r = step(state, { type: 'opened', now: 0, size: 10 })
  t.same(step(r.state, { type: 'opened', now: 1, size: 10 }).send, undefined)
  t.same(step(r.state, toEvent(['open-failed', 1, 1])).send, undefined)
})

function blockRun (t: Tap, windowsize: number): void {
  // 65536 + 10 blocks of 512 bytes: block numbers must go 65535, 0, 1, ...
  const blocks = 65536 + 10
  const size = (blocks - 1) * 512 + 100
  const config = { ...defaultTransferConfig, maxWindowsize: 64 }
  let r = step(start(rrq(windowsize > 1 ? `windowsize=${windowsize}` : ''), config, 0).state, { type: 'opened', now: 0, size })
  let expected = windowsize > 1 ? 0 : 1 // absolute number of the next block we expect to see sent
  let clock = 0
  let lastWire = -1
  let sent = 0
  if (windowsize > 1) r = step(r.state, toEvent(['ack', ++clock, 0]))
  expected = 1
  while (r.done === undefined) {
    const data = (r.send ?? []).filter((s): s is Extract<Send, { kind: 'data' }> => s.kind === 'data')
    for (const d of data) {
      if (d.block !== (expected & 0xffff) || d.offset !== (expected - 1) * 512) {
        t.fail(`block ${expected}: got wire ${d.block} at ${d.offset}`)
        return
      }
      lastWire = d.block
      expected++
      sent++
    }
    r = step(r.state, toEvent(['ack', ++clock, lastWire]))
    if (clock > blocks + 10) { t.fail('did not finish'); return }
  }
  t.equal(r.done, 'complete', 'completes')
  t.equal(sent, blocks, 'every block sent exactly once')
  t.equal(bytesAcked(r.state), size, 'all bytes acknowledged')
  t.equal(r.state.lastBlock, blocks)
}

t.test('block numbers roll over to 0 after 65535 (lockstep)', async (t) => { blockRun(t, 1) })
t.test('block numbers roll over to 0 after 65535 (windowed)', async (t) => { blockRun(t, 7) })

t.test('windowed resend across the rollover', async (t) => {
  const size = 512 * 70000
  const config = { ...defaultTransferConfig, maxWindowsize: 8 }
  let r = step(start(rrq('windowsize=4'), config, 0).state, { type: 'opened', now: 0, size })
  // Jump the state to just before the rollover.
  r = { state: { ...r.state, phase: 'data', acked: 65533, sent: 65533 } }
  r = step(r.state, toEvent(['ack', 1, 65533]))
  t.same(r.send, undefined, 'ACK of the acknowledged block is a duplicate')
  r = { state: { ...r.state, acked: 65532, sent: 65533 } }
  r = step(r.state, toEvent(['ack', 1, 65533]))
  t.same((r.send ?? []).map(show), [`DATA 65534 @${65533 * 512}+512`, `DATA 65535 @${65534 * 512}+512`, `DATA 0 @${65535 * 512}+512`, `DATA 1 @${65536 * 512}+512`])
  r = step(r.state, toEvent(['ack', 2, 0])) // absolute 65536: inside the window
  t.same((r.send ?? []).map(show), [`DATA 1 @${65536 * 512}+512`, `DATA 2 @${65537 * 512}+512`, `DATA 3 @${65538 * 512}+512`, `DATA 4 @${65539 * 512}+512`])
  r = step(r.state, toEvent(['ack', 3, 65535])) // before the window now: stale
  t.same(r.send, undefined)
  t.equal(r.state.acked, 65536)
})

t.test('advanced: progress made below the state machine (a native fast path) is taken as its own', async (t) => {
  // 10 blocks of 512 (5000 bytes), windowsize 2: JS sent 1-2, then the I/O layer answered ACK 2
  // with 3-4 and ACK 4 with 5-6 and says so.
  const config = { ...defaultTransferConfig }
  const first = start(rrq('windowsize=2'), config, 0)
  let r = step(first.state, { type: 'opened', now: 0, size: 5000 })
  r = step(r.state, { type: 'packet', now: 1, packet: { opcode: Opcode.ACK, block: 0 } })
  t.same((r.send ?? []).map(show), ['DATA 1 @0+512', 'DATA 2 @512+512'])
  const adv = step(r.state, { type: 'advanced', now: 50, acked: 4, sent: 6 })
  t.same(adv.send ?? [], [], 'nothing sent: the I/O layer sent it')
  t.match(adv.state, { acked: 4, sent: 6, progressAt: 50, timerAt: 50 + config.retransmitMs })
  t.equal(adv.timer, 50 + config.retransmitMs, 'the deadline moves with the progress')
  // Then a loss comes back to JS: ACK 5 (block 6 lost) resends from 6.
  const loss = step(adv.state, { type: 'packet', now: 60, packet: { opcode: Opcode.ACK, block: 5 } })
  t.same((loss.send ?? []).map(show), ['DATA 6 @2560+512', 'DATA 7 @3072+512'])
  // A timeout after the progress resends the window the I/O layer sent, not JS's old one.
  const to = step(adv.state, { type: 'timeout', now: 50 + config.retransmitMs })
  t.same((to.send ?? []).map(show), ['DATA 5 @2048+512 re', 'DATA 6 @2560+512 re'])
  // Stale or impossible reports change nothing.
  for (const [acked, sent] of [[1, 6], [4, 1], [5, 4], [4, 11]] as Array<[number, number]>) {
    const s = step(adv.state, { type: 'advanced', now: 70, acked, sent })
    t.equal(s.state.acked, 4, `advanced ${acked}/${sent} ignored`)
    t.equal(s.state.sent, 6)
  }
  const before = step(first.state, { type: 'advanced', now: 1, acked: 1, sent: 2 })
  t.equal(before.state.phase, 'opening', 'not before the data phase')
})
