// A scripted TFTP client for tests that run inside a network namespace
// (`ip netns exec NS node tftp-client.mjs '<json>'`), built on @rackboot/tftp's codec.
// Plain JavaScript so node runs it without a TypeScript loader.
//
// Input (JSON, argv[2]):
//   host, port, file, options?: { name: value }, timeoutMs?: total budget (default 30000)
//   probeAbort?: answer the OACK with ERROR 8 and stop (OVMF's tsize probe)
//   ackTwice?: send every ACK twice (a Sorcerer's Apprentice trigger)
//   stallAfterBlock?, stallMs?: after that block, ignore everything for stallMs, then go on
//   retryMs?: resend the last ACK (or the RRQ) when nothing came for this long (default 1000)
//   strayAfterBlock?: then send an ACK to the server's TID from a second socket (a wrong TID)
// Output (JSON on stdout): { ok, bytes, sha256, dataPackets, duplicates, oack, error, ms, acksSent, stray }
//   stray: what the second socket got back ({ opcode, errorCode?, message? }), or null
import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { decode, encode, Opcode } from '../../packages/tftp/dist/index.js'

const o = JSON.parse(process.argv[2] ?? '{}')
const started = performance.now()
// A receive buffer that holds whole windows (the kernel caps it at net.core.rmem_max): with the
// default ~208 KiB, a 64 × 8 KiB window arriving while this process waits for the CPU overflowed
// it, and the dropped blocks came back as a resent window the test counted against the server.
const sock = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 })
await new Promise((resolve) => sock.bind(0, resolve))

const options = Object.entries(o.options ?? {}).map(([name, value]) => ({ name, value: String(value) }))
const result = { ok: false, bytes: 0, sha256: '', dataPackets: 0, duplicates: 0, oack: null, error: null, ms: 0, acksSent: 0, stray: null }
let straySock = null
let blksize = 512
let windowsize = 1
let tid = null
let expect = 1 // absolute number of the next block wanted
let sinceAck = 0
let lastAck = null
let stalledUntil = 0
let stalled = false
const chunks = []
const hash = createHash('sha256')

const rrq = encode({ opcode: Opcode.RRQ, filename: o.file, mode: 'octet', options })
const send = (buf, port = tid ?? o.port) => { sock.send(buf, port, o.host) }
const ack = (block) => {
  lastAck = encode({ opcode: Opcode.ACK, block: block & 0xffff })
  send(lastAck)
  result.acksSent++
  if (o.ackTwice) { send(lastAck); result.acksSent++ }
  sinceAck = 0
}

let finish
const done = new Promise((resolve) => { finish = resolve })
let idle = null
const retryMs = o.retryMs ?? 1000
const kick = () => {
  clearTimeout(idle)
  idle = setTimeout(() => {
    if (Date.now() < stalledUntil) { kick(); return }
    if (tid === null) send(rrq)
    else if (lastAck !== null) send(lastAck)
    kick()
  }, retryMs)
}
const budget = setTimeout(() => { result.error = { code: -1, message: 'client timeout' }; finish() }, o.timeoutMs ?? 30000)

sock.on('message', (msg, from) => {
  if (Date.now() < stalledUntil) return
  if (tid === null) tid = from.port
  if (from.port !== tid) return
  let p
  try { p = decode(msg) } catch { return }
  kick()
  if (p.opcode === Opcode.OACK) {
    result.oack = Object.fromEntries(p.options.map((x) => [x.name.toLowerCase(), x.value]))
    if (result.oack.blksize !== undefined) blksize = Number(result.oack.blksize)
    if (result.oack.windowsize !== undefined) windowsize = Number(result.oack.windowsize)
    if (o.probeAbort) {
      send(encode({ opcode: Opcode.ERROR, errorCode: 8, message: 'tsize probe' }))
      result.ok = true
      finish()
      return
    }
    if (expect === 1) ack(0)
    return
  }
  if (p.opcode === Opcode.ERROR) {
    result.error = { code: p.errorCode, message: p.message }
    finish()
    return
  }
  if (p.opcode !== Opcode.DATA) return
  result.dataPackets++
  if (p.block !== (expect & 0xffff)) {
    // A block already received (a duplicate) or past a gap: RFC 7440, ACK the last in-order block.
    if (((expect - 1) & 0xffff) === p.block || ((p.block - (expect & 0xffff)) & 0xffff) > 0x8000) result.duplicates++
    if (windowsize > 1 && sinceAck > 0) ack(expect - 1)
    return
  }
  hash.update(p.data)
  chunks.push(p.data.length)
  result.bytes += p.data.length
  expect++
  sinceAck++
  const last = p.data.length < blksize
  if (last || sinceAck >= windowsize) ack(expect - 1)
  if (last) { result.ok = true; finish(); return }
  if (o.strayAfterBlock !== undefined && straySock === null && expect - 1 >= o.strayAfterBlock) {
    straySock = createSocket('udp4')
    straySock.on('message', (m) => { try { const q = decode(m); result.stray = { opcode: q.opcode, errorCode: q.errorCode, message: q.message } } catch {} })
    straySock.bind(0, () => { straySock.send(encode({ opcode: Opcode.ACK, block: 1 }), tid, o.host) })
  }
  if (o.stallAfterBlock !== undefined && !stalled && expect - 1 >= o.stallAfterBlock) {
    stalled = true
    stalledUntil = Date.now() + (o.stallMs ?? 3000)
  }
})

send(rrq)
kick()
await done
clearTimeout(budget)
clearTimeout(idle)
result.sha256 = hash.digest('hex')
result.ms = Math.round(performance.now() - started)
// Linger briefly so late duplicates (a storm) are counted too.
if (o.lingerMs) {
  sock.removeAllListeners('message')
  sock.on('message', (msg) => { try { if (decode(msg).opcode === Opcode.DATA) { result.dataPackets++; result.duplicates++ } } catch {} })
  await new Promise((resolve) => setTimeout(resolve, o.lingerMs))
}
sock.close()
if (straySock !== null) { await new Promise((resolve) => setTimeout(resolve, 200)); straySock.close() }
process.stdout.write(JSON.stringify(result) + '\n')
