// Reads UDP payloads out of a classic pcap file (tcpdump -w), Ethernet or Linux cooked captures.
import { readFileSync } from 'node:fs'

export interface UdpPacket { src: string; dst: string; sport: number; dport: number; payload: Buffer }

export function readPcapUdp (file: string): UdpPacket[] {
  const b = readFileSync(file)
  if (b.length < 24) return []
  const magic = b.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const u32 = (o: number) => le ? b.readUInt32LE(o) : b.readUInt32BE(o)
  const linktype = u32(20)
  const l2 = linktype === 1 ? 14 : linktype === 113 ? 16 : 0
  const out: UdpPacket[] = []
  for (let off = 24; off + 16 <= b.length;) {
    const incl = u32(off + 8)
    const pkt = b.subarray(off + 16, off + 16 + incl)
    off += 16 + incl
    const ip = pkt.subarray(l2)
    if (ip.length < 20 || ip[0] === undefined || ip[0] >> 4 !== 4 || ip[9] !== 17) continue
    const ihl = (ip[0] & 15) * 4
    const udp = ip.subarray(ihl)
    if (udp.length < 8) continue
    const ipStr = (o: number) => `${ip[o]}.${ip[o + 1]}.${ip[o + 2]}.${ip[o + 3]}`
    out.push({ src: ipStr(12), dst: ipStr(16), sport: udp.readUInt16BE(0), dport: udp.readUInt16BE(2), payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) })
  }
  return out
}
