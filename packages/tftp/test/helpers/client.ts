// A scriptable TFTP client over node:dgram for server tests. Loopback only.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { decode, encode, getOption, Opcode, type TftpPacket } from '../../src/packet.js'

export const LOOPBACK = '127.0.0.1'

export interface Received { packet: TftpPacket, from: RemoteInfo }

export class TestClient {
  private readonly queue: Received[] = []
  private waiter: (() => void) | undefined
  private constructor (readonly socket: Socket) {
    socket.on('message', (msg, from) => {
      let packet: TftpPacket
      try { packet = decode(msg) } catch { return }
      this.queue.push({ packet, from })
      this.waiter?.()
    })
  }

  static async open (): Promise<TestClient> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind({ address: LOOPBACK, port: 0 }, resolve))
    return new TestClient(socket)
  }

  get port (): number { return this.socket.address().port }

  send (packet: TftpPacket, port: number): void {
    this.socket.send(encode(packet), port, LOOPBACK)
  }

  /** The next packet, or undefined after `timeoutMs`. */
  async next (timeoutMs: number): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs
    while (this.queue.length === 0) {
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.waiter = undefined; resolve() }, left)
        this.waiter = () => { clearTimeout(timer); this.waiter = undefined; resolve() }
      })
    }
    return this.queue.shift()
  }

  /** Drop everything received so far; returns it. */
  drain (): Received[] {
    return this.queue.splice(0)
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}

export interface DownloadOptions {
  options?: Record<string, string>
  /** ACK every DATA twice (a Sorcerer's Apprentice trigger). */
  ackTwice?: boolean
  /** Before ACKing this absolute block, go quiet for `ms` (no reading, no sending). */
  stall?: { block: number, ms: number }
  /** Ignore the first reception of these absolute blocks (simulated loss). */
  lose?: number[]
  /** Client retransmission timeout (re-sends its last ACK). Default 2000 ms. */
  timeoutMs?: number
  /** Called with the server TID once known. */
  onTid?: (port: number) => void | Promise<void>
}

export interface DownloadResult {
  data: Buffer
  dataPackets: number
  oack: Record<string, string> | undefined
  error: { errorCode: number, message: string } | undefined
  tid: number | undefined
}

/** Download `file` from the server on `port`; resolves when done or on an ERROR. */
export async function download (client: TestClient, port: number, file: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const options = Object.entries(opts.options ?? {}).map(([name, value]) => ({ name, value }))
  client.send({ opcode: Opcode.RRQ, filename: file, mode: 'octet', options }, port)
  const timeoutMs = opts.timeoutMs ?? 2000
  const chunks: Buffer[] = []
  const lose = new Set(opts.lose ?? [])
  let blksize = 512
  let windowsize = 1
  let expected = 1 // absolute
  let inWindow = 0
  let dataPackets = 0
  let tid: number | undefined
  let oack: Record<string, string> | undefined
  let lastAck: number | undefined
  let quietRounds = 0
  const ack = (abs: number): void => {
    lastAck = abs & 0xffff
    client.send({ opcode: Opcode.ACK, block: lastAck }, tid!)
    if (opts.ackTwice === true) client.send({ opcode: Opcode.ACK, block: lastAck }, tid!)
  }
  for (;;) {
    const r = await client.next(timeoutMs)
    if (r === undefined) {
      if (++quietRounds > 5) throw new Error(`no answer for ${file} after ${5 * timeoutMs} ms`)
      if (lastAck !== undefined && tid !== undefined) client.send({ opcode: Opcode.ACK, block: lastAck }, tid)
      else client.send({ opcode: Opcode.RRQ, filename: file, mode: 'octet', options }, port)
      continue
    }
    quietRounds = 0
    const { packet, from } = r
    if (tid === undefined) {
      tid = from.port
      await opts.onTid?.(tid)
    } else if (from.port !== tid) {
      continue
    }
    if (packet.opcode === Opcode.ERROR) {
      return { data: Buffer.concat(chunks), dataPackets, oack, error: { errorCode: packet.errorCode, message: packet.message }, tid }
    }
    if (packet.opcode === Opcode.OACK) {
      if (oack !== undefined) continue
      oack = Object.fromEntries(packet.options.map((o) => [o.name.toLowerCase(), o.value]))
      blksize = Number(getOption(packet.options, 'blksize') ?? 512)
      windowsize = Number(getOption(packet.options, 'windowsize') ?? 1)
      ack(0)
      continue
    }
    if (packet.opcode !== Opcode.DATA) throw new Error(`unexpected opcode ${packet.opcode}`)
    dataPackets++
    if (packet.block !== (expected & 0xffff) || lose.delete(expected)) {
      // Out of order, duplicate or "lost": ACK the last block received in order (RFC 7440).
      if (packet.block !== ((expected - 1) & 0xffff) || windowsize === 1) ack(expected - 1)
      inWindow = 0
      continue
    }
    chunks.push(Buffer.from(packet.data))
    const final = packet.data.length < blksize
    inWindow++
    if (opts.stall !== undefined && opts.stall.block === expected) {
      const ms = opts.stall.ms
      opts.stall = undefined
      await new Promise((resolve) => setTimeout(resolve, ms))
    }
    if (final || inWindow >= windowsize) {
      ack(expected)
      inWindow = 0
    }
    expected++
    if (final) return { data: Buffer.concat(chunks), dataPackets, oack, error: undefined, tid }
  }
}
