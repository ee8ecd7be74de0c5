// A scripted DHCP client fleet for storm tests, run inside a client network namespace:
//   node dhcp-storm.mjs IFACE CLIENTS ROUNDS OUTFILE [decline]
// Each of CLIENTS MACs (52:54:00:5x:..) does DISCOVER→OFFER→REQUEST→ACK, ROUNDS times, 16 at a
// time, retrying on silence (1 s, 6 tries), broadcasting from 0.0.0.0:68. Every ACK received is
// appended to OUTFILE as a JSON line { mac, ip, at }, so a test can check what clients were told.
// With `decline`, each client declines its offer instead (DHCPDECLINE, as when the address is
// found in use) and { mac, declined, at } is appended.
import dgram from 'node:dgram'
import { appendFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
const dhcp = await import(fileURLToPath(new URL('../../packages/dhcp/dist/index.js', import.meta.url)))
const wire = await import(fileURLToPath(new URL('../../packages/wire/dist/index.js', import.meta.url)))

const [iface, clientsArg, roundsArg, out, mode] = process.argv.slice(2)
const CLIENTS = Number(clientsArg)
const ROUNDS = Number(roundsArg)
const PARALLEL = 16

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
await new Promise(resolve => sock.bind(68, '0.0.0.0', resolve))
sock.setBroadcast(true)
const waiting = new Map()
sock.on('message', buf => {
  let p
  try { p = dhcp.decode(buf) } catch { return }
  const w = waiting.get(p.xid)
  if (w !== undefined && p.op === 2) { waiting.delete(p.xid); w(p) }
})

let xid = (process.pid * 7919) >>> 0
function exchange (build, accept) {
  return new Promise(resolve => {
    let tries = 0
    const id = (xid = (xid + 1) >>> 0)
    const send = () => {
      if (tries++ === 6) { waiting.delete(id); resolve(null); return }
      const p = build(id)
      waiting.set(id, r => { clearTimeout(timer); accept(r) ? resolve(r) : resolve(null) })
      sock.send(Buffer.from(dhcp.encode(p)), 67, '255.255.255.255')
      timer = setTimeout(send, 1000)
    }
    let timer
    send()
  })
}

function base (mac, id, type) {
  const p = dhcp.createPacket({ xid: id, chaddr: wire.macToBytes(mac), flags: 0x8000 })
  dhcp.messageType.set(p, type)
  return p
}

async function dora (mac) {
  const offer = await exchange(id => base(mac, id, dhcp.MessageType.Discover), r => dhcp.messageType(r) === dhcp.MessageType.Offer)
  if (offer === null) return
  const server = dhcp.serverIdentifier(offer)
  if (mode === 'decline') {
    const p = base(mac, (xid = (xid + 1) >>> 0), dhcp.MessageType.Decline)
    dhcp.serverIdentifier.set(p, server)
    dhcp.requestedIpAddress.set(p, offer.yiaddr)
    await new Promise(resolve => sock.send(Buffer.from(dhcp.encode(p)), 67, '255.255.255.255', resolve)) // sent before the socket closes
    appendFileSync(out, JSON.stringify({ mac, declined: offer.yiaddr, at: Date.now() }) + '\n')
    return
  }
  const ack = await exchange(id => {
    const p = base(mac, id, dhcp.MessageType.Request)
    dhcp.serverIdentifier.set(p, server)
    dhcp.requestedIpAddress.set(p, offer.yiaddr)
    return p
  }, r => true)
  if (ack !== null && dhcp.messageType(ack) === dhcp.MessageType.Ack) {
    appendFileSync(out, JSON.stringify({ mac, ip: ack.yiaddr, at: Date.now() }) + '\n')
  }
}

const macs = Array.from({ length: CLIENTS }, (_, i) => `52:54:00:5${(i >> 16) & 15}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)
const work = []
for (let r = 0; r < ROUNDS; r++) for (const m of macs) work.push(m)
async function worker () { for (let m = work.shift(); m !== undefined; m = work.shift()) await dora(m) }
await Promise.all(Array.from({ length: PARALLEL }, worker))
sock.close()
void iface
